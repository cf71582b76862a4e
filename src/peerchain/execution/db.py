"""py-evm's database seen through the node's store: reads fall through, writes stay.

`OverlayDB` is the `BaseDB` py-evm writes into during one execution: reads look in
the overlay first, then in the store's `KeyValueReader`; writes and deletes only
touch the overlay. `changes` is what the node persists afterwards, in one write.
`ExecutionDB` is the atomic database py-evm is given; it carries the engine's
`StateCache`, through which the state layer (`accountdb`) finds the decoded tries that
outlive one execution.
"""

from __future__ import annotations

from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB

from peerchain.core.kv import KeyValueReader
from peerchain.execution.statecache import StateCache

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


class ExecutionDB(AtomicDB):
    """py-evm's atomic database over an overlay, with the state cache beside it."""

    def __init__(self, overlay: OverlayDB, state_cache: StateCache) -> None:
        super().__init__(overlay)
        self.state_cache = state_cache


def open_overlay(
    reader: KeyValueReader, state_cache: StateCache | None = None
) -> tuple[ExecutionDB, OverlayDB]:
    """An atomic py-evm database over `reader` and the overlay that collects its writes;
    decoded state comes from `state_cache` (a fresh one if None)."""
    overlay = OverlayDB(reader)
    return ExecutionDB(overlay, StateCache() if state_cache is None else state_cache), overlay
