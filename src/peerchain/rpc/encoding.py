"""Parsing of JSON-RPC parameters: hex quantities and data, block selectors, call objects.

Every parser takes a decoded JSON value and either returns a Python value or raises
`InvalidValue` with a geth-worded message; the dispatcher turns that into -32602
"invalid argument N: ...". Parsing is strict where geth is strict: quantities need
"0x" and no leading zeros, data needs an even number of hex digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

from peerchain.core.queries import BlockOverrides, StateOverrides
from peerchain.node.view import AccountOverride, BlockSelector, BlockTag, CallRequest

BLOCK_TAGS: Final = ("latest", "earliest", "pending", "safe", "finalized")
_HEX = re.compile(r"[0-9a-fA-F]*")
MAX_TOPIC_POSITIONS = 4


class InvalidValue(ValueError):
    """A parameter does not have the form its method requires."""


@dataclass(frozen=True, slots=True)
class BlockRef:
    """A block parameter of a state method: a selector plus EIP-1898's requireCanonical."""

    selector: BlockSelector
    require_canonical: bool = False


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """eth_getLogs / eth_newFilter criteria before the block range is resolved."""

    from_block: BlockTag | int = "latest"
    to_block: BlockTag | int = "latest"
    addresses: tuple[bytes, ...] = ()
    topics: tuple[tuple[bytes, ...] | None, ...] = ()
    block_hash: bytes | None = None


# --- hex --------------------------------------------------------------------------
def _hex_digits(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"expected a hex string, got {_json_type(value)}")
    if not value:
        raise InvalidValue("empty hex string")
    if value[:2] not in ("0x", "0X"):
        raise InvalidValue("hex string without 0x prefix")
    digits = value[2:]
    if not _HEX.fullmatch(digits):
        raise InvalidValue("invalid hex string")
    return digits


def parse_quantity(value: Any, bits: int = 256) -> int:
    """A hex-encoded unsigned integer of at most `bits` bits ("0x0", "0x1a")."""
    digits = _hex_digits(value)
    if not digits:
        raise InvalidValue('hex string "0x"')
    if len(digits) > 1 and digits[0] == "0":
        raise InvalidValue("hex number with leading zero digits")
    if len(digits) > (bits + 3) // 4 or int(digits, 16).bit_length() > bits:
        raise InvalidValue(f"hex number > {bits} bits")
    return int(digits, 16)


def parse_data(value: Any, size: int | None = None, what: str = "bytes") -> bytes:
    """Hex-encoded bytes with an even number of digits, of exactly `size` bytes if given."""
    digits = _hex_digits(value)
    if len(digits) % 2:
        raise InvalidValue("hex string of odd length")
    if size is not None and len(digits) != 2 * size:
        raise InvalidValue(f"hex string has length {len(digits)}, want {2 * size} for {what}")
    return bytes.fromhex(digits)


def parse_address(value: Any) -> bytes:
    return parse_data(value, 20, "address")


def parse_hash(value: Any) -> bytes:
    return parse_data(value, 32, "hash")


def parse_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"expected a boolean, got {_json_type(value)}")
    return value


def parse_uint(value: Any, bits: int = 64) -> int:
    """A JSON integer or a hex quantity (the dev methods and feeHistory accept both)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0 or value.bit_length() > bits:
            raise InvalidValue(f"number out of range: must fit in {bits} unsigned bits")
        return value
    if isinstance(value, str) and value.isascii() and value.isdecimal():
        if len(value) > 30:
            raise InvalidValue(f"number out of range: must fit in {bits} unsigned bits")
        return parse_uint(int(value), bits)
    return parse_quantity(value, bits)


def parse_storage_key(value: Any) -> int:
    """A storage slot as geth reads it: hex with "0x", up to 32 bytes, odd length allowed."""
    if not isinstance(value, str):
        raise InvalidValue(f"expected a hex string, got {_json_type(value)}")
    digits = value[2:] if value[:2] in ("0x", "0X") else value
    if len(digits) > 64:
        raise InvalidValue(f'storage key too long (want at most 32 bytes): "{value[:80]}"')
    if not digits or not _HEX.fullmatch(digits):
        raise InvalidValue(f'invalid hex in storage key: "{value[:80]}"')
    return int(digits, 16)


# --- blocks -------------------------------------------------------------------------
def parse_block_number(value: Any) -> BlockTag | int:
    """A block tag or a block number (eth_getBlockByNumber and friends)."""
    if isinstance(value, str) and value in BLOCK_TAGS:
        return cast(BlockTag, value)
    return parse_quantity(value, 63)


def parse_block_ref(value: Any) -> BlockRef:
    """Tag, number, 32-byte hash, or an EIP-1898 object {blockHash, requireCanonical} /
    {blockNumber}."""
    if isinstance(value, str) and len(value) == 66:
        return BlockRef(parse_hash(value))
    if isinstance(value, dict):
        unknown = set(value) - {"blockHash", "blockNumber", "requireCanonical"}
        if unknown:
            raise InvalidValue(f"unknown field in block object: {sorted(unknown)[0][:40]}")
        has_hash = value.get("blockHash") is not None
        has_number = value.get("blockNumber") is not None
        if has_hash and has_number:
            raise InvalidValue(
                "cannot specify both BlockHash and BlockNumber, choose one or the other"
            )
        if has_hash:
            canonical = value.get("requireCanonical", False)
            return BlockRef(parse_hash(value["blockHash"]), parse_bool(canonical))
        if has_number:
            if "requireCanonical" in value:
                raise InvalidValue("requireCanonical is only allowed with blockHash")
            return BlockRef(parse_block_number(value["blockNumber"]))
        raise InvalidValue("block object needs blockHash or blockNumber")
    return BlockRef(parse_block_number(value))


# --- objects ------------------------------------------------------------------------
def _optional(obj: dict[str, Any], name: str, parse: Callable[..., Any], *args: Any) -> Any:
    """`parse(obj[name], *args)`, or None when the field is absent or null."""
    value = obj.get(name)
    if value is None:
        return None
    try:
        return parse(value, *args)
    except InvalidValue as exc:
        raise InvalidValue(f"{name}: {exc}") from None


def parse_access_list(value: Any) -> tuple[tuple[bytes, tuple[int, ...]], ...]:
    if not isinstance(value, list):
        raise InvalidValue(f"expected an array, got {_json_type(value)}")
    entries = []
    for entry in value:
        if not isinstance(entry, dict):
            raise InvalidValue("access list entries must be objects")
        keys = entry.get("storageKeys") or []
        if not isinstance(keys, list):
            raise InvalidValue("storageKeys must be an array")
        address = parse_address(entry.get("address"))
        entries.append((address, tuple(int.from_bytes(parse_hash(k), "big") for k in keys)))
    return tuple(entries)


def parse_call_request(value: Any) -> CallRequest:
    """The transaction object of eth_call / eth_estimateGas / eth_sendTransaction.

    Unknown fields are ignored, as geth does. "input" and "data" are synonyms and
    must agree when both are given."""
    if not isinstance(value, dict):
        raise InvalidValue(f"expected a transaction object, got {_json_type(value)}")
    data = _optional(value, "data", parse_data)
    input_ = _optional(value, "input", parse_data)
    if data is not None and input_ is not None and data != input_:
        raise InvalidValue(
            'both "data" and "input" are set and not equal. '
            'Please use "input" to pass transaction call data'
        )
    gas_price = _optional(value, "gasPrice", parse_quantity)
    max_fee = _optional(value, "maxFeePerGas", parse_quantity)
    tip = _optional(value, "maxPriorityFeePerGas", parse_quantity)
    if gas_price is not None and (max_fee is not None or tip is not None):
        raise InvalidValue("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
    tx_type = _optional(value, "type", parse_quantity, 8)
    access_list = _optional(value, "accessList", parse_access_list)
    return CallRequest(
        sender=_optional(value, "from", parse_address),
        to=_optional(value, "to", parse_address),
        gas=_optional(value, "gas", parse_quantity, 64),
        gas_price=gas_price,
        max_fee_per_gas=max_fee,
        max_priority_fee_per_gas=tip,
        value=_optional(value, "value", parse_quantity) or 0,
        data=input_ if input_ is not None else (data or b""),
        nonce=_optional(value, "nonce", parse_quantity, 64),
        access_list=access_list or (),
        type=tx_type,
    )


def _parse_topic_position(value: Any) -> tuple[bytes, ...] | None:
    if value is None:
        return None
    if isinstance(value, list):
        # An empty list matches anything, like null.
        return tuple(parse_hash(t) for t in value) or None
    return (parse_hash(value),)


def parse_filter(value: Any) -> FilterSpec:
    """Log filter criteria: a block range or a blockHash, addresses, topic positions."""
    if not isinstance(value, dict):
        raise InvalidValue(f"expected a filter object, got {_json_type(value)}")
    block_hash = _optional(value, "blockHash", parse_hash)
    from_block = _optional(value, "fromBlock", parse_block_number)
    to_block = _optional(value, "toBlock", parse_block_number)
    if block_hash is not None and (from_block is not None or to_block is not None):
        raise InvalidValue(
            "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"
        )
    address = value.get("address")
    if address is None:
        addresses: tuple[bytes, ...] = ()
    elif isinstance(address, list):
        addresses = tuple(parse_address(a) for a in address)
    else:
        addresses = (parse_address(address),)
    topics_value = value.get("topics")
    if topics_value is None:
        topics: tuple[tuple[bytes, ...] | None, ...] = ()
    elif isinstance(topics_value, list):
        if len(topics_value) > MAX_TOPIC_POSITIONS:
            raise InvalidValue("exceed max topics")
        topics = tuple(_parse_topic_position(t) for t in topics_value)
    else:
        raise InvalidValue(f"topics: expected an array, got {_json_type(topics_value)}")
    return FilterSpec(
        from_block="latest" if from_block is None else from_block,
        to_block="latest" if to_block is None else to_block,
        addresses=addresses,
        topics=topics,
        block_hash=block_hash,
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _storage_map(value: Any) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, dict):
        raise InvalidValue(f"expected an object of storage slots, got {_json_type(value)}")
    return tuple(
        (parse_storage_key(k), int.from_bytes(parse_data(v, 32, "storage value"), "big"))
        for k, v in value.items()
    )


def parse_state_overrides(value: Any) -> StateOverrides:
    """geth's state-override set: {address: {balance, nonce, code, state | stateDiff,
    movePrecompileToAddress}}."""
    if not isinstance(value, dict):
        raise InvalidValue(f"expected a state override object, got {_json_type(value)}")
    overrides = []
    for key, fields in value.items():
        address = parse_address(key)
        if not isinstance(fields, dict):
            raise InvalidValue(f"expected an account override, got {_json_type(fields)}")
        if fields.get("state") is not None and fields.get("stateDiff") is not None:
            raise InvalidValue(f"account 0x{address.hex()} has both 'state' and 'stateDiff'")
        overrides.append(
            (
                address,
                AccountOverride(
                    balance=_optional(fields, "balance", parse_quantity),
                    nonce=_optional(fields, "nonce", parse_quantity, 64),
                    code=_optional(fields, "code", parse_data),
                    storage=_optional(fields, "state", _storage_map),
                    storage_diff=_optional(fields, "stateDiff", _storage_map) or (),
                    move_precompile_to=_optional(fields, "movePrecompileToAddress", parse_address),
                ),
            )
        )
    return tuple(overrides)


def parse_block_overrides(value: Any) -> BlockOverrides:
    """geth's block overrides: number, time, gasLimit, feeRecipient, prevRandao,
    baseFeePerGas."""
    if not isinstance(value, dict):
        raise InvalidValue(f"expected a block override object, got {_json_type(value)}")
    recipient = _optional(value, "feeRecipient", parse_address)
    if recipient is None:
        recipient = _optional(value, "coinbase", parse_address)
    return BlockOverrides(
        number=_optional(value, "number", parse_quantity, 64),
        time=_optional(value, "time", parse_quantity, 64),
        gas_limit=_optional(value, "gasLimit", parse_quantity, 64),
        fee_recipient=recipient,
        prev_randao=_optional(value, "prevRandao", parse_hash),
        base_fee=_optional(value, "baseFeePerGas", parse_quantity),
    )
