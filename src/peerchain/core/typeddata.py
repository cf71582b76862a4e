"""EIP-712 typed structured data: the digest that eth_signTypedData_v4 signs.

`typed_data_digest(document)` takes the JSON document wallets send (`types`,
`primaryType`, `domain`, `message`) and returns
keccak256(0x19 0x01 || hashStruct(domain) || hashStruct(message)). Values may be JSON
numbers or decimal/hex strings for integers, hex strings for bytes and addresses.
Raises InvalidTypedData, saying which field is wrong.
"""

from __future__ import annotations

import re
from typing import Any

from peerchain.core.crypto import keccak256
from peerchain.core.errors import PeerChainError

_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")
_INT = re.compile(r"^(u?)int(\d*)$")
_BYTES = re.compile(r"^bytes(\d+)$")
MAX_DEPTH = 32
# The domain fields in their canonical order, for documents that leave EIP712Domain out.
_DOMAIN_FIELDS = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
)


class InvalidTypedData(PeerChainError):
    """A typed-data document is malformed or a value does not fit its type."""


def typed_data_digest(document: Any) -> bytes:
    """The 32-byte EIP-712 digest of a typed-data document."""
    if not isinstance(document, dict):
        raise InvalidTypedData("typed data must be an object")
    types = document.get("types")
    primary = document.get("primaryType")
    if not isinstance(types, dict) or not isinstance(primary, str):
        raise InvalidTypedData('typed data needs "types" and "primaryType"')
    domain_value = document.get("domain") or {}
    if "EIP712Domain" not in types and isinstance(domain_value, dict):
        inferred = [{"name": n, "type": t} for n, t in _DOMAIN_FIELDS if n in domain_value]
        types = {**types, "EIP712Domain": inferred}
    for name, fields in types.items():
        if not isinstance(fields, list) or not all(
            isinstance(f, dict)
            and isinstance(f.get("name"), str)
            and isinstance(f.get("type"), str)
            for f in fields
        ):
            raise InvalidTypedData(f"type {name}: fields must be objects with name and type")
    domain = hash_struct(types, "EIP712Domain", domain_value)
    if primary == "EIP712Domain":
        return keccak256(b"\x19\x01" + domain)
    message = hash_struct(types, primary, document.get("message"))
    return keccak256(b"\x19\x01" + domain + message)


def hash_struct(types: dict[str, Any], name: str, value: Any, depth: int = 0) -> bytes:
    """hashStruct(value) of struct type `name`."""
    if name not in types:
        raise InvalidTypedData(f"unknown struct type {name}")
    return keccak256(type_hash(types, name) + _encode_data(types, name, value, depth))


def type_hash(types: dict[str, Any], name: str) -> bytes:
    return keccak256(_encode_type(types, name).encode())


def _encode_type(types: dict[str, Any], name: str) -> str:
    deps = sorted(_dependencies(types, name, set()) - {name})
    return "".join(_struct_signature(types, t) for t in [name, *deps])


def _struct_signature(types: dict[str, Any], name: str) -> str:
    fields = ",".join(f"{f['type']} {f['name']}" for f in types[name])
    return f"{name}({fields})"


def _dependencies(types: dict[str, Any], name: str, found: set[str]) -> set[str]:
    base = _base_type(name)
    if base in found or base not in types:
        return found
    found.add(base)
    for field in types[base]:
        _dependencies(types, field["type"], found)
    return found


def _base_type(name: str) -> str:
    match = _ARRAY.match(name)
    return _base_type(match.group(1)) if match else name


def _encode_data(types: dict[str, Any], name: str, value: Any, depth: int) -> bytes:
    if name not in types:
        raise InvalidTypedData(f"unknown struct type {name}")
    if not isinstance(value, dict):
        raise InvalidTypedData(f"{name}: expected an object")
    return b"".join(
        _encode_value(types, f["type"], value.get(f["name"]), f"{name}.{f['name']}", depth)
        for f in types[name]
    )


def _encode_value(types: dict[str, Any], kind: str, value: Any, where: str, depth: int) -> bytes:
    if depth > MAX_DEPTH:
        raise InvalidTypedData(f"{where}: nested too deeply")
    array = _ARRAY.match(kind)
    if array:
        if not isinstance(value, list):
            raise InvalidTypedData(f"{where}: expected an array")
        if array.group(2) and len(value) != int(array.group(2)):
            raise InvalidTypedData(f"{where}: expected {array.group(2)} items")
        items = (_encode_value(types, array.group(1), v, where, depth + 1) for v in value)
        return keccak256(b"".join(items))
    if kind in types:
        return hash_struct(types, kind, value, depth + 1)
    if value is None:
        raise InvalidTypedData(f"{where}: missing value")
    if kind == "string":
        if not isinstance(value, str):
            raise InvalidTypedData(f"{where}: expected a string")
        return keccak256(value.encode())
    if kind == "bytes":
        return keccak256(_bytes(value, where))
    if kind == "bool":
        if not isinstance(value, bool):
            raise InvalidTypedData(f"{where}: expected a boolean")
        return int(value).to_bytes(32, "big")
    if kind == "address":
        raw = _bytes(value, where)
        if len(raw) != 20:
            raise InvalidTypedData(f"{where}: an address is 20 bytes")
        return raw.rjust(32, b"\0")
    fixed = _BYTES.match(kind)
    if fixed:
        raw = _bytes(value, where)
        size = int(fixed.group(1))
        if not 1 <= size <= 32 or len(raw) > size:
            raise InvalidTypedData(f"{where}: does not fit {kind}")
        return raw.ljust(32, b"\0")
    integer = _INT.match(kind)
    if integer:
        return _encode_int(value, integer.group(1) == "", int(integer.group(2) or 256), where)
    raise InvalidTypedData(f"{where}: unknown type {kind}")


def _encode_int(value: Any, signed: bool, bits: int, where: str) -> bytes:
    if isinstance(value, bool):
        raise InvalidTypedData(f"{where}: expected a number")
    if isinstance(value, str):
        try:
            number = int(value, 16) if value.lower().startswith(("0x", "-0x")) else int(value)
        except ValueError:
            raise InvalidTypedData(f"{where}: not a number: {value[:40]}") from None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise InvalidTypedData(f"{where}: expected a number")
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
    if not low <= number < high or not 8 <= bits <= 256 or bits % 8:
        raise InvalidTypedData(f"{where}: {number} does not fit {'' if signed else 'u'}int{bits}")
    return (number % 2**256).to_bytes(32, "big")


def _bytes(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise InvalidTypedData(f"{where}: expected 0x-prefixed hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise InvalidTypedData(f"{where}: invalid hex") from None
