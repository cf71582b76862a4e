"""Contract ABI encoding and decoding (eth_abi), for the code that talks to contracts:
the governance system contract and the command line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import EncodingError

from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError


def selector(name: str, types: Sequence[str]) -> bytes:
    """The 4-byte function selector of `name(types...)`."""
    return keccak256(f"{name}({','.join(types)})".encode())[:4]


def encode(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """ABI-encode `values` as `types`. Raises ValueError for values that do not fit."""
    try:
        return bytes(abi_encode(list(types), list(values)))
    except (EncodingError, TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from exc


def decode(types: Sequence[str], data: bytes) -> tuple[Any, ...]:
    """Decode `data` as `types`. Raises DecodeError for data that does not fit."""
    try:
        return tuple(abi_decode(list(types), data))
    except Exception as exc:  # eth_abi raises several unrelated types on bad data
        raise DecodeError(f"cannot decode ({','.join(types)}): {exc}") from exc
