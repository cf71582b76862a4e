"""Helpers of the p2p tests: in-process nodes, probe processes, a raw hostile client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from peerchain.core.crypto import keccak256
from peerchain.core.p2p.identity import NodeKey, PeerAddress
from peerchain.drivers.clock import SystemClock
from peerchain.drivers.net import TcpTransport, TransportConfig
from peerchain.node.network import Network, NetworkConfig, PeerEvent
from peerchain.testing.rawpeer import RawPeer
from peerchain.tools.p2p_probe import GENESIS

CHAIN_ID = 1337
TIMEOUT = 20.0


def node_key(name: str) -> NodeKey:
    return NodeKey.from_private_key(keccak256(b"test-node:" + name.encode()))


class MemoryBook:
    def __init__(self) -> None:
        self.saved: list[PeerAddress] = []

    def load_addresses(self) -> list[PeerAddress]:
        return list(self.saved)

    def save_addresses(self, addresses: Sequence[PeerAddress]) -> None:
        self.saved = list(addresses)


class Signal:
    """Wait, with a bound, until a condition over collected state holds."""

    def __init__(self) -> None:
        self._changed = asyncio.Condition()

    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def poke(self) -> None:
        asyncio.get_running_loop().create_task(self.notify())

    async def wait(self, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)


@dataclass
class LocalNode:
    """A Network in this process with a record of what it delivered."""

    network: Network
    signal: Signal
    messages: list[tuple[bytes, int, bytes]] = field(default_factory=list)
    up: set[bytes] = field(default_factory=set)
    down: list[bytes] = field(default_factory=list)
    banned: list[bytes] = field(default_factory=list)
    heights: dict[bytes, int] = field(default_factory=dict)


async def start_node(
    name: str,
    *,
    transport_config: TransportConfig | None = None,
    chain_id: int = CHAIN_ID,
    **config: Any,
) -> LocalNode:
    identity = node_key(name)
    transport = TcpTransport(identity, transport_config or TransportConfig())
    network = Network(
        identity,
        NetworkConfig(chain_id=chain_id, genesis_hash=GENESIS, **config),
        transport,
        MemoryBook(),
        SystemClock(),
    )
    node = LocalNode(network, Signal())

    def on_message(peer: bytes, channel: int, payload: bytes) -> None:
        node.messages.append((peer, channel, payload))
        node.signal.poke()

    def on_peer(peer: bytes, event: PeerEvent) -> None:
        if event is PeerEvent.CONNECTED:
            node.up.add(peer)
        elif event is PeerEvent.DISCONNECTED:
            node.up.discard(peer)
            node.down.append(peer)
        else:
            node.banned.append(peer)
        node.signal.poke()

    def on_height(peer: bytes, height: int) -> None:
        node.heights[peer] = height
        node.signal.poke()

    network.on_message(on_message)
    network.on_peer(on_peer)
    network.on_height(on_height)
    await network.start()
    return node


class RawClient(RawPeer):
    """A raw peer whose identity is derived from a name."""

    @classmethod
    async def connect_as(
        cls, address: PeerAddress, name: str, *, chain_id: int = CHAIN_ID
    ) -> RawPeer:
        return await cls.connect(address, node_key(name), chain_id, GENESIS)

    @staticmethod
    def name_id(name: str) -> str:
        """The hex node id a client connected under `name` has."""
        return node_key(name).node_id.hex()


class Probe:
    """A `peerchain.tools.p2p_probe` process and the events it printed."""

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self.process = process
        self.name = name
        self.events: list[dict[str, Any]] = []
        self.up: set[str] = set()
        self.signal = Signal()
        self.address = ""
        self.node_id = ""
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, name: str, *args: str, prefix: Sequence[str] = ()) -> Probe:
        """Start a probe (inside `prefix`, e.g. `ip netns exec NAME`) and wait until ready."""
        process = await asyncio.create_subprocess_exec(
            *prefix,
            sys.executable,
            "-m",
            "peerchain.tools.p2p_probe",
            "--seed",
            name,
            "--chain-id",
            str(CHAIN_ID),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 24,
        )
        probe = cls(process, name)
        await probe.signal.wait(lambda: bool(probe.address))
        return probe

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            event = json.loads(line)
            if event["event"] == "ready":
                self.address, self.node_id = event["address"], event["id"]
            elif event["event"] == "peer" and event["state"] == "connected":
                self.up.add(event["id"])
            elif event["event"] == "peer" and event["state"] == "disconnected":
                self.up.discard(event["id"])
            self.events.append(event)
            await self.signal.notify()

    def payloads(self) -> list[str]:
        return [e["payload"] for e in self.events if e["event"] == "message"]

    def command(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())

    async def ask(self, kind: str, **command: Any) -> dict[str, Any]:
        """Send a command and wait for the next event of `kind` it causes."""
        seen = len(self.events)
        self.command(**command)
        await self.signal.wait(lambda: any(e["event"] == kind for e in self.events[seen:]))
        return next(e for e in self.events[seen:] if e["event"] == kind)

    async def peers(self) -> list[dict[str, Any]]:
        return list((await self.ask("peers", cmd="peers"))["peers"])

    async def stop(self) -> None:
        with contextlib.suppress(ConnectionError):
            self.command(cmd="stop")
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()
