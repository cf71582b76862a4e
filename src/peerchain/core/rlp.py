"""RLP, the byte encoding of Ethereum transactions, blocks, receipts and trie nodes.

The one module that imports the `rlp` package: its exceptions become `DecodeError`
here, so no other module sees them. Plain items (bytes and nested lists of bytes) are
what core encodes; `encode_object` / `decode_object` serve the execution layer, whose
py-evm values (blocks, accounts, logs) are `rlp.Serializable` classes that carry their
own sedes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import rlp
from rlp.exceptions import RLPException
from rlp.sedes import big_endian_int

from peerchain.core.errors import DecodeError

RLPItem = bytes | list["RLPItem"]

# What the `rlp` package raises, for code calling libraries built on it (py-evm decodes
# its transactions and blocks with it) that must catch their decoding errors.
LIBRARY_ERRORS: tuple[type[Exception], ...] = (RLPException,)


def decode_rlp(data: bytes) -> RLPItem:
    """Decode one canonical RLP item (no trailing bytes). Raises DecodeError."""
    try:
        item: RLPItem = rlp.decode(data, strict=True)
    except RLPException as exc:
        raise DecodeError(f"rlp: {exc}") from exc
    except RecursionError as exc:
        raise DecodeError("rlp: lists nested too deeply") from exc
    return item


def encode_rlp(item: RLPItem) -> bytes:
    """Encode bytes and nested lists of bytes as RLP."""
    encoded: bytes = rlp.encode(item)
    return encoded


def _item_end(data: bytes, start: int) -> tuple[int, int]:
    """(payload start, item end) of the canonical RLP item at `start`. Raises DecodeError."""
    if start >= len(data):
        raise DecodeError("rlp: item expected, input ended")
    prefix = data[start]
    if prefix < 0x80:
        return start, start + 1
    if prefix < 0xB8 or 0xC0 <= prefix < 0xF8:
        length = prefix - (0x80 if prefix < 0xC0 else 0xC0)
        if prefix == 0x81 and start + 1 < len(data) and data[start + 1] < 0x80:
            raise DecodeError("rlp: single byte below 0x80 encoded as a string")
        payload = start + 1
    else:
        size = prefix - (0xB7 if prefix < 0xC0 else 0xF7)
        payload = start + 1 + size
        length_bytes = data[start + 1 : payload]
        if len(length_bytes) != size or length_bytes[0] == 0:
            raise DecodeError("rlp: malformed long length")
        length = int.from_bytes(length_bytes, "big")
        if length < 56:
            raise DecodeError("rlp: long form for a short item")
    end = payload + length
    if end > len(data):
        raise DecodeError("rlp: item longer than its input")
    return payload, end


def split_list(data: bytes) -> list[bytes]:
    """The encoded items of one canonical RLP list (no trailing bytes), not decoded: a
    block's header and transactions are taken apart without decoding each field.
    Raises DecodeError."""
    payload, end = _item_end(data, 0)
    if end != len(data):
        raise DecodeError("rlp: trailing bytes after the item")
    if data[0] < 0xC0:
        raise DecodeError("rlp: a list expected, a string found")
    items = []
    position = payload
    while position < end:
        _, item_end = _item_end(data, position)
        if item_end > end:
            raise DecodeError("rlp: list item runs past the list")
        items.append(data[position:item_end])
        position = item_end
    return items


def _encode_length(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes((offset + length,))
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(size),)) + size


def encode_bytes(data: bytes) -> bytes:
    """RLP of a byte string (as `encode_rlp` makes it, without its type inference)."""
    if len(data) == 1 and data[0] < 0x80:
        return data
    return _encode_length(len(data), 0x80) + data


def encode_list(items: Iterable[bytes]) -> bytes:
    """RLP of a list whose items are given already encoded (by `encode_bytes`, or as
    `split_list` gives them)."""
    body = b"".join(items)
    return _encode_length(len(body), 0xC0) + body


def encode_uint(value: int) -> bytes:
    """Minimal big-endian bytes of a non-negative integer (0 is empty), as RLP wants."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def decode_uint(data: bytes) -> int:
    """The integer whose RLP is `data` (canonical: no leading zero bytes). Raises DecodeError."""
    return int(decode_object(data, big_endian_int))


def encode_object(value: object, sedes: object = None) -> bytes:
    """RLP of a value: an `rlp.Serializable`, or any value under an explicit `sedes`."""
    encoded: bytes = rlp.encode(value, sedes=sedes)
    return bytes(encoded)


def decode_object(data: bytes, sedes: object) -> Any:
    """Decode `data` into the value `sedes` describes (an `rlp.Serializable` class or a sedes).

    Raises DecodeError for bytes that are not canonical RLP or do not fit `sedes`; an
    error the sedes itself raises while building the value (py-evm's ValueError for an
    unknown transaction type, say) passes through unchanged.
    """
    try:
        return rlp.decode(data, sedes=sedes, strict=True)
    except RLPException as exc:
        raise DecodeError(f"rlp: {exc}") from exc
    except RecursionError as exc:
        raise DecodeError("rlp: lists nested too deeply") from exc
