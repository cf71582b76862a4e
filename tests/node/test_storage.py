"""The LMDB chain store: atomic batches, durability across reopen, refusal of damage."""

from __future__ import annotations

from pathlib import Path

import pytest

from peerchain.drivers.storage import LmdbStore
from peerchain.node.ports import StorageError


def test_batch_is_visible_after_reopen(tmp_path: Path) -> None:
    store = LmdbStore(tmp_path / "chain")
    store.write({b"k1": b"v1", b"k2": b"v2"}, {b"meta": b"m"})
    store.write({b"k1": None})
    store.close()
    again = LmdbStore(tmp_path / "chain")
    assert again.get(b"k1") is None
    assert again.get(b"k2") == b"v2"
    assert again.get_meta(b"meta") == b"m"
    assert again.get(b"meta") is None  # key spaces are separate
    again.close()


def test_failed_batch_writes_nothing(tmp_path: Path) -> None:
    store = LmdbStore(tmp_path / "chain")
    with pytest.raises(StorageError):
        store.write({b"good": b"1", b"": b"empty keys are invalid in LMDB"})
    assert store.get(b"good") is None
    store.close()


def test_corrupt_database_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "chain"
    store = LmdbStore(path)
    store.write({b"k": b"v"})
    store.close()
    (path / "data.mdb").write_bytes(b"\xde\xad\xbe\xef" * 4096)
    with pytest.raises(StorageError, match="cannot open chain database"):
        LmdbStore(path)
