"""An in-memory twin of the node's chain store (the `ChainStore` port of `node.ports`),
as py-evm's `MemoryDB` is of its database: a ledger, a dev node or a chain application
runs on it with no LMDB and no files, and so do the tests that compare it with
`drivers.storage.LmdbStore`.

It keeps the port's promises: two key spaces, `write` applies both batches or neither,
keys LMDB would refuse (empty, or longer than 511 bytes) are refused with StorageError
before anything changes, and a closed store refuses every call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peerchain.core.faults import FaultLatch
from peerchain.node.ports import ChainStore, Changes, StorageError

MAX_KEY_SIZE = 511  # LMDB's default


class MemoryChainStore:
    """A `ChainStore` held in two dicts."""

    def __init__(self, faults: FaultLatch | None = None) -> None:
        self.faults = faults if faults is not None else FaultLatch()
        self._state: dict[bytes, bytes] = {}
        self._meta: dict[bytes, bytes] = {}
        self._closed = False
        self.writes = 0  # batches applied

    def get(self, key: bytes) -> bytes | None:
        self._check_open()
        return self._state.get(key)

    def get_meta(self, key: bytes) -> bytes | None:
        self._check_open()
        return self._meta.get(key)

    def write(self, state: Changes, meta: Changes | None = None) -> None:
        """Apply both batches at once. Raises StorageError (nothing written)."""
        self._check_open()
        batches = ((self._state, state), (self._meta, meta or {}))
        for _, changes in batches:
            for key in changes:
                if not 0 < len(key) <= MAX_KEY_SIZE:
                    raise StorageError(f"invalid key of {len(key)} bytes for the chain store")
        for table, changes in batches:
            for key, value in changes.items():
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = bytes(value)
        self.writes += 1

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the chain store is closed")

    def __len__(self) -> int:
        """How many records both key spaces hold."""
        return len(self._state) + len(self._meta)


if TYPE_CHECKING:  # mypy holds the twin to the port
    _twin: ChainStore = MemoryChainStore()
