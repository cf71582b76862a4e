"""Write-ahead log records: this validator's own proposals and votes, framed so that a
torn tail is found and dropped.

The node appends `encode_wal_record(record)` and makes it durable before it carries out
the outputs that follow the `PersistWal` (sending the message). A frame is::

    length (4) | crc32 of payload (4) | payload (`wire.encode_message` of the record)

A crash while appending leaves at most the last frame incomplete or garbled: decoding
stops at the first frame that is cut short or fails its checksum and reports how many
bytes of intact prefix there are, so the driver truncates the file there. Nothing after
that point was ever sent, because sending waits for the write. Anything else is not a
torn write but a damaged or foreign file, `WalCorrupted`: a frame whose checksum holds
but whose payload is not a proposal or vote, or a bad frame followed by an intact frame
holding one (damage in the middle; truncating there would throw away records of
messages that were sent).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from peerchain.core.consensus.messages import Proposal, Vote
from peerchain.core.consensus.wire import decode_message, encode_message
from peerchain.core.errors import DecodeError

WalRecord = Proposal | Vote

_HEADER = struct.Struct(">II")
MAX_RECORD_SIZE = 64 * 1024 * 1024


class WalCorrupted(DecodeError):
    """An intact WAL frame holds something other than a proposal or vote."""


@dataclass(frozen=True, slots=True)
class WalContents:
    """The records of a WAL and the size of its intact prefix (`valid_length` bytes);
    `discarded` bytes of torn tail follow it."""

    records: tuple[WalRecord, ...]
    valid_length: int
    discarded: int


def encode_wal_record(record: WalRecord) -> bytes:
    """One frame holding `record`. Raises ValueError on bad fields."""
    payload = encode_message(record)
    if len(payload) > MAX_RECORD_SIZE:
        raise ValueError(f"WAL record of {len(payload)} bytes exceeds {MAX_RECORD_SIZE}")
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode_wal(data: bytes) -> WalContents:
    """Decode a WAL byte stream, dropping a torn tail. Raises WalCorrupted."""
    records: list[WalRecord] = []
    pos = 0
    while len(data) - pos >= _HEADER.size:
        length, checksum = _HEADER.unpack_from(data, pos)
        start = pos + _HEADER.size
        end = start + length
        if length == 0 or length > MAX_RECORD_SIZE or end > len(data):
            break
        payload = data[start:end]
        if zlib.crc32(payload) != checksum:
            break
        try:
            record = decode_message(payload)
        except DecodeError as exc:
            raise WalCorrupted(f"WAL record at offset {pos}: {exc}") from exc
        if not isinstance(record, Proposal | Vote):
            raise WalCorrupted(f"WAL record at offset {pos} is not a proposal or vote")
        records.append(record)
        pos = end
    if pos < len(data):
        _refuse_if_intact_records_follow(data, pos)
    return WalContents(tuple(records), pos, len(data) - pos)


def _refuse_if_intact_records_follow(data: bytes, bad: int) -> None:
    """Raise WalCorrupted if some offset after the bad frame at `bad` starts an intact
    frame holding a proposal or vote: a torn write is the last frame, nothing follows it."""
    for start in range(bad + 1, len(data) - _HEADER.size):
        length, checksum = _HEADER.unpack_from(data, start)
        end = start + _HEADER.size + length
        if length == 0 or end > len(data):
            continue
        payload = data[start + _HEADER.size : end]
        if zlib.crc32(payload) != checksum:
            continue
        try:
            record = decode_message(payload)
        except DecodeError:
            continue
        if isinstance(record, Proposal | Vote):
            raise WalCorrupted(
                f"WAL record at offset {bad} is damaged and intact records follow it from "
                f"offset {start} (not a torn write)"
            )
