"""A real `peerchain dev`: an endless eth_call with 2^64-1 gas ends with an error, the node
answers cheap calls meanwhile, and SIGTERM stops it while such a call runs."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.types import RPCEndpoint

from peerchain.testing.processes import NodeProcess, free_port
from peerchain.testing.queries import ENDLESS_LOOP

from .conftest import DevProcess

ENDLESS_CALL = {"data": "0x" + ENDLESS_LOOP.hex(), "gas": hex(2**64 - 1)}


def start_dev(tmp_path: Path, *extra: str) -> DevProcess:
    node = DevProcess(tmp_path / "data", free_port(), tmp_path / "node.log", None)  # type: ignore[arg-type]
    node.start("--rpc-workers", "1", "--rpc-evm-timeout", "2", *extra)
    return node


def request(node: DevProcess, method: str, *params: Any) -> dict[str, Any]:
    provider = Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60})
    return dict(provider.make_request(RPCEndpoint(method), list(params)))


def test_endless_call_is_aborted_while_cheap_calls_are_answered(tmp_path: Path) -> None:
    node = start_dev(tmp_path)
    try:
        answers: list[dict[str, Any]] = []
        caller = threading.Thread(
            target=lambda: answers.append(request(node, "eth_call", ENDLESS_CALL, "latest"))
        )
        caller.start()
        cheap = 0
        while caller.is_alive() and cheap < 10_000:
            assert request(node, "eth_blockNumber")["result"] == "0x0"
            assert request(node, "eth_chainId")["result"] == "0x539"
            cheap += 1
        caller.join(60)
        assert answers[0]["error"] == {
            "code": -32000,
            "message": "execution aborted (timeout = 2s)",
        }
        assert cheap > 0  # answered while the endless call ran
        estimate = request(node, "eth_estimateGas", ENDLESS_CALL)
        assert estimate["error"]["message"] == "execution aborted (timeout = 2s)"
    finally:
        node.process.stop()


def test_sigterm_stops_the_node_during_an_endless_call(tmp_path: Path) -> None:
    node = start_dev(tmp_path, "--rpc-evm-timeout", "600")
    answers: list[object] = []

    def call() -> None:
        try:
            answers.append(request(node, "eth_call", ENDLESS_CALL, "latest"))
        except OSError as exc:  # the node went away
            answers.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    process: NodeProcess = node.process
    caller.join(0.5)  # a moment for the request to reach the node (a span, not a wait)
    assert caller.is_alive()
    status = process.stop(timeout=30)  # SIGTERM; SIGKILL (status -9) if it is ignored
    assert status == 0, process.output()
    caller.join(30)
    assert answers, "the call never ended"
    assert "stopped" in process.output()
