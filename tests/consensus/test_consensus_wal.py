"""WAL record framing: round trips and recovery from a torn or corrupt tail."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerchain.core.consensus.messages import BlockValue, VoteKind, sign_proposal, sign_vote
from peerchain.core.consensus.wal import (
    WalCorrupted,
    WalRecord,
    decode_wal,
    encode_wal_record,
)
from peerchain.core.consensus.wire import encode_message
from peerchain.core.crypto import keccak256

KEY = keccak256(b"wal test key")
BLOCK = BlockValue(keccak256(b"block"), b"block bytes")
RECORDS: list[WalRecord] = [
    sign_proposal(KEY, 1, 3, 0, -1, BLOCK),
    sign_vote(KEY, 1, VoteKind.PREVOTE, 3, 0, BLOCK.hash),
    sign_vote(KEY, 1, VoteKind.PRECOMMIT, 3, 0, None),
    sign_vote(KEY, 1, VoteKind.PREVOTE, 3, 1, None),
]
FRAMES = [encode_wal_record(r) for r in RECORDS]
LOG = b"".join(FRAMES)


def test_round_trip() -> None:
    contents = decode_wal(LOG)
    assert contents.records == tuple(RECORDS)
    assert (contents.valid_length, contents.discarded) == (len(LOG), 0)
    assert decode_wal(b"").records == ()


def test_every_cut_keeps_exactly_the_whole_records_before_it() -> None:
    ends = [sum(len(f) for f in FRAMES[: i + 1]) for i in range(len(FRAMES))]
    for cut in range(len(LOG) + 1):
        contents = decode_wal(LOG[:cut])
        whole = sum(1 for end in ends if end <= cut)
        assert contents.records == tuple(RECORDS[:whole])
        assert contents.valid_length == (ends[whole - 1] if whole else 0)
        assert contents.valid_length + contents.discarded == cut


@given(st.binary(min_size=1, max_size=64))
def test_garbage_after_the_last_record_is_dropped(garbage: bytes) -> None:
    contents = decode_wal(LOG + garbage)
    assert contents.records[: len(RECORDS)] == tuple(RECORDS)
    assert contents.valid_length >= len(LOG)


def test_a_garbled_last_record_is_dropped() -> None:
    damaged = bytearray(LOG)
    damaged[-5] ^= 0xFF
    contents = decode_wal(bytes(damaged))
    assert contents.records == tuple(RECORDS[:-1])
    assert contents.discarded == len(FRAMES[-1])


def test_a_zero_filled_tail_is_dropped() -> None:
    contents = decode_wal(LOG + bytes(100))
    assert contents.records == tuple(RECORDS)
    assert contents.discarded == 100


def test_an_intact_frame_holding_no_record_is_corruption() -> None:
    payload = encode_message(RECORDS[0])[:-70]  # checksummed, but not a proposal
    bad = struct.pack(">II", len(payload), zlib.crc32(payload)) + payload
    with pytest.raises(WalCorrupted):
        decode_wal(LOG + bad)


@pytest.mark.parametrize("record", range(len(RECORDS) - 1))
def test_a_damaged_record_followed_by_intact_ones_is_corruption_not_a_torn_tail(
    record: int,
) -> None:
    start = sum(len(f) for f in FRAMES[:record])
    for offset in (0, 5, len(FRAMES[record]) - 1):  # length field, checksum, payload
        damaged = bytearray(LOG)
        damaged[start + offset] ^= 0x01
        with pytest.raises(WalCorrupted, match="intact records follow it"):
            decode_wal(bytes(damaged))


def test_a_torn_last_record_after_damage_free_records_is_still_dropped() -> None:
    torn = LOG + FRAMES[0][: len(FRAMES[0]) // 2]
    contents = decode_wal(torn)
    assert contents.records == tuple(RECORDS)
    assert contents.discarded == len(FRAMES[0]) // 2
