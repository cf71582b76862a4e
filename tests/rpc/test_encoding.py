"""Strict parsing of JSON-RPC parameters and the hex forms of results."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerchain.node.view import CallRequest
from peerchain.rpc.encoding import (
    BlockRef,
    FilterSpec,
    InvalidValue,
    parse_address,
    parse_block_number,
    parse_block_ref,
    parse_call_request,
    parse_data,
    parse_filter,
    parse_quantity,
    parse_storage_key,
    parse_uint,
)
from peerchain.rpc.shapes import checksum_address, data, quantity

HASH = "0x" + "ab" * 32
ADDRESS = "0x" + "cd" * 20


@pytest.mark.parametrize(
    ("text", "value"), [("0x0", 0), ("0x1", 1), ("0x1a", 26), ("0xFF", 255), ("0X10", 16)]
)
def test_quantity_accepts_canonical_hex(text: str, value: int) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0x", 'hex string "0x"'),
        ("", "empty hex string"),
        ("12", "without 0x prefix"),
        ("0x01", "leading zero"),
        ("0x00", "leading zero"),
        ("0xg1", "invalid hex"),
        ("0x 1", "invalid hex"),
        ("0x1_0", "invalid hex"),
        ("0x1" + "0" * 64, "> 256 bits"),
        (12, "expected a hex string, got number"),
        (None, "got null"),
        (True, "got boolean"),
        (["0x1"], "got array"),
    ],
)
def test_quantity_rejects_malformed(value: Any, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        parse_quantity(value)


def test_quantity_bit_limits() -> None:
    assert parse_quantity("0x" + "f" * 16, 64) == 2**64 - 1
    with pytest.raises(InvalidValue, match="> 64 bits"):
        parse_quantity("0x1" + "0" * 16, 64)
    assert parse_quantity("0x7fffffffffffffff", 63) == 2**63 - 1
    with pytest.raises(InvalidValue):
        parse_quantity("0x8000000000000000", 63)


@given(st.integers(min_value=0, max_value=2**256 - 1))
def test_quantity_round_trips(value: int) -> None:
    text = quantity(value)
    assert parse_quantity(text) == value
    assert text == "0x0" or not text.startswith("0x0")


@given(st.binary(max_size=100))
def test_data_round_trips(value: bytes) -> None:
    assert parse_data(data(value)) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0x123", "odd length"),
        ("abcd", "without 0x prefix"),
        ("0xzz", "invalid hex"),
        ("0xab cd", "invalid hex"),
        (b"\x00", "expected a hex string"),
    ],
)
def test_data_rejects_malformed(value: Any, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        parse_data(value)


def test_fixed_size_data() -> None:
    assert parse_address(ADDRESS) == bytes.fromhex("cd" * 20)
    assert parse_address(ADDRESS.upper().replace("0X", "0x")) == bytes.fromhex("cd" * 20)
    with pytest.raises(InvalidValue, match="want 40 for address"):
        parse_address("0x" + "cd" * 19)


def test_uint_takes_numbers_decimal_strings_and_quantities() -> None:
    assert parse_uint(5) == parse_uint("5") == parse_uint("0x5") == 5
    for bad in (-1, True, 2**64, "1" * 40, "0x05", 1.5):
        with pytest.raises(InvalidValue):
            parse_uint(bad)


def test_storage_keys_as_geth_reads_them() -> None:
    assert parse_storage_key("0x0") == 0
    assert parse_storage_key("0x" + "00" * 31 + "01") == 1
    assert parse_storage_key("0x123") == 0x123
    with pytest.raises(InvalidValue, match="storage key too long"):
        parse_storage_key("0x" + "0" * 65)
    with pytest.raises(InvalidValue, match="invalid hex in storage key"):
        parse_storage_key("0xasdf")


def test_block_numbers_and_tags() -> None:
    for tag in ("latest", "earliest", "pending", "safe", "finalized"):
        assert parse_block_number(tag) == tag
    assert parse_block_number("0x10") == 16
    for bad in ("newest", "16", 16, "0x010", HASH):
        with pytest.raises(InvalidValue):
            parse_block_number(bad)


def test_block_refs_take_hashes_and_eip1898_objects() -> None:
    raw = bytes.fromhex("ab" * 32)
    assert parse_block_ref(HASH) == BlockRef(raw)
    assert parse_block_ref("latest") == BlockRef("latest")
    assert parse_block_ref("0x2") == BlockRef(2)
    assert parse_block_ref({"blockHash": HASH}) == BlockRef(raw)
    assert parse_block_ref({"blockHash": HASH, "requireCanonical": True}) == BlockRef(raw, True)
    assert parse_block_ref({"blockNumber": "0x3"}) == BlockRef(3)
    assert parse_block_ref({"blockNumber": "safe"}) == BlockRef("safe")
    for bad in (
        {"blockHash": HASH, "blockNumber": "0x1"},
        {},
        {"blockNumber": "0x1", "requireCanonical": True},
        {"blockHash": HASH, "requireCanonical": "yes"},
        {"blockHash": "0x12"},
        {"blockHash": HASH, "extra": 1},
        [HASH],
    ):
        with pytest.raises(InvalidValue):
            parse_block_ref(bad)


def test_call_request_fields() -> None:
    request = parse_call_request(
        {
            "from": ADDRESS,
            "to": None,
            "gas": "0x5208",
            "maxFeePerGas": "0x10",
            "maxPriorityFeePerGas": "0x1",
            "value": "0x3",
            "input": "0xabcd",
            "nonce": "0x7",
            "type": "0x2",
            "accessList": [{"address": ADDRESS, "storageKeys": [HASH]}],
            "chainId": "0x539",
            "somethingElse": 1,
        }
    )
    assert request == CallRequest(
        sender=bytes.fromhex("cd" * 20),
        to=None,
        gas=21000,
        max_fee_per_gas=16,
        max_priority_fee_per_gas=1,
        value=3,
        data=b"\xab\xcd",
        nonce=7,
        access_list=((bytes.fromhex("cd" * 20), (int("ab" * 32, 16),)),),
        type=2,
    )
    assert parse_call_request({"data": "0x01"}).data == b"\x01"
    assert parse_call_request({}).value == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"data": "0x01", "input": "0x02"},
        {"gasPrice": "0x1", "maxFeePerGas": "0x2"},
        {"to": "0x12"},
        {"value": "0x01"},
        {"gas": "0x1" + "0" * 16},
        {"accessList": "nope"},
        {"accessList": [{"address": ADDRESS, "storageKeys": "0x00"}]},
        "0x00",
        [],
    ],
)
def test_call_request_rejects(bad: Any) -> None:
    with pytest.raises(InvalidValue):
        parse_call_request(bad)


def test_filter_criteria() -> None:
    topic = "0x" + "11" * 32
    spec = parse_filter(
        {"fromBlock": "0x1", "toBlock": "latest", "address": ADDRESS, "topics": [None, [topic]]}
    )
    assert spec == FilterSpec(
        1, "latest", (bytes.fromhex("cd" * 20),), (None, (bytes(32 * [0x11]),))
    )
    assert parse_filter({}) == FilterSpec()
    assert parse_filter({"topics": [[], topic]}).topics == (None, (bytes(32 * [0x11]),))
    assert (
        parse_filter({"address": [ADDRESS, ADDRESS]}).addresses == (bytes.fromhex("cd" * 20),) * 2
    )
    assert parse_filter({"blockHash": HASH}).block_hash == bytes.fromhex("ab" * 32)


@pytest.mark.parametrize(
    "bad",
    [
        {"blockHash": HASH, "fromBlock": "0x1"},
        {"topics": [None] * 5},
        {"topics": "0x00"},
        {"topics": [["0x12"]]},
        {"address": "0x12"},
        {"fromBlock": "1"},
        "latest",
    ],
)
def test_filter_rejects(bad: Any) -> None:
    with pytest.raises(InvalidValue):
        parse_filter(bad)


def test_checksum_address_matches_eip55() -> None:
    # Test vector from EIP-55.
    address = bytes.fromhex("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
    assert checksum_address(address) == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
