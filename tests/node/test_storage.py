"""The LMDB chain store: atomic batches, durability across reopen, refusal of damage."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import lmdb
import pytest

from peerchain.core.crypto import keccak256
from peerchain.core.faults import LocalFaultError, os_fault
from peerchain.drivers.storage import LmdbStore, describe_key
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


def test_a_dev_store_skips_the_flush_per_write_and_keeps_its_writes(tmp_path: Path) -> None:
    store = LmdbStore(tmp_path / "chain", durable=False)
    assert store._env.flags()["sync"] is False
    value = b"block"
    store.write({keccak256(value): value}, {b"head": b"1"})
    store.close()  # flushes
    reopened = LmdbStore(tmp_path / "chain")
    assert reopened._env.flags()["sync"] is True
    assert reopened.get(keccak256(value)) == value
    assert reopened.get_meta(b"head") == b"1"
    reopened.close()


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


def test_a_damaged_value_is_a_local_fault_naming_the_record(tmp_path: Path) -> None:
    path = tmp_path / "chain"
    store = LmdbStore(path)
    store.write({b"block-number-to-hash:7": b"\x11" * 32})
    store.close()
    data = path / "data.mdb"
    content = bytearray(data.read_bytes())
    at = content.find(b"\x11" * 32)
    while at >= 0:  # LMDB may keep a stale copy of the page too
        content[at + 3] ^= 0x10
        at = content.find(b"\x11" * 32, at + 1)
    data.write_bytes(bytes(content))
    store = LmdbStore(path)
    with pytest.raises(LocalFaultError, match="state record block-number-to-hash:7 fails its"):
        store.get(b"block-number-to-hash:7")
    fault = store.faults.current
    assert fault is not None and fault.cause == "corrupted data" and fault.path == str(data)
    store.close()


def test_a_record_found_under_another_key_fails_its_checksum(tmp_path: Path) -> None:
    store = LmdbStore(tmp_path / "chain")
    node = b"a trie node"
    store.write({keccak256(node): node})
    frames = dict(store.raw_frames("state"))
    store.close()
    env = lmdb.open(str(tmp_path / "chain"), max_dbs=4)
    with env.begin(write=True, db=env.open_db(b"state")) as txn:
        txn.put(b"\x01" * 32, frames[keccak256(node)])  # the same frame, moved
    env.close()
    store = LmdbStore(tmp_path / "chain")
    assert store.get(keccak256(node)) == node
    with pytest.raises(LocalFaultError, match="fails its checksum"):
        store.get(b"\x01" * 32)
    store.close()


def test_a_store_without_checksums_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chain"
    env = lmdb.open(str(path), max_dbs=4)
    with env.begin(write=True, db=env.open_db(b"state")) as txn:
        txn.put(b"k", b"unframed value")
    env.close()
    with pytest.raises(StorageError, match="older PeerChain without checksums"):
        LmdbStore(path)


def test_a_failed_write_names_its_cause(tmp_path: Path) -> None:
    store = LmdbStore(tmp_path / "chain", map_size=1 << 20)
    with pytest.raises(LocalFaultError) as raised:
        store.write({b"big": b"x" * (2 << 20)})
    assert raised.value.fault.cause == "no space left on device"
    assert store.faults.current == raised.value.fault
    store.close()


@pytest.mark.parametrize(
    ("code", "cause", "action"),
    [
        (errno.ENOSPC, "no space left on device", "free space"),
        (errno.EACCES, "permission denied", "write access"),
        (errno.EROFS, "read-only file system", "write access"),
        (errno.EIO, "I/O error", "check the disk"),
    ],
)
def test_os_errors_become_one_line_faults(code: int, cause: str, action: str) -> None:
    fault = os_fault(OSError(code, os.strerror(code)), "appending to the WAL", "/d/consensus.wal")
    assert fault.cause == cause
    line = fault.line()
    assert line.startswith(f"local fault: {cause}: appending to the WAL (/d/consensus.wal); ")
    assert action in line and "\n" not in line


def test_keys_are_named_readably() -> None:
    assert describe_key(b"block-number-to-hash:20") == "block-number-to-hash:20"
    assert describe_key(b"=GK" + bytes(29)) == "0x3d474b" + "00" * 29  # a hash stays hex
    assert describe_key(b"cert:" + (7).to_bytes(8, "big")) == "cert:0x0000000000000007"
