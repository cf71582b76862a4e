"""The mempool journal: transactions this node accepted from its own clients, kept in a
file so that they survive a restart (as geth's transactions.rlp). The `TxJournal` port.

Each transaction is one frame, ``length (4) | crc32 (4) | raw transaction``, appended
with one write before the client gets the hash: a process killed right after (kill -9)
loses nothing, since the data is in the kernel's page cache (it is not fsynced per
transaction: a power cut may lose the last ones, which their senders resend). Reading
stops at the first frame that is cut short or fails its checksum. `rewrite` replaces the
file atomically with the transactions still waiting, so the file stays small.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

from peerchain.core.faults import LocalFaultError, os_fault
from peerchain.drivers.files import replace_file, write_all

log = logging.getLogger(__name__)

JOURNAL_FILE = "transactions.journal"  # in the data directory
_HEADER = struct.Struct(">II")
MAX_TX_BYTES = 1 << 20


def decode_journal(data: bytes) -> tuple[list[bytes], int]:
    """The transactions of a journal and how many bytes of damaged tail follow them."""
    found: list[bytes] = []
    pos = 0
    while len(data) - pos >= _HEADER.size:
        length, checksum = _HEADER.unpack_from(data, pos)
        start, end = pos + _HEADER.size, pos + _HEADER.size + length
        if not 0 < length <= MAX_TX_BYTES or end > len(data):
            break
        raw = data[start:end]
        if zlib.crc32(raw) != checksum:
            break
        found.append(raw)
        pos = end
    return found, len(data) - pos


def encode_journal_entry(raw: bytes) -> bytes:
    return _HEADER.pack(len(raw), zlib.crc32(raw)) + raw


class TxJournalFile:
    """A `TxJournal` in one file. Write failures raise LocalFaultError naming the cause."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[bytes]:
        """The journaled transactions, oldest first (an unreadable file: none)."""
        try:
            data = self.path.read_bytes() if self.path.exists() else b""
        except OSError as exc:
            log.warning("cannot read the transaction journal %s: %s", self.path, exc)
            return []
        found, damaged = decode_journal(data)
        if damaged:
            log.warning("transaction journal %s: %d bytes of damaged tail", self.path, damaged)
        return found

    def append(self, raw: bytes) -> None:
        """Journal one accepted transaction."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                write_all(fd, encode_journal_entry(raw))
            finally:
                os.close(fd)
        except OSError as exc:
            fault = os_fault(exc, "journaling a transaction", str(self.path))
            raise LocalFaultError(fault) from exc

    def rewrite(self, raws: Iterable[bytes]) -> None:
        """Replace the journal with `raws` (the transactions still waiting), atomically."""
        entries = b"".join(encode_journal_entry(raw) for raw in raws)
        try:
            replace_file(self.path, entries, sync_directory=False)
        except OSError as exc:
            fault = os_fault(exc, "rewriting the transaction journal", str(self.path))
            raise LocalFaultError(fault) from exc
