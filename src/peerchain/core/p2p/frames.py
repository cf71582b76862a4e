"""Length-prefixed frames: an encoder and a sans-I/O decoder with a hard size limit.

A frame is a big-endian unsigned length of `prefix_size` bytes followed by that many
payload bytes. `FrameDecoder.feed(bytes)` returns the complete payloads so far and keeps
the remainder; a declared length above `max_size` raises `FrameError` before any of the
payload is buffered, so a peer cannot make the decoder hold more than
`max_size + prefix_size` bytes.

Two layers use it: the Noise transport packets on the wire (2-byte prefix, at most 65535
bytes each) and the protocol messages inside the decrypted stream (4-byte prefix, at most
`MAX_MESSAGE_SIZE`).
"""

from __future__ import annotations

from peerchain.core.errors import DecodeError

MAX_MESSAGE_SIZE = 8 * 1024 * 1024
MESSAGE_PREFIX_SIZE = 4


class FrameError(DecodeError):
    """Received bytes do not form valid frames (oversized length, bad packet, garbage).

    This is the only error the frame and message decoders raise on bad input.
    """


def encode_frame(
    payload: bytes, *, prefix_size: int = MESSAGE_PREFIX_SIZE, max_size: int = MAX_MESSAGE_SIZE
) -> bytes:
    """Prefix `payload` with its length. Raises ValueError if it exceeds `max_size`."""
    if len(payload) > max_size:
        raise ValueError(f"frame of {len(payload)} bytes exceeds the limit of {max_size}")
    return len(payload).to_bytes(prefix_size, "big") + payload


class FrameDecoder:
    """Turns a byte stream into frames; raises FrameError on a length over `max_size`."""

    __slots__ = ("_buffer", "max_size", "prefix_size")

    def __init__(
        self, *, max_size: int = MAX_MESSAGE_SIZE, prefix_size: int = MESSAGE_PREFIX_SIZE
    ) -> None:
        if max_size >= 1 << (8 * prefix_size):
            raise ValueError("max_size does not fit in the length prefix")
        self.max_size = max_size
        self.prefix_size = prefix_size
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """How many bytes of an incomplete frame are held."""
        return len(self._buffer)

    def take_buffered(self) -> bytes:
        """Remove and return the bytes of the incomplete frame held so far."""
        data = bytes(self._buffer)
        del self._buffer[:]
        return data

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every frame they complete, in order."""
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        offset = 0
        prefix = self.prefix_size
        while len(buffer) - offset >= prefix:
            size = int.from_bytes(buffer[offset : offset + prefix], "big")
            if size > self.max_size:
                del buffer[:]
                raise FrameError(f"frame of {size} bytes exceeds the limit of {self.max_size}")
            end = offset + prefix + size
            if end > len(buffer):
                break
            frames.append(bytes(buffer[offset + prefix : end]))
            offset = end
        del buffer[:offset]
        return frames
