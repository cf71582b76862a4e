"""Peer-to-peer traffic counted for the metrics, by wrapping the transport port.

`MeteredTransport` goes around any `PeerTransport` (TCP + Noise in production): every
link it hands out, dialled or accepted, is a `MeteredLink` that counts each message
received and each message queued (or refused by a full queue) in a `NodeMetrics`.
The network service sees ordinary links and needs no change; `meter_bans` counts the
bans the network reports.
"""

from __future__ import annotations

from typing import Any

from peerchain.core.p2p.identity import PeerAddress
from peerchain.core.p2p.messages import Hello, Message
from peerchain.core.p2p.scoring import Offence
from peerchain.node.metrics import NodeMetrics
from peerchain.node.network import Network, PeerEvent
from peerchain.node.ports import LinkHandler, PeerLink, PeerTransport


class MeteredLink:
    """A `PeerLink` whose messages are counted; everything else is the inner link's."""

    def __init__(self, inner: PeerLink, metrics: NodeMetrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.remote_id = inner.remote_id
        self.remote_hello = inner.remote_hello
        self.remote_host = inner.remote_host
        self.direction = inner.direction

    def send(self, message: Message) -> bool:
        queued = self.inner.send(message)
        if queued:
            self.metrics.message(message, "out")
        else:
            self.metrics.send_dropped(message)
        return queued

    async def receive(self) -> Message:
        message = await self.inner.receive()
        self.metrics.message(message, "in")
        return message

    def close(self, reason: str, offence: Offence | None = None) -> None:
        self.inner.close(reason, offence)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _MeteredHandler:
    """Hands the network metered links for the inbound links the transport accepts."""

    def __init__(self, inner: LinkHandler, metrics: NodeMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def hello(self) -> Hello:
        return self.inner.hello()

    def on_link(self, link: PeerLink) -> None:
        self.inner.on_link(MeteredLink(link, self.metrics))

    def on_rejected(
        self, node_id: bytes | None, host: str, reason: str, offence: Offence | None
    ) -> None:
        self.inner.on_rejected(node_id, host, reason, offence)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class MeteredTransport:
    """A `PeerTransport` whose links count their messages in `metrics`."""

    def __init__(self, inner: PeerTransport, metrics: NodeMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def start(self, handler: LinkHandler) -> tuple[str, int]:
        return await self.inner.start(_MeteredHandler(handler, self.metrics))

    async def dial(self, address: PeerAddress) -> PeerLink:
        return MeteredLink(await self.inner.dial(address), self.metrics)

    async def stop(self) -> None:
        await self.inner.stop()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def meter_bans(network: Network, metrics: NodeMetrics) -> None:
    """Count the peers `network` bans."""

    def on_peer(peer_id: bytes, event: PeerEvent) -> None:
        if event is PeerEvent.BANNED:
            metrics.peer_banned()

    network.on_peer(on_peer)
