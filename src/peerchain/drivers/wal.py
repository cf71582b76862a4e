"""The consensus write-ahead log as an append-only file, fsynced on every append."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from peerchain.core.consensus.wal import WalRecord, decode_wal, encode_wal_record
from peerchain.core.errors import DecodeError
from peerchain.core.faults import LocalFaultError, os_fault
from peerchain.drivers.files import replace_file, write_all
from peerchain.node.ports import StorageError

log = logging.getLogger(__name__)


class WalFile:
    """A `ConsensusWal` in one file. Opening drops a torn tail (truncating the file) and
    refuses, with StorageError, a file damaged anywhere else. A failed append, fsync or
    prune raises LocalFaultError naming the cause (no space left, permission, I/O)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = path.read_bytes() if path.exists() else b""
            contents = decode_wal(data)
        except DecodeError as exc:
            raise StorageError(
                f"consensus WAL {path} is damaged: {exc}; the validator's last-signed "
                "record still prevents double signing: move the WAL aside and restart"
            ) from exc
        except OSError as exc:
            raise StorageError(f"cannot read consensus WAL {path}: {exc}") from exc
        self._records = list(contents.records)
        if contents.discarded:
            log.warning("dropping %d bytes of torn tail from %s", contents.discarded, path)
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            os.ftruncate(self._fd, contents.valid_length)
            os.lseek(self._fd, 0, os.SEEK_END)
            os.fsync(self._fd)
        except OSError as exc:
            raise StorageError(f"cannot open consensus WAL {path}: {exc}") from exc

    def records(self) -> list[WalRecord]:
        return list(self._records)

    def append(self, record: WalRecord) -> None:
        frame = encode_wal_record(record)
        try:
            write_all(self._fd, frame)
            os.fsync(self._fd)
        except OSError as exc:
            fault = os_fault(exc, "appending to the consensus WAL", str(self.path))
            raise LocalFaultError(fault) from exc
        self._records.append(record)

    def prune(self, below_height: int) -> None:
        kept = [r for r in self._records if r.height >= below_height]
        if len(kept) == len(self._records):
            return
        try:
            replace_file(self.path, b"".join(encode_wal_record(r) for r in kept))
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_RDWR)
            os.lseek(self._fd, 0, os.SEEK_END)
        except OSError as exc:
            fault = os_fault(exc, "pruning the consensus WAL", str(self.path))
            raise LocalFaultError(fault) from exc
        self._records = kept

    def close(self) -> None:
        os.close(self._fd)
