"""LMDB implementation of the `ChainStore` port: one environment per data directory.

Every `write` is a single LMDB write transaction, synced to disk before it returns,
so a process killed at any instant leaves the last committed batch intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lmdb

from peerchain.node.ports import Changes, StorageError

_MAP_SIZE = 1 << 36  # 64 GiB of address space; the file grows as needed.


class LmdbStore:
    """A `ChainStore` kept in `<path>/` (data.mdb + lock.mdb). Raises StorageError."""

    def __init__(self, path: Path, *, map_size: int = _MAP_SIZE) -> None:
        path.mkdir(parents=True, exist_ok=True)
        try:
            self._env = lmdb.open(
                str(path), map_size=map_size, max_dbs=4, subdir=True, sync=True, metasync=True
            )
            self._state = self._env.open_db(b"state")
            self._meta = self._env.open_db(b"meta")
        except lmdb.Error as exc:
            raise StorageError(f"cannot open chain database in {path}: {exc}") from exc
        self._path = path

    @property
    def path(self) -> Path:
        return self._path

    def get(self, key: bytes) -> bytes | None:
        return self._read(self._state, key)

    def get_meta(self, key: bytes) -> bytes | None:
        return self._read(self._meta, key)

    def _read(self, db: Any, key: bytes) -> bytes | None:
        try:
            with self._env.begin(db=db, buffers=False) as txn:
                value = txn.get(key)
        except lmdb.Error as exc:
            raise StorageError(f"cannot read chain database in {self._path}: {exc}") from exc
        return None if value is None else bytes(value)

    def write(self, state: Changes, meta: Changes | None = None) -> None:
        try:
            with self._env.begin(write=True) as txn:
                _apply(txn, self._state, state)
                if meta:
                    _apply(txn, self._meta, meta)
        except lmdb.Error as exc:
            raise StorageError(f"cannot write chain database in {self._path}: {exc}") from exc

    def close(self) -> None:
        self._env.close()


def _apply(txn: lmdb.Transaction, db: Any, changes: Changes) -> None:
    for key, value in changes.items():
        if value is None:
            txn.delete(key, db=db)
        else:
            txn.put(key, value, db=db)
