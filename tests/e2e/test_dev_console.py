"""A real `peerchain dev` prints Hardhat's console.log lines of eth_call, eth_estimateGas,
debug_traceCall and eth_simulateV1, which run in its query worker processes, as it does
those of mined transactions: each request's lines once, also when the call reverts."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import vyper
from web3 import Web3
from web3.types import RPCEndpoint

from peerchain.testing.processes import free_port

from .conftest import DevProcess

SOURCE = (Path(__file__).resolve().parents[1] / "contracts" / "Console.vy").read_text()
# How long the log copied from the node may lag behind its answers (a bound, not a wait).
LOG_LAG = 30.0


def _printed(node: DevProcess, amount: int) -> int:
    """How many times the log shows the line of greet(amount)."""
    return len(re.findall(rf"sent {amount} wei to 0x[0-9a-fA-F]{{40}}\b", node.process.output()))


def _wait_printed(node: DevProcess, amount: int) -> int:
    """The count of greet(amount)'s line once the log shows it (polled, bounded)."""
    deadline = time.monotonic() + LOG_LAG
    while time.monotonic() < deadline:
        count = _printed(node, amount)
        if count:
            return count
        threading.Event().wait(0.05)  # the next poll of the log file
    raise AssertionError(f"greet({amount}) was never printed:\n{node.process.output()}")


def test_calls_estimates_traces_and_simulations_print_console_lines(tmp_path: Path) -> None:
    node = DevProcess(tmp_path / "data", free_port(), tmp_path / "node.log", None)  # type: ignore[arg-type]
    node.start("--rpc-workers", "2")
    try:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        sender = w3.eth.accounts[0]
        out = vyper.compile_code(SOURCE, output_formats=["bytecode", "abi"])
        factory = w3.eth.contract(abi=out["abi"], bytecode=out["bytecode"])
        receipt = w3.eth.wait_for_transaction_receipt(
            factory.constructor().transact({"from": sender}), timeout=30
        )
        contract = w3.eth.contract(address=receipt["contractAddress"], abi=out["abi"])

        def request(method: str, *params: Any) -> dict[str, Any]:
            return dict(w3.provider.make_request(RPCEndpoint(method), list(params)))

        def call(function: str, amount: int) -> dict[str, Any]:
            data = contract.encode_abi(function, [amount])
            return {"from": sender, "to": contract.address, "data": data}

        assert request("eth_call", call("greet", 5), "latest")["result"] == "0x"
        estimate = request("eth_estimateGas", call("greet", 6))
        assert int(estimate["result"], 16) > 21_000
        trace = request("debug_traceCall", call("greet", 7), "latest", {"tracer": "callTracer"})
        assert trace["result"]["calls"][0]["to"] == "0x000000000000000000636f6e736f6c652e6c6f67"
        reverted = request("eth_call", call("greet_and_fail", 8), "latest")
        assert reverted["error"]["code"] == 3 and "refused" in reverted["error"]["message"]
        # eth_simulateV1 runs in a worker too: its lines come back, and so do its errors
        blocks = [{"calls": [call("greet", 10)]}, {"calls": [call("greet", 11)]}]
        simulated = request("eth_simulateV1", {"blockStateCalls": blocks}, "latest")["result"]
        assert [b["calls"][0]["status"] for b in simulated] == ["0x1", "0x1"]
        poor = {"from": "0x" + "dd" * 20, "to": sender, "value": "0x1"}
        refused = request("eth_simulateV1", {"blockStateCalls": [{"calls": [poor]}]})
        assert refused["error"]["code"] == -38014
        # mined with no gas given: the node's own estimate prints nothing, the block does
        tx_hash = request("eth_sendTransaction", call("greet", 9))["result"]
        assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 1
        # The log is written in order: once the last line is there, all the others are.
        assert _wait_printed(node, 9) == 1
        assert [_printed(node, amount) for amount in (5, 6, 7, 8, 10, 11)] == [1] * 6
        line = re.search(r"sent 5 wei to (0x[0-9a-fA-F]{40})", node.process.output())
        assert line is not None and line.group(1).lower() == sender.lower()
    finally:
        node.process.stop()
