"""Contract ABI helpers for the CLI: signatures, argument parsing, encoding."""

from __future__ import annotations

import re
from typing import Any

from peerchain.core.abi import decode, encode, selector
from peerchain.core.errors import DecodeError, PeerChainError

_SIGNATURE = re.compile(r"^\s*(\w+)\s*\(([^()]*)\)\s*(?:\(([^()]*)\))?\s*$")


class AbiError(PeerChainError):
    """A signature or an argument does not fit the ABI."""


def _types(text: str | None) -> list[str]:
    return [t.strip() for t in text.split(",")] if text and text.strip() else []


def parse_signature(signature: str) -> tuple[str, list[str], list[str]]:
    """Split `name(in,...)(out,...)` into name, input types and output types."""
    match = _SIGNATURE.match(signature)
    if match is None:
        raise AbiError(f"bad function signature {signature!r}; expected e.g. 'f(uint256)(bool)'")
    return match.group(1), _types(match.group(2)), _types(match.group(3))


def parse_argument(abi_type: str, text: str) -> Any:
    """Turn a command-line string into the Python value eth_abi expects for `abi_type`."""
    try:
        if abi_type.endswith("]"):
            inner = abi_type[: abi_type.rindex("[")]
            items = [s for s in text.strip("[] ").split(",") if s.strip()]
            return [parse_argument(inner, item.strip()) for item in items]
        if abi_type.startswith(("uint", "int")):
            return int(text, 0)
        if abi_type == "bool":
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if abi_type == "address":
            raw = bytes.fromhex(text.removeprefix("0x"))
            if len(raw) != 20:
                raise ValueError(text)
            return "0x" + raw.hex()
        if abi_type.startswith("bytes"):
            return bytes.fromhex(text.removeprefix("0x"))
        if abi_type == "string":
            return text
    except ValueError as exc:
        raise AbiError(f"{text!r} is not a valid {abi_type}") from exc
    raise AbiError(f"unsupported ABI type {abi_type}")


def encode_arguments(types: list[str], args: list[str]) -> bytes:
    """ABI-encode command-line arguments for the given types."""
    if len(types) != len(args):
        raise AbiError(f"expected {len(types)} arguments, got {len(args)}")
    values = [parse_argument(t, a) for t, a in zip(types, args, strict=True)]
    try:
        return encode(types, values)
    except ValueError as exc:
        raise AbiError(f"cannot encode arguments: {exc}") from exc


def encode_call(signature: str, args: list[str]) -> tuple[bytes, list[str]]:
    """Calldata for `signature` with `args`, and the declared output types."""
    name, inputs, outputs = parse_signature(signature)
    return selector(name, inputs) + encode_arguments(inputs, args), outputs


def decode_outputs(types: list[str], data: bytes) -> list[Any]:
    """Decode return data for the declared output types."""
    try:
        return list(decode(types, data))
    except DecodeError as exc:
        raise AbiError(f"cannot decode return data: {exc}") from exc


def constructor_types(abi: list[dict[str, Any]]) -> list[str]:
    """Input types of a contract ABI's constructor (none if it has no constructor)."""
    for entry in abi:
        if entry.get("type") == "constructor":
            return [str(arg["type"]) for arg in entry.get("inputs", [])]
    return []
