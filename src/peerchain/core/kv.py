"""The read port of the chain's key-value store.

The execution layer reads trie nodes, headers, bodies, receipts and lookups through
`KeyValueReader`; it never writes. Writes leave it as a change set (`key -> value`,
`None` deleting the key) that the node persists in one atomic transaction. A plain
`dict[bytes, bytes]` satisfies the protocol, which is what tests use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

# A batch of writes: a value of None deletes the key.
Changes = Mapping[bytes, bytes | None]


class KeyValueReader(Protocol):
    """Read access to one key space of the store."""

    def get(self, key: bytes) -> bytes | None:
        """The value stored under `key`, or None when there is none."""
        ...


def apply_changes(store: dict[bytes, bytes], changes: Changes) -> None:
    """Apply a change set to an in-memory store (the twin of one store write)."""
    for key, value in changes.items():
        if value is None:
            store.pop(key, None)
        else:
            store[key] = value
