"""LMDB implementation of the `ChainStore` port: one environment per data directory.

Every `write` is a single LMDB write transaction, synced to disk before it returns,
so a process killed at any instant leaves the last committed batch intact.

Nothing read back is trusted. Each value is stored in a frame::

    xxh3-64 of (key, value) (8) | value

A frame that fails its checksum (damaged bytes, or a record found under another key) is
a local fault: the read raises `LocalFaultError` naming the record, and the fault is
reported to the store's `FaultLatch`. LMDB's own damage reports (a page that is not
where the tree says) are faults the same way. The checksum proves a content-addressed
record (trie node, code, header: key = keccak of value, as py-evm wrote it) is the one
that was written; re-hashing it on every read would cost a keccak per trie node read,
so the keccak itself is checked by the start-up check (headers, top state nodes) and by
`peerchain db check` (every node).

Opening refuses, with one line, what would otherwise crash the process or silently
start a new chain: a `data.mdb` shorter than its own meta page says (a truncated file is
mapped into memory and reading past its end kills the process with SIGBUS), a
`data.mdb` that is missing or empty in a directory that held a store, and a store
written without checksums.
"""

from __future__ import annotations

import errno
import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lmdb
import xxhash

from peerchain.core.faults import FaultLatch, LocalFault, LocalFaultError, corrupted, os_fault
from peerchain.node.ports import Changes, StorageError

_MAP_SIZE = 1 << 36  # 64 GiB of address space; the file grows as needed.
_HEADER = 8
FORMAT = b"peerchain-store 3\n"
FORMAT_FILE = "FORMAT"
_FORMAT_KEY = b"store-format"
# A disk with less free space than this when a write fails with EIO is taken to be full.
_NEARLY_FULL = 1 << 20
# LMDB's meta pages: page header (16 bytes), then magic, version, address, map size, two
# database records of 48 bytes (the first one's pad field holds the page size), the last
# page number and the transaction id.
_LMDB_MAGIC = 0xBEEFC0DE
_META = struct.Struct("<IIQQI44x48xQQ")


def encode_record(key: bytes, value: bytes) -> bytes:
    """The stored frame of `value` under `key`."""
    return _checksum(key, value) + value


def decode_record(key: bytes, frame: bytes) -> bytes | None:
    """The value in a stored frame, or None if the frame is damaged."""
    value = frame[_HEADER:]
    if len(frame) < _HEADER or frame[:_HEADER] != _checksum(key, value):
        return None
    return value


def _checksum(key: bytes, value: bytes) -> bytes:
    return xxhash.xxh3_64_digest(key + value, seed=len(key))


def describe_key(key: bytes) -> str:
    """A record's key as an operator can read it: a hash in hex, else its text prefix
    (py-evm's lookup names), then hex."""
    if len(key) == 32:
        return "0x" + key.hex()
    printable = next((i for i, b in enumerate(key) if not 32 <= b < 127), len(key))
    if printable == len(key):
        return key.decode()
    if printable >= 3:
        return key[:printable].decode() + "0x" + key[printable:].hex()
    return "0x" + key.hex()


class LmdbStore:
    """A `ChainStore` kept in `<path>/` (data.mdb + lock.mdb + FORMAT).

    Raises StorageError when it cannot be opened (with the reason in one line), and
    LocalFaultError for damaged records and failed writes (reported to `faults`).
    With `durable=False` (dev chains) a write is not flushed to the disk before it
    returns: a crashed process loses nothing, a crashed machine may lose the last
    writes (LMDB keeps the database consistent); `close` flushes. With `readonly`, a
    reader of a store that another process writes (the node's query workers): every
    read sees the last committed write; `write` fails."""

    def __init__(
        self,
        path: Path,
        *,
        map_size: int = _MAP_SIZE,
        faults: FaultLatch | None = None,
        durable: bool = True,
        readonly: bool = False,
    ) -> None:
        self.faults = faults if faults is not None else FaultLatch()
        self._path = path
        self._durable = durable
        _check_files(path)
        try:
            self._env = lmdb.open(
                str(path),
                map_size=map_size,
                max_dbs=4,
                subdir=True,
                sync=durable,
                metasync=durable,
                readonly=readonly,
            )
            # Read slots left by killed readers would keep old pages from reuse.
            self._env.reader_check()
            self._state = self._env.open_db(b"state", create=not readonly)
            self._meta = self._env.open_db(b"meta", create=not readonly)
        except lmdb.Error as exc:
            raise StorageError(f"cannot open chain database in {path}: {exc}") from exc
        self._check_format()

    @property
    def path(self) -> Path:
        return self._path

    def _check_format(self) -> None:
        with self._env.begin(db=self._meta) as txn:
            stored = txn.get(_FORMAT_KEY)
            empty = _is_empty(txn, self._state, self._meta)
        if stored is None and not empty:
            raise StorageError(
                f"the chain database in {self._path} was written by an older PeerChain "
                "without checksums; move it aside and resync from peers"
            )
        if stored is None:
            self.write({}, {_FORMAT_KEY: FORMAT})
            _write_format_file(self._path)
        elif decode_record(_FORMAT_KEY, bytes(stored)) != FORMAT:
            raise StorageError(
                f"the chain database in {self._path} has an unknown or damaged format "
                "record; move it aside and resync from peers, or restore a backup"
            )
        elif not (self._path / FORMAT_FILE).exists():
            _write_format_file(self._path)

    # --- reads ----------------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        return self._read(self._state, "state", key)

    def get_meta(self, key: bytes) -> bytes | None:
        return self._read(self._meta, "meta", key)

    def _read(self, db: Any, table: str, key: bytes) -> bytes | None:
        try:
            with self._env.begin(db=db, buffers=False) as txn:
                frame = txn.get(key)
        except (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.InvalidError) as exc:
            raise self._damaged(f"reading {table} record {describe_key(key)}: {exc}") from exc
        except lmdb.Error as exc:
            raise StorageError(f"cannot read chain database in {self._path}: {exc}") from exc
        if frame is None:
            return None
        value = decode_record(key, frame)
        if value is None:
            raise self._damaged(f"{table} record {describe_key(key)} fails its checksum")
        return value

    def _damaged(self, detail: str) -> LocalFaultError:
        return self.faults.raise_fault(corrupted(detail, str(self._path / "data.mdb")))

    def records(self, table: str) -> Iterator[tuple[bytes, bytes | None]]:
        """Every (key, value) of a table ("state" or "meta") in key order; value None
        for a damaged frame. Raises LocalFaultError if LMDB finds its tree damaged."""
        for key, frame in self.raw_frames(table):
            yield key, decode_record(key, frame)

    def raw_frames(self, table: str) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, stored frame) of a table, unchecked."""
        db = self._state if table == "state" else self._meta
        try:
            with self._env.begin(db=db, buffers=False) as txn:
                yield from txn.cursor()
        except (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.InvalidError) as exc:
            raise self._damaged(f"walking the {table} table: {exc}") from exc

    def count(self, table: str) -> int:
        """How many records a table holds."""
        db = self._state if table == "state" else self._meta
        with self._env.begin(db=db) as txn:
            return int(txn.stat(db)["entries"])

    # --- writes ---------------------------------------------------------------------------
    def write(self, state: Changes, meta: Changes | None = None) -> None:
        try:
            with self._env.begin(write=True) as txn:
                _apply(txn, self._state, state)
                if meta:
                    _apply(txn, self._meta, meta)
        except lmdb.Error as exc:
            error = _os_error(exc)
            if error is None:
                raise StorageError(f"cannot write chain database in {self._path}: {exc}") from exc
            raise self.faults.raise_fault(self._write_fault(error)) from exc

    def _write_fault(self, error: OSError) -> LocalFault:
        if error.errno == errno.EIO and _free_space(self._path) < _NEARLY_FULL:
            error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os_fault(error, "committing to the chain database", str(self._path / "data.mdb"))

    def close(self) -> None:
        try:
            if not self._durable:
                self._env.sync(True)
        except lmdb.Error as exc:
            raise StorageError(f"cannot flush chain database in {self._path}: {exc}") from exc
        finally:
            self._env.close()


def _apply(txn: lmdb.Transaction, db: Any, changes: Changes) -> None:
    for key, value in changes.items():
        if value is None:
            txn.delete(key, db=db)
        else:
            txn.put(key, encode_record(key, value), db=db)


def _is_empty(txn: lmdb.Transaction, *dbs: Any) -> bool:
    return all(txn.stat(db)["entries"] == 0 for db in dbs)


def _write_format_file(path: Path) -> None:
    try:
        (path / FORMAT_FILE).write_bytes(FORMAT)
    except OSError as exc:
        raise StorageError(f"cannot write {path / FORMAT_FILE}: {exc.strerror}") from exc


def _check_files(path: Path) -> None:
    """Refuse a store directory whose data file is missing, empty or truncated.
    Raises StorageError."""
    data = path / "data.mdb"
    try:
        path.mkdir(parents=True, exist_ok=True)
        size = data.stat().st_size if data.exists() else None
        held_store = (path / FORMAT_FILE).exists()
        if size is None or size == 0:
            if held_store:
                what = "missing" if size is None else "empty (0 bytes)"
                raise StorageError(
                    f"the chain database {data} is {what} but this directory held a chain; "
                    "restore it from a backup, or move the directory aside to resync from peers"
                )
            return
        with data.open("rb") as f:
            head = f.read(2 * 65536)
    except OSError as exc:
        raise StorageError(f"cannot open chain database in {path}: {exc.strerror}") from exc
    needed = _lmdb_size(head)
    if needed is None:
        raise StorageError(
            f"cannot open chain database {data}: not an LMDB database or its header is "
            "damaged; restore it from a backup, or move the directory aside to resync"
        )
    if size < needed:
        raise StorageError(
            f"the chain database {data} is truncated ({size} bytes, its header needs "
            f"{needed}); restore it from a backup, or move the directory aside to resync "
            "from peers"
        )


def _lmdb_size(head: bytes) -> int | None:
    """The file size LMDB's newest valid meta page requires, or None if neither is valid."""
    metas = []
    if len(head) < 16 + _META.size:
        return None
    first = _META.unpack_from(head, 16)
    page_size = first[4]
    for offset in (0, page_size):
        if page_size < 512 or offset + 16 + _META.size > len(head):
            continue
        magic, version, _, _, _, last_page, txn_id = _META.unpack_from(head, offset + 16)
        if magic == _LMDB_MAGIC and version == 1:
            metas.append((txn_id, last_page))
    if not metas:
        return None
    _, last_page = max(metas)
    return int((last_page + 1) * page_size)


def _os_error(exc: lmdb.Error) -> OSError | None:
    """The OS error behind an LMDB error (full disk, permission, I/O), if that is what it is."""
    text = str(exc)
    for code in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO):
        if os.strerror(code) in text:
            return OSError(code, os.strerror(code))
    if isinstance(exc, lmdb.MapFullError):
        return OSError(errno.ENOSPC, "the database reached its map size")
    return None


def _free_space(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0
