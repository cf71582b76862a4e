"""Ports: the small interfaces through which the node runtime reaches the outside.

Drivers implement them; tests use in-memory twins from `peerchain.testing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from peerchain.core.consensus.signguard import LastSigned
from peerchain.core.consensus.wal import WalRecord
from peerchain.core.errors import PeerChainError
from peerchain.core.faults import FaultLatch
from peerchain.core.p2p.identity import PeerAddress
from peerchain.core.p2p.messages import Hello, Message
from peerchain.core.p2p.peerbook import Direction
from peerchain.core.p2p.scoring import Offence

# A batch of writes: value None deletes the key.
Changes = Mapping[bytes, bytes | None]


class StorageError(PeerChainError):
    """The data directory cannot be opened, read or written."""


class ChainStore(Protocol):
    """Durable key-value store for one node's chain.

    Two key spaces: `state` for the execution layer's records (trie nodes, headers,
    bodies, receipts, lookups) and `meta` for the node's own (genesis hash,
    commit certificates, dev snapshots). `write` applies both batches in one atomic
    transaction: after a crash either all of it is there or none of it.

    Reads of damaged records and failed writes raise `LocalFaultError` and report the
    fault to `faults`, the node's latch.
    """

    faults: FaultLatch

    def get(self, key: bytes) -> bytes | None:
        """Read a key of the state key space."""
        ...

    def get_meta(self, key: bytes) -> bytes | None:
        """Read a key of the meta key space."""
        ...

    def write(self, state: Changes, meta: Changes | None = None) -> None:
        """Apply both batches atomically and durably. Raises StorageError."""
        ...

    def close(self) -> None: ...


class Clock(Protocol):
    """Where the runtime gets the current time (seconds since the epoch)."""

    def now(self) -> float: ...


# --- peer-to-peer transport ------------------------------------------------------------


class LinkClosed(PeerChainError):
    """A peer link is closed or could not be opened.

    `reason` is what was logged (and sent to the peer when possible); `offence` is set
    when the peer was at fault (malformed bytes, another network...).
    """

    def __init__(self, reason: str, offence: Offence | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offence = offence


class PeerLink(Protocol):
    """An authenticated, encrypted connection to one peer whose Hello was accepted.

    Keepalive pings and dead-peer detection happen inside; `receive` never returns
    Ping, Pong or Disconnect.
    """

    remote_id: bytes
    remote_hello: Hello
    remote_host: str
    direction: Direction

    def send(self, message: Message) -> bool:
        """Queue a message by its priority; False if dropped (the peer's queue is full)."""
        ...

    async def receive(self) -> Message:
        """The next message from the peer. Raises LinkClosed once the link is closed."""
        ...

    def close(self, reason: str, offence: Offence | None = None) -> None:
        """Send Disconnect(reason) if possible, then close. Idempotent."""
        ...


class LinkHandler(Protocol):
    """What a transport calls back into: the network service."""

    def hello(self) -> Hello:
        """The Hello to present in the next handshake."""
        ...

    def on_link(self, link: PeerLink) -> None:
        """An inbound link finished its handshake and passed the Hello checks."""
        ...

    def on_rejected(
        self, node_id: bytes | None, host: str, reason: str, offence: Offence | None
    ) -> None:
        """A link was refused during the handshake (node id None if it never proved one)."""
        ...


class PeerTransport(Protocol):
    """Opens and accepts peer links (TCP + Noise in `drivers.net`)."""

    async def start(self, handler: LinkHandler) -> tuple[str, int]:
        """Listen for inbound links; return the bound host and port."""
        ...

    async def dial(self, address: PeerAddress) -> PeerLink:
        """Connect and handshake. Raises LinkClosed (unreachable, rejected, wrong node)."""
        ...

    async def stop(self) -> None: ...


class AddressBookStore(Protocol):
    """Where the network keeps known peer addresses between runs."""

    def load_addresses(self) -> list[PeerAddress]:
        """Saved addresses; an absent or unreadable store gives an empty list."""
        ...

    def save_addresses(self, addresses: Sequence[PeerAddress]) -> None: ...


class SignerState(Protocol):
    """The validator's last-signed record, kept beside its key (see core.consensus.signguard).

    `save` makes the record of a message durable before the message is sent, and refuses
    (LocalFaultError) one that conflicts with or goes back behind the last one."""

    @property
    def last(self) -> LastSigned | None:
        """The last message signed, or None if this validator never signed."""
        ...

    def save(self, record: WalRecord) -> None: ...


class TxJournal(Protocol):
    """Where a node keeps the transactions its own clients sent until they are mined, so
    that they survive a restart. Writes raise LocalFaultError naming the cause."""

    def load(self) -> list[bytes]:
        """The journaled raw transactions, oldest first."""
        ...

    def append(self, raw: bytes) -> None: ...

    def rewrite(self, raws: Iterable[bytes]) -> None:
        """Replace the journal with `raws` (atomically)."""
        ...


class ConsensusWal(Protocol):
    """The consensus write-ahead log: this validator's own proposals and votes.

    `append` returns only once the record is durable; a vote is sent after that.
    """

    def records(self) -> list[WalRecord]:
        """Every intact record (a torn tail has been dropped)."""
        ...

    def append(self, record: WalRecord) -> None: ...

    def prune(self, below_height: int) -> None:
        """Atomically drop the records of heights below `below_height` (committed)."""
        ...

    def close(self) -> None: ...
