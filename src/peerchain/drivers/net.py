"""TCP + Noise peer transport: listen, dial, encrypted links with priority send queues.

Implements `node.ports.PeerTransport`. Each link has a reader task (bytes -> decrypted
messages; pings answered here) and a writer task (per-priority bounded queues drained
highest priority first, several messages per encrypted write; keepalive pings; a peer
silent for `dead_after` seconds or not reading for as long is dropped). A full queue
drops the message instead of blocking the caller, so a slow peer never slows the node.
Anything malformed from a peer closes its link with an offence; nothing it sends raises
out of here.

Inbound handshakes are bounded so that half-open handshakes cannot lock others out: each
must finish within `inbound_handshake_timeout`, one source address may have at most
`max_pending_per_host` of them, and when all `max_pending_handshakes` slots are taken the
oldest handshake of the addresses holding the most is dropped for the newcomer.

Also the files of the network identity: the node key and the address book.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from peerchain.core.errors import DecodeError, ListenError
from peerchain.core.p2p.channel import SecureChannel
from peerchain.core.p2p.frames import MAX_MESSAGE_SIZE
from peerchain.core.p2p.handshake import Handshake, HandshakeError, HandshakeResult
from peerchain.core.p2p.identity import AddressError, NodeKey, PeerAddress, parse_address
from peerchain.core.p2p.messages import (
    PRIORITY_LEVELS,
    Disconnect,
    Hello,
    Message,
    Ping,
    Pong,
    encode_message,
    priority_of,
)
from peerchain.core.p2p.peerbook import Direction
from peerchain.core.p2p.scoring import Offence
from peerchain.node.ports import LinkClosed, LinkHandler

log = logging.getLogger("peerchain.net")

_READ_SIZE = 256 * 1024
_BATCH_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class TransportConfig:
    """Addresses, timeouts (seconds) and queue bounds of the TCP transport."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    handshake_timeout: float = 5.0
    dial_timeout: float = 5.0
    ping_interval: float = 5.0
    dead_after: float = 20.0
    max_message_size: int = MAX_MESSAGE_SIZE
    queue_messages: int = 4096  # per priority level
    queue_bytes: int = 32 * 1024 * 1024  # all levels together
    inbox_messages: int = 1024
    max_pending_handshakes: int = 64
    max_pending_per_host: int = 4
    inbound_handshake_timeout: float = 2.0


class TcpLink:
    """One established peer link (implements `node.ports.PeerLink`)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        channel: SecureChannel,
        result: HandshakeResult,
        direction: Direction,
        config: TransportConfig,
    ) -> None:
        self.remote_id = result.remote_node_id
        self.remote_hello = result.remote_hello
        peer = writer.get_extra_info("peername")
        self.remote_host = str(peer[0]) if peer else ""
        self.direction = direction
        self._reader = reader
        self._writer = writer
        self._channel = channel
        self._config = config
        self._queues: list[deque[bytes]] = [deque() for _ in range(PRIORITY_LEVELS)]
        self._queued_bytes = 0
        self._inbox: asyncio.Queue[Message | None] = asyncio.Queue(config.inbox_messages)
        self._wakeup = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._last_received = self._loop.time()
        self._ping_nonce = 0
        self._closed: LinkClosed | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._finisher: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return f"{self.remote_id.hex()[:12]}@{self.remote_host}"

    def start(self, leftover: bytes) -> None:
        self._tasks = [
            asyncio.create_task(self._read_loop(leftover)),
            asyncio.create_task(self._write_loop()),
        ]

    # --- PeerLink -----------------------------------------------------------------------

    def send(self, message: Message) -> bool:
        if self._closed is not None:
            return False
        return self._enqueue(priority_of(message), encode_message(message))

    async def receive(self) -> Message:
        message = await self._inbox.get()
        if message is None:
            self._inbox.put_nowait(None)  # later calls see the close too
            assert self._closed is not None
            raise self._closed
        return message

    def close(self, reason: str, offence: Offence | None = None) -> None:
        self._close(reason, offence, notify=True)

    # --- internals ----------------------------------------------------------------------

    def _enqueue(self, priority: int, encoded: bytes) -> bool:
        queue = self._queues[priority]
        config = self._config
        if (
            len(queue) >= config.queue_messages
            or self._queued_bytes + len(encoded) > config.queue_bytes
        ):
            return False
        queue.append(encoded)
        self._queued_bytes += len(encoded)
        self._wakeup.set()
        return True

    def _close(self, reason: str, offence: Offence | None, *, notify: bool) -> None:
        if self._closed is not None:
            return
        self._closed = LinkClosed(reason, offence)
        for queue in self._queues:
            queue.clear()
        self._queued_bytes = 0
        if notify:
            log.info("disconnecting peer %s: %s", self.name, reason)
            self._queues[0].append(encode_message(Disconnect(reason[:200])))
        self._wakeup.set()
        if self._inbox.full():
            self._inbox.get_nowait()  # room for the close marker: the consumer must see it
        self._inbox.put_nowait(None)
        self._finisher = asyncio.create_task(self._finish(notify))

    async def _finish(self, flush: bool) -> None:
        reader_task, writer_task = self._tasks or (None, None)
        if reader_task is not None and reader_task is not asyncio.current_task():
            reader_task.cancel()
        if flush and writer_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer_task), 1.0)
        if writer_task is not None:
            writer_task.cancel()
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)

    async def _read_loop(self, leftover: bytes) -> None:
        data = leftover
        try:
            while True:
                if data:
                    self._last_received = self._loop.time()
                    for message in self._channel.receive_data(data):
                        if not await self._dispatch(message):
                            return
                data = await self._reader.read(_READ_SIZE)
                if not data:
                    self._close("connection closed by peer", None, notify=False)
                    return
        except DecodeError as exc:
            self._close(f"malformed data: {exc}", Offence.MALFORMED_FRAME, notify=True)
        except (ConnectionError, OSError) as exc:
            self._close(f"connection lost: {exc}", None, notify=False)

    async def _dispatch(self, message: Message) -> bool:
        """Handle control messages here; queue the rest. False once the link closes."""
        match message:
            case Ping(nonce):
                self._enqueue(0, encode_message(Pong(nonce)))
            case Pong():
                pass
            case Disconnect(reason):
                log.info("peer %s disconnected: %s", self.name, reason)
                self._close(f"peer disconnected: {reason}", None, notify=False)
                return False
            case Hello():
                self.close("hello after handshake", Offence.PROTOCOL_VIOLATION)
                return False
            case _:
                if self._closed is not None:
                    return False
                await self._inbox.put(message)
        return True

    async def _write_loop(self) -> None:
        config = self._config
        next_keepalive = self._loop.time() + config.ping_interval
        try:
            while True:
                if self._loop.time() >= next_keepalive:
                    self._keepalive()
                    next_keepalive = self._loop.time() + config.ping_interval
                batch = self._take_batch()
                if batch:
                    self._writer.write(self._channel.seal_encoded(batch))
                    await asyncio.wait_for(self._writer.drain(), config.dead_after)
                    if self._closed is not None and not any(self._queues):
                        return
                    continue
                if self._closed is not None:
                    return
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._wakeup.wait(), max(0.0, next_keepalive - self._loop.time())
                    )
        except TimeoutError:
            self._close("peer is not reading (send timeout)", Offence.TIMEOUT, notify=False)
        except (ConnectionError, OSError) as exc:
            self._close(f"connection lost: {exc}", None, notify=False)

    def _take_batch(self) -> list[bytes]:
        batch: list[bytes] = []
        size = 0
        for queue in self._queues:
            while queue and size < _BATCH_BYTES:
                item = queue.popleft()
                batch.append(item)
                size += len(item)
        self._queued_bytes = max(0, self._queued_bytes - size)
        return batch

    def _keepalive(self) -> None:
        if self._closed is not None:
            return
        silent = self._loop.time() - self._last_received
        if silent >= self._config.dead_after:
            self.close(f"peer unresponsive for {silent:.1f}s", Offence.TIMEOUT)
        elif silent >= self._config.ping_interval:
            self._ping_nonce += 1
            self._enqueue(0, encode_message(Ping(self._ping_nonce)))


class TcpTransport:
    """Listens and dials over TCP; every link is Noise-encrypted and identity-checked."""

    def __init__(self, identity: NodeKey, config: TransportConfig) -> None:
        self.identity = identity
        self.config = config
        self._static_private = os.urandom(32)
        self._handler: LinkHandler | None = None
        self._server: asyncio.Server | None = None
        # Inbound handshakes under way, by source host, oldest first, with the order in
        # which they started; one dropped for a newcomer leaves at once (its task ends
        # later), so the count never exceeds the limit however many arrive together.
        self._pending: dict[str, list[tuple[int, asyncio.Task[TcpLink]]]] = {}
        self._pending_count = 0
        self._accepted = itertools.count()
        self.refused_handshakes = 0
        self._links: weakref.WeakSet[TcpLink] = weakref.WeakSet()

    async def start(self, handler: LinkHandler) -> tuple[str, int]:
        self._handler = handler
        host, port = self.config.listen_host, self.config.listen_port
        try:
            self._server = await asyncio.start_server(self._accept, host, port, limit=_READ_SIZE)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            hint = "choose another port (`listen` in node.toml)"
            raise ListenError("peers", host, port, reason, hint) from exc
        host, port = self._server.sockets[0].getsockname()[:2]
        log.info("listening on %s:%s as %s", host, port, self.identity.node_id.hex())
        return str(host), int(port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        for link in list(self._links):
            link.close("node shutting down")

    async def dial(self, address: PeerAddress) -> TcpLink:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(address.host, address.port, limit=_READ_SIZE),
                self.config.dial_timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise LinkClosed(f"cannot reach {address}: {exc or 'timeout'}") from exc
        return await self._establish(reader, writer, Direction.OUTBOUND, address.node_id)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if peer else "?"
        if not self._make_room(host):
            self.refused_handshakes += 1
            writer.close()
            return
        task = asyncio.ensure_future(
            self._establish(
                reader, writer, Direction.INBOUND, None, self.config.inbound_handshake_timeout
            )
        )
        entry = (next(self._accepted), task)
        self._pending.setdefault(host, []).append(entry)
        self._pending_count += 1
        try:
            link = await task
        except (LinkClosed, asyncio.CancelledError):
            writer.close()
            return
        finally:
            self._forget_pending(host, entry)
        assert self._handler is not None
        self._handler.on_link(link)

    def _forget_pending(self, host: str, entry: tuple[int, asyncio.Task[TcpLink]]) -> None:
        queue = self._pending.get(host)
        if queue is None or entry not in queue:
            return  # dropped for a newcomer already
        queue.remove(entry)
        self._pending_count -= 1
        if not queue:
            del self._pending[host]

    def _make_room(self, host: str) -> bool:
        """Whether a new inbound handshake from `host` may start; when every slot is
        taken, drop the oldest handshake of the addresses holding the most (an honest
        handshake finishes in a few round trips, a half-open one waits to time out)."""
        config = self.config
        held = len(self._pending.get(host, ()))
        if held >= config.max_pending_per_host:
            return False
        if self._pending_count < config.max_pending_handshakes:
            return True
        most = max(len(queue) for queue in self._pending.values())
        if most <= held:
            return False
        victim, entry = min(
            ((h, queue[0]) for h, queue in self._pending.items() if len(queue) == most),
            key=lambda found: found[1][0],
        )
        self._forget_pending(victim, entry)
        entry[1].cancel()
        self.refused_handshakes += 1
        return True

    async def _establish(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        direction: Direction,
        expected: bytes | None,
        timeout: float | None = None,
    ) -> TcpLink:
        assert self._handler is not None, "start() the transport first"
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if peer else "?"
        handshake = Handshake(
            initiator=direction is Direction.OUTBOUND,
            identity=self.identity,
            hello=self._handler.hello(),
            static_private=self._static_private,
            ephemeral_private=os.urandom(32),
            expected_node_id=expected,
        )
        limit = self.config.handshake_timeout if timeout is None else timeout
        try:
            await asyncio.wait_for(self._run_handshake(handshake, reader, writer), limit)
        except (HandshakeError, OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            writer.close()
            reason = f"handshake failed: {_handshake_failure(exc, limit)}"
            offence = Offence.MALFORMED_FRAME if isinstance(exc, HandshakeError) else None
            log.info("link with %s %s", host, reason)
            self._handler.on_rejected(None, host, reason, offence)
            raise LinkClosed(reason, offence) from exc
        result = handshake.result
        assert result is not None
        channel = handshake.channel(self.config.max_message_size)
        link = TcpLink(reader, writer, channel, result, direction, self.config)
        link.start(handshake.leftover)
        if result.rejection is not None:
            offence = Offence.INCOMPATIBLE if result.incompatible else None
            link.close(result.rejection, offence)
            self._handler.on_rejected(result.remote_node_id, host, result.rejection, offence)
            raise LinkClosed(result.rejection, offence)
        self._links.add(link)
        return link

    async def _run_handshake(
        self, handshake: Handshake, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(handshake.start())
        while not handshake.done:
            data = await reader.read(_READ_SIZE)
            if not data:
                raise asyncio.IncompleteReadError(b"", None)
            writer.write(handshake.receive_data(data))
        await writer.drain()


def _handshake_failure(exc: Exception, limit: float) -> str:
    """Why a handshake failed, in words (a timeout's own message is empty)."""
    if isinstance(exc, TimeoutError):
        return f"not completed within {limit:g}s"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "connection closed by the peer during the handshake"
    return str(exc) or type(exc).__name__


def load_or_create_node_key(path: Path) -> NodeKey:
    """The node key stored (as hex) at `path`, created with mode 0600 on first use."""
    if path.exists():
        return NodeKey.from_private_key(bytes.fromhex(path.read_text().strip()))
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(seed.hex() + "\n")
    return NodeKey.from_private_key(seed)


class FileAddressBook:
    """Implements `node.ports.AddressBookStore` as a JSON list of address strings."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load_addresses(self) -> list[PeerAddress]:
        try:
            entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        addresses = []
        for entry in entries if isinstance(entries, list) else []:
            with contextlib.suppress(AddressError, TypeError, AttributeError):
                addresses.append(parse_address(entry))
        return addresses

    def save_addresses(self, addresses: Sequence[PeerAddress]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps([str(a) for a in addresses], indent=1) + "\n")
        os.replace(temporary, self.path)
