"""Helpers of the p2p tests: in-process nodes and a raw hostile client (probe processes:
`peerchain.testing.probe`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from peerchain.core.crypto import keccak256
from peerchain.core.p2p.identity import NodeKey, PeerAddress
from peerchain.drivers.clock import SystemClock
from peerchain.drivers.net import TcpTransport, TransportConfig
from peerchain.node.network import Network, NetworkConfig, PeerEvent
from peerchain.testing.probe import Signal
from peerchain.testing.rawpeer import RawPeer
from peerchain.tools.p2p_probe import GENESIS

CHAIN_ID = 1337


def node_key(name: str) -> NodeKey:
    return NodeKey.from_private_key(keccak256(b"test-node:" + name.encode()))


class MemoryBook:
    def __init__(self) -> None:
        self.saved: list[PeerAddress] = []

    def load_addresses(self) -> list[PeerAddress]:
        return list(self.saved)

    def save_addresses(self, addresses: Sequence[PeerAddress]) -> None:
        self.saved = list(addresses)


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
