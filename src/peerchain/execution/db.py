"""py-evm's database seen through the node's store: reads fall through, writes stay.

`OverlayDB` is the `BaseDB` py-evm writes into during one execution: reads look in
the overlay first, then in the store's `KeyValueReader`; writes and deletes only
touch the overlay. `changes` is what the node persists afterwards, in one write.
"""

from __future__ import annotations

from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB

from peerchain.core.kv import KeyValueReader

_DELETED = None


class OverlayDB(BaseDB):
    """A write overlay over a read-only store. `changes` maps key -> value or None."""

    def __init__(self, reader: KeyValueReader) -> None:
        self._reader = reader
        self.changes: dict[bytes, bytes | None] = {}

    def __getitem__(self, key: bytes) -> bytes:
        value = self.changes[key] if key in self.changes else self._reader.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.changes[key] = bytes(value)

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        self.changes[key] = _DELETED

    def _exists(self, key: bytes) -> bool:
        if key in self.changes:
            return self.changes[key] is not None
        return self._reader.get(key) is not None


def open_overlay(reader: KeyValueReader) -> tuple[AtomicDB, OverlayDB]:
    """An atomic py-evm database over `reader` and the overlay that collects its writes."""
    overlay = OverlayDB(reader)
    return AtomicDB(overlay), overlay
