"""Gossip bookkeeping: a bounded seen-cache and per-peer known sets.

A node delivers each gossiped message once (the seen-cache, keyed by message id) and
sends it at most once to each peer (the peer's known set holds what the peer sent us
or we sent it). Both are bounded LRU sets, so memory stays flat whatever peers send.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from enum import Enum

from peerchain.core.crypto import keccak256


class Relay(Enum):
    """A node's verdict on a gossiped payload before it delivers or forwards it."""

    RELAY = "relay"  # deliver here and forward to peers
    DELIVER = "deliver"  # deliver here only (valid, but not for the whole network now)
    DROP = "drop"  # neither, and no fault of the sender (known, stale, full pool)
    REJECT = "reject"  # forged or malformed: drop, and the sender is at fault


def message_id(channel: int, payload: bytes) -> bytes:
    """The 32-byte id of a gossiped payload on a channel."""
    return keccak256(bytes([channel]) + payload)


class BoundedSet:
    """A set that forgets its least recently added or touched entry beyond `capacity`."""

    __slots__ = ("_items", "capacity")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._items: OrderedDict[bytes, None] = OrderedDict()

    def __contains__(self, item: bytes) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: bytes) -> bool:
        """Insert `item` (or refresh it); return True if it was not there."""
        items = self._items
        if item in items:
            items.move_to_end(item)
            return False
        items[item] = None
        if len(items) > self.capacity:
            items.popitem(last=False)
        return True


class GossipBook:
    """Which messages this node has seen and which each peer is known to have."""

    def __init__(self, *, seen_capacity: int = 100_000, known_capacity: int = 20_000) -> None:
        self._seen = BoundedSet(seen_capacity)
        self._known: dict[bytes, BoundedSet] = {}
        self._known_capacity = known_capacity

    def add_peer(self, peer_id: bytes) -> None:
        self._known.setdefault(peer_id, BoundedSet(self._known_capacity))

    def remove_peer(self, peer_id: bytes) -> None:
        self._known.pop(peer_id, None)

    def has_seen(self, msg_id: bytes) -> bool:
        return msg_id in self._seen

    def observe(self, msg_id: bytes, from_peer: bytes | None = None) -> bool:
        """Record a message, received from `from_peer` (None: made here).

        Returns True the first time this node sees it: deliver and forward it then.
        """
        if from_peer is not None and from_peer in self._known:
            self._known[from_peer].add(msg_id)
        return self._seen.add(msg_id)

    def targets(self, msg_id: bytes, peers: Iterable[bytes]) -> list[bytes]:
        """The peers among `peers` not known to have the message; they are now marked."""
        chosen = []
        for peer in peers:
            known = self._known.get(peer)
            if known is not None and known.add(msg_id):
                chosen.append(peer)
        return chosen
