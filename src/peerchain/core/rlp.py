"""RLP, the byte encoding of Ethereum transactions, blocks, receipts and trie nodes.

The one module that imports the `rlp` package: its exceptions become `DecodeError`
here, so no other module sees them. Plain items (bytes and nested lists of bytes) are
what core encodes; `encode_object` / `decode_object` serve the execution layer, whose
py-evm values (blocks, accounts, logs) are `rlp.Serializable` classes that carry their
own sedes.
"""

from __future__ import annotations

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
