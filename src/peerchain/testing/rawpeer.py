"""A hand-driven peer for attacking a node in tests: the real Noise handshake with any
Hello, then whatever bytes or messages a test wants to send; and a flood of half-open
handshakes (`HalfHandshakeFlood`)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from peerchain.core.p2p.channel import SecureChannel
from peerchain.core.p2p.handshake import Handshake, HandshakeResult
from peerchain.core.p2p.identity import NodeKey, PeerAddress
from peerchain.core.p2p.messages import PROTOCOL_VERSION, Hello, Message

READ_TIMEOUT = 20.0


@dataclass
class RawPeer:
    """One TCP connection to a node; `channel` is None if no handshake was made."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    channel: SecureChannel | None = None
    result: HandshakeResult | None = None
    leftover: bytes = b""

    @classmethod
    async def plain(cls, address: PeerAddress) -> RawPeer:
        reader, writer = await asyncio.open_connection(address.host, address.port)
        return cls(reader, writer)

    @classmethod
    async def connect(
        cls,
        address: PeerAddress,
        identity: NodeKey,
        chain_id: int,
        genesis_hash: bytes,
        height: int = 0,
    ) -> RawPeer:
        """Dial and complete the handshake, announcing `chain_id`, `genesis_hash` and
        `height`."""
        reader, writer = await asyncio.open_connection(address.host, address.port)
        handshake = Handshake(
            initiator=True,
            identity=identity,
            hello=Hello(
                PROTOCOL_VERSION, chain_id, genesis_hash, identity.node_id, "0.0.0.0", 0, height
            ),
            static_private=os.urandom(32),
            ephemeral_private=os.urandom(32),
            expected_node_id=address.node_id,
        )
        writer.write(handshake.start())
        while not handshake.done:
            data = await asyncio.wait_for(reader.read(65536), READ_TIMEOUT)
            assert data, "the node closed the connection during the handshake"
            writer.write(handshake.receive_data(data))
        await writer.drain()
        return cls(reader, writer, handshake.channel(), handshake.result, handshake.leftover)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send(self, *messages: Message) -> None:
        assert self.channel is not None
        await self.send_raw(self.channel.seal(messages))

    async def read_until_closed(self) -> list[Message]:
        """Every message the node sends until it closes the connection (AssertionError
        if it keeps it open longer than READ_TIMEOUT of silence)."""
        received: list[Message] = []
        data = self.leftover
        while True:
            if data and self.channel is not None:
                received += self.channel.receive_data(data)
            try:
                data = await asyncio.wait_for(self.reader.read(65536), READ_TIMEOUT)
            except ConnectionError:
                return received
            except TimeoutError as exc:
                raise AssertionError(f"the node kept the connection open: {received}") from exc
            if not data:
                return received

    async def read_messages(self, count: int) -> list[Message]:
        """The next `count` messages the node sends."""
        assert self.channel is not None
        received = self.channel.receive_data(self.leftover)
        self.leftover = b""
        while len(received) < count:
            data = await asyncio.wait_for(self.reader.read(65536), READ_TIMEOUT)
            assert data, "the node closed the connection early"
            received += self.channel.receive_data(data)
        assert len(received) == count
        return received

    def close(self) -> None:
        self.writer.close()


class HalfHandshakeFlood:
    """`sockets` connections from `source_host` that each send the first handshake
    message and never finish; one the node closes is dialled again at once, until
    `stop`. Counts the connections it made (`dials`)."""

    def __init__(self, address: PeerAddress, sockets: int, source_host: str) -> None:
        self.address = address
        self.sockets = sockets
        self.source_host = source_host
        self.dials = 0
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._hold()) for _ in range(self.sockets)]

    async def _hold(self) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_connection(
                    self.address.host, self.address.port, local_addr=(self.source_host, 0)
                )
            except OSError:
                await asyncio.sleep(0.05)
                continue
            self.dials += 1
            handshake = Handshake(
                initiator=True,
                identity=NodeKey.from_private_key(os.urandom(32)),
                hello=Hello(PROTOCOL_VERSION, 0, bytes(32), bytes(32), "0.0.0.0", 0, 0),
                static_private=os.urandom(32),
                ephemeral_private=os.urandom(32),
            )
            try:
                writer.write(handshake.start())
                while await reader.read(65536):
                    pass  # hold the handshake open until the node gives up on it
            except OSError:
                pass
            finally:
                writer.close()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
