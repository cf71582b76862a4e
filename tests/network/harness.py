"""A devnet of real `peerchain node` processes, driven and observed over JSON-RPC.

`Devnet` starts the nodes written by `create_devnet` (each optionally inside a network
namespace), kills and restarts them, and waits for conditions by polling JSON-RPC until
a deadline. Every live devnet is listed in `LIVE` so that a failing test can show the
tail of each node's log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from eth_account import Account
from hexbytes import HexBytes
from web3 import Web3
from web3.types import RPCEndpoint

from peerchain.cli.devnet import DEVNET_TIMEOUTS, DevnetNode, create_devnet
from peerchain.testing.processes import NodeProcess, free_ports, wait_for_heavy_queries

T = TypeVar("T")
LIVE: list[Devnet] = []
POLL = 0.2  # seconds between two polls of a condition
# Dev account 0 of the well-known development mnemonic (prefunded in the devnet genesis).
DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
# One propose timeout of the devnet, in seconds.
PROPOSE_TIMEOUT = DEVNET_TIMEOUTS.propose_ms / 1000


class RpcFailed(Exception):
    """A node did not answer (down, starting) or answered with a JSON-RPC error."""


def wait_until(
    condition: Callable[[], T | None],
    timeout: float,
    what: str,
    state: Callable[[], object] | None = None,
) -> T:
    """Poll `condition` until it returns something truthy (returned). After `timeout`
    seconds raise AssertionError naming `what` and showing `state()`. RpcFailed raised by
    the condition counts as not yet."""
    deadline = time.monotonic() + timeout
    last_error: RpcFailed | None = None
    while True:
        try:
            value = condition()
        except RpcFailed as exc:
            value, last_error = None, exc
        if value:
            return value
        if time.monotonic() > deadline:
            shown = _safely(state) if state is not None else last_error
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}: {shown}")
        time.sleep(POLL)


def _safely(state: Callable[[], object]) -> object:
    try:
        return state()
    except RpcFailed as exc:
        return exc


@dataclass
class Devnet:
    """The nodes of one devnet directory and the processes running them."""

    directory: Path
    nodes: list[DevnetNode]
    prefixes: Sequence[Sequence[str]] = ()
    processes: dict[int, NodeProcess] = field(default_factory=dict)
    _web3: dict[int, Web3] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        directory: Path,
        validators: int,
        *,
        observers: int = 0,
        hosts: Sequence[str] = (),
        prefixes: Sequence[Sequence[str]] = (),
    ) -> Devnet:
        """Write the devnet's files on free loopback ports (or on `hosts`)."""
        count = validators + observers
        base = 26656 if hosts else free_ports(2 * count)
        nodes = create_devnet(
            directory,
            validators,
            p2p_port=base,
            rpc_port=base + count,
            observers=observers,
            hosts=hosts,
        )
        devnet = cls(directory, nodes, prefixes)
        LIVE.append(devnet)
        return devnet

    # --- processes --------------------------------------------------------------------------
    def start(self, *indexes: int, timeout: float = 120.0) -> None:
        """Start the given nodes (all validators if none given) and wait until each serves
        JSON-RPC (heavy queries may wait longer: `wait_for_heavy_queries`)."""
        chosen = indexes or tuple(range(len(self.nodes)))
        for index in chosen:
            node = self.nodes[index]
            prefix = self.prefixes[index] if self.prefixes else ()
            self.processes[index] = NodeProcess(
                ["node", "--config", str(node.config)],
                node.directory / "node.log",
                ready_marker="JSON-RPC:",
                prefix=prefix,
            ).launch()
        for index in chosen:
            self.processes[index].wait_ready(timeout)

    def wait_for_heavy_queries(self, indexes: Sequence[int]) -> None:
        """Wait until each node of `indexes` answers eth_call (its query workers start at
        a lower CPU priority after JSON-RPC, minutes later on a busy machine)."""
        for index in indexes:
            wait_for_heavy_queries(self.nodes[index].rpc_url)

    def kill(self, index: int) -> None:
        """SIGKILL one node, as in a crash."""
        self.processes[index].kill()

    def close(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after a grace period)."""
        running = [p for p in self.processes.values() if p.running]
        for process in running:
            assert process.proc is not None
            process.proc.terminate()
        for process in running:
            process.stop(timeout=10)
        if self in LIVE:
            LIVE.remove(self)

    def running(self) -> list[int]:
        return [i for i, p in self.processes.items() if p.running]

    # --- JSON-RPC ---------------------------------------------------------------------------
    def web3(self, index: int) -> Web3:
        if index not in self._web3:
            provider = Web3.HTTPProvider(self.nodes[index].rpc_url, request_kwargs={"timeout": 10})
            self._web3[index] = Web3(provider)
        return self._web3[index]

    def rpc(self, index: int, method: str, *params: Any) -> Any:
        """One JSON-RPC call through web3's provider; RpcFailed if down or refused."""
        try:
            answer = self.web3(index).provider.make_request(RPCEndpoint(method), list(params))
        except (OSError, ValueError) as exc:  # requests' errors are OSErrors
            raise RpcFailed(f"node{index}: {exc}") from exc
        if "error" in answer:
            raise RpcFailed(f"node{index} {method}: {answer['error']}")
        return answer["result"]

    def height(self, index: int) -> int:
        return int(self.rpc(index, "eth_blockNumber"), 16)

    def heights(self, indexes: Sequence[int]) -> list[int]:
        return [self.height(i) for i in indexes]

    def block(self, index: int, number: int) -> dict[str, Any] | None:
        block = self.rpc(index, "eth_getBlockByNumber", hex(number), False)
        return None if block is None else dict(block)

    def wait_for_rpc(self, indexes: Sequence[int], timeout: float) -> None:
        """Wait until every node of `indexes` answers JSON-RPC (nodes started by others,
        such as the devnet supervisor)."""
        wait_until(
            lambda: self.heights(indexes), timeout, f"nodes {list(indexes)} to answer JSON-RPC"
        )

    def wait_for_height(self, indexes: Sequence[int], height: int, timeout: float) -> None:
        """Wait until every node of `indexes` has committed `height`."""
        wait_until(
            lambda: min(self.heights(indexes)) >= height,
            timeout,
            f"nodes {list(indexes)} to reach height {height}",
            state=lambda: self.heights(indexes),
        )

    def peer_count(self, index: int) -> int:
        return int(self.rpc(index, "net_peerCount"), 16)

    def wait_for_peer_count(self, index: int, count: int, timeout: float) -> None:
        wait_until(
            lambda: self.peer_count(index) == count,
            timeout,
            f"node{index} to have {count} peers",
            state=lambda: self.peer_count(index),
        )

    def consensus_states(self, indexes: Sequence[int]) -> list[dict[str, Any]]:
        return [self.rpc(i, "peerchain_consensusState") for i in indexes]

    def waiting_height(self, indexes: Sequence[int]) -> int | None:
        """The height all the nodes are deciding, once each is past proposing in it
        (without a quorum they stay there, waiting for votes)."""
        states = self.consensus_states(indexes)
        heights = {int(s["height"], 16) for s in states}
        if len(heights) == 1 and all(s["step"] in ("prevote", "precommit") for s in states):
            return heights.pop()
        return None

    def wait_until_waiting(self, indexes: Sequence[int], timeout: float) -> int:
        """Wait until the nodes wait for votes in one height (see `waiting_height`)."""
        return wait_until(
            lambda: self.waiting_height(indexes),
            timeout,
            f"nodes {list(indexes)} to wait for votes in one height",
            state=lambda: self.consensus_states(indexes),
        )

    def assert_no_block_for(self, indexes: Sequence[int], seconds: float) -> None:
        """Watch the nodes for `seconds` (a span of time, not a wait for an event): none
        may commit a block meanwhile."""
        before = self.heights(indexes)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.heights(indexes) == before, f"nodes {list(indexes)} committed a block"
            time.sleep(POLL)

    def assert_same_chain(self, indexes: Sequence[int], first: int, last: int) -> None:
        """Every node of `indexes` has the same block hash and state root at each height
        first..last."""
        for number in range(first, last + 1):
            seen = {i: self.block(i, number) for i in indexes}
            summary = {
                i: None if b is None else (b["hash"], b["stateRoot"]) for i, b in seen.items()
            }
            assert None not in summary.values(), f"height {number} missing: {summary}"
            assert len(set(summary.values())) == 1, f"nodes disagree at {number}: {summary}"

    # --- logs -------------------------------------------------------------------------------
    def log(self, index: int) -> str:
        path = self.nodes[index].directory / "node.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for node in self.nodes:
            tail = self.log(node.index).splitlines()[-lines:]
            parts.append(f"--- node{node.index} ({node.directory}/node.log) ---")
            parts.extend(tail)
        return "\n".join(parts)


def send_transfer(devnet: Devnet, via: int, to: str, value: int) -> HexBytes:
    """Send `value` wei from dev account 0 to `to` through node `via` with web3.py."""
    w3 = devnet.web3(via)
    sender = Account.from_key(DEV_KEY_0)
    signed = sender.sign_transaction(
        {
            "to": to,
            "value": value,
            "gas": 21000,
            "maxFeePerGas": 2 * w3.eth.gas_price,
            "maxPriorityFeePerGas": 1,
            "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
            "chainId": w3.eth.chain_id,
        }
    )
    return w3.eth.send_raw_transaction(signed.raw_transaction)
