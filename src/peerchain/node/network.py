"""The peer-to-peer network service: connections, discovery, gossip, scores, block fetches.

`Network` runs on a `PeerTransport` (TCP + Noise in production). It dials peers from its
address book (bootstrap and persistent peers from the config, then addresses learnt by
peer exchange, kept through an `AddressBookStore`), accepts inbound links within limits,
floods gossip with a seen-cache so every node delivers each message once and sends it at
most once to each peer (and only what the channel's validator lets it relay), answers
block requests from a block source, tracks the heights peers report, and scores peers:
a peer whose score falls below the threshold is disconnected and banned for a while.
Each peer has a message budget per channel and for block requests (token buckets);
what is over it is dropped and counts as a flood.

Callbacks (`on_message`, `on_peer`, validators, block source) run in the event loop and
must not block; an exception in one is logged and does not disturb the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from peerchain.core.errors import PeerChainError
from peerchain.core.p2p.gossip import GossipBook, Relay, message_id
from peerchain.core.p2p.identity import NodeKey, PeerAddress
from peerchain.core.p2p.messages import (
    MAX_BLOCKS_PER_REQUEST,
    MAX_PEX_ADDRESSES,
    PROTOCOL_VERSION,
    Blocks,
    Channel,
    Direct,
    GetBlocks,
    Gossip,
    Hello,
    Message,
    PexRequest,
    PexResponse,
    Status,
)
from peerchain.core.p2p.peerbook import Direction, PeerBook
from peerchain.core.p2p.scoring import Offence, PeerScores, RateLimiter
from peerchain.node.ports import AddressBookStore, Clock, LinkClosed, PeerLink, PeerTransport
from peerchain.node.view import PeerInfo

log = logging.getLogger("peerchain.network")


class PeerEvent(Enum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    BANNED = "banned"


MessageCallback = Callable[[bytes, Channel, bytes], None]
PeerCallback = Callable[[bytes, PeerEvent], None]
HeightCallback = Callable[[bytes, int], None]
Validator = Callable[[bytes, bytes], Relay]
BlockSource = Callable[[int, int], Sequence[bytes]]

_UNSPECIFIED_HOSTS = {"0.0.0.0", "::", ""}


class NetworkError(PeerChainError):
    """A request to a peer failed: not connected, link closed, or no answer in time."""


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """Who we are on which chain, where we listen, whom we start from, and the limits."""

    chain_id: int
    genesis_hash: bytes
    advertise_host: str | None = None  # host put in our Hello; default the bound host
    bootstrap: tuple[PeerAddress, ...] = ()
    persistent: tuple[PeerAddress, ...] = ()
    max_inbound: int = 24
    max_outbound: int = 8
    bucket_size: int = 16
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    dial_interval: float = 5.0
    pex_interval: float = 15.0
    save_interval: float = 60.0
    ban_duration: float = 600.0
    message_rate: float = 5000.0  # messages a second a peer may send, sustained
    message_burst: float = 20000.0
    # (rate, burst) per channel, in Channel order: consensus, blocks, transactions, pex.
    channel_budgets: tuple[tuple[float, float], ...] = (
        (2000.0, 8000.0),
        (20.0, 60.0),
        (4000.0, 16000.0),
        (1.0, 5.0),
    )
    block_requests: tuple[float, float] = (20.0, 40.0)  # GetBlocks a second, burst
    seen_cache: int = 100_000
    request_timeout: float = 10.0


class Network:
    """Peer-to-peer service of one node. Start it, then broadcast/send and get callbacks."""

    def __init__(
        self,
        identity: NodeKey,
        config: NetworkConfig,
        transport: PeerTransport,
        store: AddressBookStore,
        clock: Clock,
        height: int = 0,
    ) -> None:
        self.identity = identity
        self.config = config
        self._transport = transport
        self._store = store
        self._clock = clock
        self._height = height
        self._host = config.advertise_host or ""
        self._port = 0
        self.book = PeerBook(
            identity.node_id,
            bucket_size=config.bucket_size,
            max_inbound=config.max_inbound,
            max_outbound=config.max_outbound,
            backoff_base=config.backoff_base,
            backoff_max=config.backoff_max,
        )
        self.scores = PeerScores(ban_duration=config.ban_duration)
        self._gossip = GossipBook(seen_capacity=config.seen_cache)
        self._limiter = RateLimiter(rate=config.message_rate, burst=config.message_burst)
        self._channel_limiters = [
            RateLimiter(rate=rate, burst=burst) for rate, burst in config.channel_budgets
        ]
        self._pex_limiter = self._channel_limiters[Channel.PEER_EXCHANGE]
        self._request_limiter = RateLimiter(
            rate=config.block_requests[0], burst=config.block_requests[1]
        )
        self._links: dict[bytes, PeerLink] = {}
        self._heights: dict[bytes, int] = {}
        self._dialing: set[bytes] = set()
        self._pex_asked: set[bytes] = set()
        self._requests: dict[tuple[bytes, int], asyncio.Future[Blocks]] = {}
        self._next_request = 1
        self._message_callbacks: list[MessageCallback] = []
        self._peer_callbacks: list[PeerCallback] = []
        self._height_callbacks: list[HeightCallback] = []
        self._validators: dict[Channel, Validator] = {}
        self._block_source: BlockSource | None = None
        self._wake_dialer = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def node_id(self) -> bytes:
        return self.identity.node_id

    @property
    def address(self) -> PeerAddress:
        """Our own address as peers should dial it (valid once started)."""
        return PeerAddress(self.identity.node_id, self._host, self._port)

    async def start(self) -> None:
        """Load the address book, listen, and start dialling, exchanging and saving."""
        now = self._clock.now()
        for address in self._store.load_addresses():
            self.book.add(address, now)
        for address in self.config.bootstrap:
            self.book.add(address, now)
        for address in self.config.persistent:
            self.book.add(address, now, persistent=True)
        host, self._port = await self._transport.start(self)
        self._host = self.config.advertise_host or host
        self._running = True
        for loop in (self._dial_loop(), self._pex_loop(), self._save_loop()):
            self._spawn(loop)
        log.info("network started as %s", self.address)

    async def stop(self) -> None:
        """Close every link with a reason, stop listening and save the address book."""
        self._running = False
        for task in list(self._tasks):
            task.cancel()
        for link in list(self._links.values()):
            link.close("node shutting down")
        await self._transport.stop()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._save()

    # --- what the node uses ---------------------------------------------------------------

    def on_message(self, callback: MessageCallback) -> None:
        """Call `callback(peer_id, channel, payload)` for every new gossip and direct message."""
        self._message_callbacks.append(callback)

    def on_peer(self, callback: PeerCallback) -> None:
        """Call `callback(peer_id, event)` when a peer connects, disconnects or is banned."""
        self._peer_callbacks.append(callback)

    def on_height(self, callback: HeightCallback) -> None:
        """Call `callback(peer_id, height)` when a peer reports its height (Hello, Status)."""
        self._height_callbacks.append(callback)

    def set_validator(self, channel: Channel, validator: Validator) -> None:
        """Check gossip on `channel` before delivery and forwarding: `validator(peer_id,
        payload)` says whether to relay it, only deliver it, drop it, or reject it (drop
        it and penalize the sender for an invalid message)."""
        self._validators[channel] = validator

    def set_block_source(self, source: BlockSource) -> None:
        """Serve peers' block requests: `source(start, count)` returns encoded blocks
        for heights start.. (fewer, or none, if this node lacks them)."""
        self._block_source = source

    def broadcast(self, channel: Channel, payload: bytes) -> int:
        """Gossip a payload to the whole network; return how many peers it was queued for
        (0 as well if this node already saw it)."""
        msg_id = message_id(channel, payload)
        if not self._gossip.observe(msg_id):
            return 0
        return self._forward(msg_id, Gossip(channel, payload), exclude=None)

    def send(self, peer_id: bytes, channel: Channel, payload: bytes) -> bool:
        """Send a payload to one peer only (not forwarded). False if not connected or its
        queue is full."""
        link = self._links.get(peer_id)
        return link is not None and link.send(Direct(channel, payload))

    def update_height(self, height: int) -> None:
        """Our committed height changed: tell every peer (and future Hellos)."""
        self._height = height
        for link in list(self._links.values()):
            link.send(Status(height))

    def penalize(self, peer_id: bytes, offence: Offence) -> None:
        """Lower a peer's score for something it sent (bad signature, invalid block...);
        below the threshold it is disconnected and banned."""
        if self.scores.penalize(peer_id, offence, self._clock.now()):
            until = self.scores.banned_until(peer_id, self._clock.now())
            log.warning("banning peer %s until %s: %s", peer_id.hex(), until, offence.value)
            link = self._links.get(peer_id)
            if link is not None:
                link.close(f"banned: {offence.value}", offence)
            self._notify_peer(peer_id, PeerEvent.BANNED)

    def ban(self, peer_id: bytes, duration: float | None = None) -> None:
        """Ban a peer outright and drop its link."""
        self.scores.ban(peer_id, self._clock.now(), duration)
        link = self._links.get(peer_id)
        if link is not None:
            link.close("banned by operator")
        self._notify_peer(peer_id, PeerEvent.BANNED)

    def peer_ids(self) -> list[bytes]:
        return list(self._links)

    def peer_count(self) -> int:
        return len(self._links)

    def peer_heights(self) -> dict[bytes, int]:
        """The latest height each connected peer reported (Hello, then Status)."""
        return dict(self._heights)

    def peers(self) -> list[PeerInfo]:
        """Connected and banned peers, for `peerchain_peers` / `admin_peers`."""
        now = self._clock.now()
        infos = []
        for peer_id, link in self._links.items():
            infos.append(
                PeerInfo(
                    peer_id.hex(),
                    str(self.book.get(peer_id) or ""),
                    link.direction.value,
                    self.scores.score(peer_id, now),
                    self._heights.get(peer_id),
                    self.scores.banned_until(peer_id, now),
                )
            )
        for peer_id, until in sorted(self.scores.banned(now).items()):
            if peer_id not in self._links:
                address = self.book.get(peer_id)
                text = None if address is None else str(address)
                infos.append(PeerInfo(peer_id.hex(), text, None, 0.0, None, until))
        return infos

    async def fetch_blocks(self, peer_id: bytes, start: int, count: int) -> list[bytes]:
        """Ask one peer for up to `count` blocks from height `start`; return what it sent
        (possibly fewer). Raises NetworkError (not connected, link closed, timed out)."""
        link = self._links.get(peer_id)
        if link is None:
            raise NetworkError(f"peer {peer_id.hex()} is not connected")
        request_id = self._next_request
        self._next_request += 1
        future: asyncio.Future[Blocks] = asyncio.get_running_loop().create_future()
        key = (peer_id, request_id)
        self._requests[key] = future
        try:
            count = min(count, MAX_BLOCKS_PER_REQUEST)
            if not link.send(GetBlocks(request_id, start, count)):
                raise NetworkError(f"peer {peer_id.hex()} send queue is full")
            try:
                answer = await asyncio.wait_for(future, self.config.request_timeout)
            except TimeoutError as exc:
                raise NetworkError(f"peer {peer_id.hex()} did not answer in time") from exc
        finally:
            self._requests.pop(key, None)
        if answer.start != start or len(answer.blocks) > count:
            self.penalize(peer_id, Offence.PROTOCOL_VIOLATION)
            raise NetworkError(f"peer {peer_id.hex()} answered another request")
        return list(answer.blocks)

    # --- LinkHandler (called by the transport) -------------------------------------------

    def hello(self) -> Hello:
        return Hello(
            PROTOCOL_VERSION,
            self.config.chain_id,
            self.config.genesis_hash,
            self.identity.node_id,
            self._host or "0.0.0.0",
            self._port,
            self._height,
        )

    def on_link(self, link: PeerLink) -> None:
        self._admit(link)

    def on_rejected(
        self, node_id: bytes | None, host: str, reason: str, offence: Offence | None
    ) -> None:
        who = node_id.hex() if node_id else "unidentified peer"
        log.info("refused %s at %s: %s", who, host, reason)
        if node_id is not None and offence is not None:
            self.penalize(node_id, offence)

    # --- links ------------------------------------------------------------------------------

    def _admit(self, link: PeerLink) -> None:
        peer_id = link.remote_id
        now = self._clock.now()
        until = self.scores.banned_until(peer_id, now)
        if until is not None:
            link.close(f"banned for {until - now:.0f}s more")
            return
        existing = self._links.get(peer_id)
        if existing is not None:
            # Both ends keep the link dialled by the node with the lower id.
            keep_new = (link.direction is Direction.OUTBOUND) == (self.node_id < peer_id)
            if not keep_new:
                link.close("duplicate connection")
                return
            existing.close("duplicate connection")
            self._unregister(peer_id, existing)
        elif not self.book.can_connect(peer_id, link.direction):
            link.close(f"too many {link.direction.value} peers")
            return
        self._links[peer_id] = link
        self.book.mark_connected(peer_id, link.direction, now)
        self._gossip.add_peer(peer_id)
        hello = link.remote_hello
        self._set_height(peer_id, hello.height)
        if hello.listen_port:
            host = (
                link.remote_host if hello.listen_host in _UNSPECIFIED_HOSTS else hello.listen_host
            )
            self.book.add(PeerAddress(peer_id, host, hello.listen_port), now)
        log.info("peer %s connected (%s)", peer_id.hex()[:12], link.direction.value)
        self._spawn(self._serve(link))
        if link.direction is Direction.OUTBOUND:
            self._ask_addresses(peer_id)
        self._notify_peer(peer_id, PeerEvent.CONNECTED)

    def _unregister(self, peer_id: bytes, link: PeerLink) -> None:
        if self._links.get(peer_id) is not link:
            return
        del self._links[peer_id]
        self._heights.pop(peer_id, None)
        self._pex_asked.discard(peer_id)
        self._gossip.remove_peer(peer_id)
        self._limiter.forget(peer_id)
        for limiter in (*self._channel_limiters, self._request_limiter):
            limiter.forget(peer_id)
        self.book.mark_disconnected(peer_id, self._clock.now())
        for (owner, _), future in list(self._requests.items()):
            if owner == peer_id and not future.done():
                future.set_exception(NetworkError(f"peer {peer_id.hex()} disconnected"))
        self._wake_dialer.set()
        self._notify_peer(peer_id, PeerEvent.DISCONNECTED)

    def _notify_peer(self, peer_id: bytes, event: PeerEvent) -> None:
        for callback in self._peer_callbacks:
            self._call(callback, peer_id, event)

    def _set_height(self, peer_id: bytes, height: int) -> None:
        self._heights[peer_id] = height
        for callback in self._height_callbacks:
            self._call(callback, peer_id, height)

    async def _serve(self, link: PeerLink) -> None:
        peer_id = link.remote_id
        try:
            while True:
                message = await link.receive()
                if not self._limiter.allow(peer_id, self._clock.now()):
                    self.penalize(peer_id, Offence.FLOOD)
                    continue
                self._handle(link, message)
        except LinkClosed as closed:
            log.info("peer %s gone: %s", peer_id.hex()[:12], closed.reason)
            if closed.offence is not None:
                self.penalize(peer_id, closed.offence)
        finally:
            self._unregister(peer_id, link)

    def _handle(self, link: PeerLink, message: Message) -> None:
        peer_id = link.remote_id
        now = self._clock.now()
        match message:
            case Gossip(channel, payload) | Direct(channel, payload):
                if not self._channel_limiters[channel].allow(peer_id, now):
                    self.penalize(peer_id, Offence.FLOOD)
                elif isinstance(message, Gossip):
                    self._on_gossip(peer_id, message, channel, payload)
                else:
                    self._deliver(peer_id, channel, payload)
            case Status(height):
                self._set_height(peer_id, height)
            case GetBlocks(request_id, start, count):
                if self._request_limiter.allow(peer_id, now):
                    link.send(Blocks(request_id, start, self._blocks_for(start, count)))
                else:
                    self.penalize(peer_id, Offence.FLOOD)
            case Blocks(request_id):
                future = self._requests.get((peer_id, request_id))
                if future is None or future.done():
                    self.penalize(peer_id, Offence.UNSOLICITED)
                else:
                    future.set_result(message)
            case PexRequest():
                if self._pex_limiter.allow(peer_id, now):
                    seed = os.urandom(8)
                    link.send(PexResponse(tuple(self.book.sample(MAX_PEX_ADDRESSES, seed))))
                else:
                    self.penalize(peer_id, Offence.FLOOD)
            case PexResponse(addresses):
                if peer_id not in self._pex_asked:
                    self.penalize(peer_id, Offence.UNSOLICITED)
                    return
                self._pex_asked.discard(peer_id)
                for address in addresses:
                    self.book.add(address, now)
                self._wake_dialer.set()
            case _:
                self.penalize(peer_id, Offence.PROTOCOL_VIOLATION)

    def _on_gossip(self, peer_id: bytes, message: Gossip, channel: Channel, payload: bytes) -> None:
        msg_id = message_id(channel, payload)
        if not self._gossip.observe(msg_id, peer_id):
            return
        validator = self._validators.get(channel)
        verdict = Relay.RELAY if validator is None else self._call(validator, peer_id, payload)
        if verdict is Relay.RELAY:
            self._forward(msg_id, message, exclude=peer_id)
        elif verdict is Relay.REJECT:
            self.penalize(peer_id, Offence.INVALID_MESSAGE)
        if verdict in (Relay.RELAY, Relay.DELIVER):
            self._deliver(peer_id, channel, payload)

    def _forward(self, msg_id: bytes, message: Gossip, exclude: bytes | None) -> int:
        peers = [p for p in self._links if p != exclude]
        sent = 0
        for peer_id in self._gossip.targets(msg_id, peers):
            sent += self._links[peer_id].send(message)
        return sent

    def _deliver(self, peer_id: bytes, channel: Channel, payload: bytes) -> None:
        for callback in self._message_callbacks:
            self._call(callback, peer_id, channel, payload)

    def _blocks_for(self, start: int, count: int) -> tuple[bytes, ...]:
        if self._block_source is None:
            return ()
        try:
            blocks = self._block_source(start, min(count, MAX_BLOCKS_PER_REQUEST))
        except Exception:
            log.exception("block source failed for %d+%d", start, count)
            return ()
        chosen: list[bytes] = []
        size = 0
        for block in blocks[:count]:
            size += len(block) + 4
            if size > 4 * 1024 * 1024 and chosen:
                break
            chosen.append(bytes(block))
        return tuple(chosen)

    def _call(self, function: Callable[..., object], *args: object) -> object:
        try:
            return function(*args)
        except Exception:
            log.exception("network callback %r failed", function)
            return None

    # --- background loops ---------------------------------------------------------------------

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dial_loop(self) -> None:
        while self._running:
            now = self._clock.now()
            if not self._links:
                # The book drops an ordinary peer after repeated failed dials; a node with
                # no link left goes back to its bootstrap peers rather than stay alone.
                for address in self.config.bootstrap:
                    if self.book.get(address.node_id) is None:
                        self.book.add(address, now)
            banned = self.scores.banned(now)
            exclude = self._dialing | banned.keys()
            for address in self.book.dial_candidates(now, exclude, pending=len(self._dialing)):
                self._dialing.add(address.node_id)
                self._spawn(self._dial(address))
            wait = self.config.dial_interval
            due = self.book.next_dial_time(exclude)
            if due is not None:
                wait = min(wait, max(0.05, due - now))
            self._wake_dialer.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_dialer.wait(), wait)

    async def _dial(self, address: PeerAddress) -> None:
        try:
            link = await self._transport.dial(address)
        except LinkClosed as exc:
            log.debug("dial %s failed: %s", address, exc.reason)
            self.book.mark_dial_failed(address.node_id, self._clock.now())
        else:
            self._admit(link)
        finally:
            self._dialing.discard(address.node_id)
            self._wake_dialer.set()

    def _ask_addresses(self, peer_id: bytes) -> None:
        link = self._links.get(peer_id)
        if link is not None and link.send(PexRequest()):
            self._pex_asked.add(peer_id)

    async def _pex_loop(self) -> None:
        rotation = 0
        while self._running:
            await asyncio.sleep(self.config.pex_interval)
            peers = sorted(self._links)
            if peers:
                rotation += 1
                self._ask_addresses(peers[rotation % len(peers)])

    async def _save_loop(self) -> None:
        while self._running:
            await asyncio.sleep(self.config.save_interval)
            self._save()

    def _save(self) -> None:
        try:
            self._store.save_addresses(self.book.addresses())
        except Exception:
            log.exception("saving the address book failed")
