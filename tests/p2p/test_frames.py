from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerchain.core.p2p.frames import FrameDecoder, FrameError, encode_frame


def test_frames_round_trip_byte_by_byte() -> None:
    payloads = [b"", b"a", b"hello" * 100]
    stream = b"".join(encode_frame(p) for p in payloads)
    decoder = FrameDecoder(max_size=1000)
    out: list[bytes] = []
    for i in range(len(stream)):
        out += decoder.feed(stream[i : i + 1])
    assert out == payloads
    assert decoder.buffered == 0


def test_frame_at_limit_passes_and_over_limit_raises_before_buffering() -> None:
    decoder = FrameDecoder(max_size=10)
    assert decoder.feed(encode_frame(b"x" * 10, max_size=10)) == [b"x" * 10]
    with pytest.raises(FrameError):
        decoder.feed((11).to_bytes(4, "big"))
    with pytest.raises(FrameError):
        FrameDecoder(max_size=10).feed(b"\xff\xff\xff\xff")


def test_encoder_refuses_oversized_payload() -> None:
    with pytest.raises(ValueError):
        encode_frame(b"x" * 11, max_size=10)


def test_two_byte_prefix_and_leftover() -> None:
    decoder = FrameDecoder(max_size=0xFFFF, prefix_size=2)
    data = encode_frame(b"abc", prefix_size=2, max_size=0xFFFF) + b"\x00\x05ab"
    assert decoder.feed(data) == [b"abc"]
    assert decoder.take_buffered() == b"\x00\x05ab"
    assert decoder.buffered == 0


@given(st.lists(st.binary(max_size=300), max_size=20), st.data())
def test_any_chunking_gives_the_same_frames(payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = FrameDecoder(max_size=300)
    out: list[bytes] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += decoder.feed(stream[start:end])
    assert out == payloads


@given(st.lists(st.binary(max_size=64), max_size=8))
def test_garbage_raises_only_frame_error(chunks: list[bytes]) -> None:
    decoder = FrameDecoder(max_size=100)
    try:
        for chunk in chunks:
            for frame in decoder.feed(chunk):
                assert len(frame) <= 100
    except FrameError:
        pass
    assert decoder.buffered <= 100 + 4
