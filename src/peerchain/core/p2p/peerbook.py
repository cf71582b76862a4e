"""The address book: known peers in XOR-distance buckets, connection limits, dial backoff.

Peers are filed by the bit length of (their node id XOR ours), Kademlia style, with at
most `bucket_size` ordinary peers a bucket, so the book keeps a spread of the id space
instead of whoever floods it with addresses. Persistent peers (configured by the
operator) are never evicted and are redialled forever; ordinary peers are dropped after
`max_failures` failed dials in a row. The delay before redialling grows as
`backoff_base * 2**(failures - 1)` up to `backoff_max`, computed from the `now` passed in.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from enum import Enum

from peerchain.core.crypto import keccak256
from peerchain.core.p2p.identity import PeerAddress


class Direction(Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclass(slots=True)
class _Entry:
    address: PeerAddress
    persistent: bool
    failures: int = 0
    next_dial: float = 0.0
    connected_at: float | None = None


class PeerBook:
    """Known addresses and current connections of one node."""

    def __init__(
        self,
        own_id: bytes,
        *,
        bucket_size: int = 16,
        max_inbound: int = 24,
        max_outbound: int = 8,
        backoff_base: float = 1.0,
        backoff_max: float = 120.0,
        max_failures: int = 6,
        stable_after: float = 10.0,
    ) -> None:
        self.own_id = own_id
        self.bucket_size = bucket_size
        self.max_inbound = max_inbound
        self.max_outbound = max_outbound
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_failures = max_failures
        self.stable_after = stable_after
        self._entries: dict[bytes, _Entry] = {}
        self._buckets: dict[int, set[bytes]] = {}
        self._connected: dict[bytes, Direction] = {}

    # --- addresses ------------------------------------------------------------------

    def bucket_of(self, node_id: bytes) -> int:
        """Bucket index: bit length of the XOR distance to our id (0 only for ourselves)."""
        return (int.from_bytes(node_id, "big") ^ int.from_bytes(self.own_id, "big")).bit_length()

    def add(self, address: PeerAddress, now: float, *, persistent: bool = False) -> bool:
        """Learn an address; return True if the book now holds it. A full bucket takes a
        new peer only in place of one that failed its last dial."""
        node_id = address.node_id
        if node_id == self.own_id:
            return False
        entry = self._entries.get(node_id)
        if entry is not None:
            if persistent and not entry.persistent:
                entry.persistent = True
            if not entry.persistent or persistent:
                entry.address = address
            return True
        bucket = self._buckets.setdefault(self.bucket_of(node_id), set())
        if not persistent and len(bucket) >= self.bucket_size and not self._evict_from(bucket):
            return False
        self._entries[node_id] = _Entry(address, persistent, next_dial=now)
        bucket.add(node_id)
        return True

    def _evict_from(self, bucket: set[bytes]) -> bool:
        failed = [
            n
            for n in bucket
            if not self._entries[n].persistent
            and self._entries[n].failures > 0
            and n not in self._connected
        ]
        if not failed:
            return False
        self.remove(max(failed, key=lambda n: (self._entries[n].failures, n)))
        return True

    def remove(self, node_id: bytes) -> None:
        if self._entries.pop(node_id, None) is not None:
            self._buckets[self.bucket_of(node_id)].discard(node_id)

    def get(self, node_id: bytes) -> PeerAddress | None:
        entry = self._entries.get(node_id)
        return None if entry is None else entry.address

    def is_persistent(self, node_id: bytes) -> bool:
        entry = self._entries.get(node_id)
        return entry is not None and entry.persistent

    def addresses(self) -> list[PeerAddress]:
        """Every known address, sorted by node id."""
        return [self._entries[n].address for n in sorted(self._entries)]

    def bucket_sizes(self) -> dict[int, int]:
        return {index: len(ids) for index, ids in self._buckets.items() if ids}

    def sample(self, limit: int, seed: bytes) -> list[PeerAddress]:
        """Up to `limit` known addresses, a pseudo-random choice fixed by `seed`."""
        order = sorted(self._entries, key=lambda n: keccak256(seed + n))
        return [self._entries[n].address for n in order[:limit]]

    # --- connections ----------------------------------------------------------------

    def direction(self, node_id: bytes) -> Direction | None:
        return self._connected.get(node_id)

    def count(self, direction: Direction) -> int:
        return sum(1 for d in self._connected.values() if d is direction)

    def can_connect(self, node_id: bytes, direction: Direction) -> bool:
        """Whether a new link to `node_id` fits the limits (persistent peers always fit)."""
        if node_id in self._connected or node_id == self.own_id:
            return False
        if self.is_persistent(node_id):
            return True
        limit = self.max_inbound if direction is Direction.INBOUND else self.max_outbound
        return self.count(direction) < limit

    def mark_connected(self, node_id: bytes, direction: Direction, now: float) -> None:
        self._connected[node_id] = direction
        entry = self._entries.get(node_id)
        if entry is not None:
            entry.connected_at = now

    def mark_disconnected(self, node_id: bytes, now: float) -> None:
        """Forget the link. After a link that lasted `stable_after` seconds the peer may be
        redialled after `backoff_base`; a shorter one (a peer that bans us, or drops us at
        once) counts as a failed dial, so the delay grows."""
        self._connected.pop(node_id, None)
        entry = self._entries.get(node_id)
        if entry is None:
            return
        started, entry.connected_at = entry.connected_at, None
        if started is not None and now - started < self.stable_after:
            self.mark_dial_failed(node_id, now)
            return
        entry.failures = 0
        entry.next_dial = now + self.backoff_base

    def mark_dial_failed(self, node_id: bytes, now: float) -> None:
        """Count a failed dial and push the next one back, or drop an ordinary peer."""
        entry = self._entries.get(node_id)
        if entry is None:
            return
        entry.failures += 1
        if not entry.persistent and entry.failures >= self.max_failures:
            self.remove(node_id)
            return
        entry.next_dial = now + self.backoff(entry.failures)

    def backoff(self, failures: int) -> float:
        """Delay before the next dial after `failures` failures in a row."""
        if failures <= 0:
            return 0.0
        return min(self.backoff_max, self.backoff_base * 2.0 ** min(failures - 1, 60))

    def dial_candidates(
        self, now: float, exclude: Container[bytes], pending: int = 0
    ) -> list[PeerAddress]:
        """Peers to dial now: every due persistent peer, then due ordinary peers taken one
        per bucket in turn (nearest bucket last) up to the free outbound slots."""
        due = [
            e
            for n, e in self._entries.items()
            if e.next_dial <= now and n not in self._connected and n not in exclude
        ]
        chosen = [e.address for e in sorted(due, key=lambda e: e.address.node_id) if e.persistent]
        slots = self.max_outbound - self.count(Direction.OUTBOUND) - pending - len(chosen)
        by_bucket: dict[int, list[_Entry]] = {}
        for e in sorted(due, key=lambda e: (e.failures, e.address.node_id)):
            if not e.persistent:
                by_bucket.setdefault(self.bucket_of(e.address.node_id), []).append(e)
        rounds = [by_bucket[b] for b in sorted(by_bucket, reverse=True)]
        depth = 0
        while slots > 0 and any(depth < len(r) for r in rounds):
            for r in rounds:
                if depth < len(r) and slots > 0:
                    chosen.append(r[depth].address)
                    slots -= 1
            depth += 1
        return chosen

    def next_dial_time(self, exclude: Container[bytes]) -> float | None:
        """When the earliest unconnected peer becomes due, or None if there is none."""
        times = [
            e.next_dial
            for n, e in self._entries.items()
            if n not in self._connected and n not in exclude
        ]
        return min(times, default=None)
