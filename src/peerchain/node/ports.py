"""Ports: the small interfaces through which the node runtime reaches the outside.

Drivers implement them; tests use in-memory twins from `peerchain.testing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from peerchain.core.errors import PeerChainError

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
    """

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
