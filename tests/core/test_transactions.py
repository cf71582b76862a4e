"""Transaction decoding, signing, static validation and intrinsic gas."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from peerchain.core import crypto
from peerchain.core.errors import (
    DecodeError,
    IntrinsicGasTooLow,
    InvalidSignature,
    InvalidTransaction,
    WrongChainId,
)
from peerchain.core.rlp import decode_rlp, encode_rlp, encode_uint
from peerchain.core.transactions import (
    Authorization,
    Transaction,
    UnsignedTransaction,
    decode_transaction,
    intrinsic_gas,
    sign_transaction,
    validate_transaction,
)

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
SENDER = crypto.private_key_to_address(KEY)
CHAIN = 1337
TO = bytes.fromhex("5ce9454909639d2d17a3f753ce7d93fa0b9ab12e")
HALF_N = crypto.SECP256K1_N // 2


def unsigned(tx_type: int = 2, **changes: object) -> UnsignedTransaction:
    base = UnsignedTransaction(
        type=tx_type,
        chain_id=CHAIN,
        nonce=7,
        gas_limit=60_000,
        max_fee_per_gas=3 * 10**9,
        max_priority_fee_per_gas=10**9 if tx_type >= 2 else 0,
        to=TO,
        value=12345,
        data=b"\x00\x01\x02",
        access_list=((TO, (1, 2)),) if tx_type >= 1 else (),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


AUTH = Authorization(chain_id=CHAIN, address=TO, nonce=3, y_parity=1, r=5, s=6)

SAMPLES = {
    "legacy-unprotected": unsigned(0, chain_id=None),
    "legacy-eip155": unsigned(0),
    "access-list": unsigned(1),
    "dynamic-fee": unsigned(2),
    "dynamic-fee-create": unsigned(2, to=None, data=b"\x60\x00" * 40, gas_limit=100_000),
    "set-code": unsigned(4, authorization_list=(AUTH,)),
}


def resign_raw(raw: bytes, field: int, value: bytes) -> bytes:
    """Replace one top-level RLP field of a (typed or legacy) raw transaction."""
    typed = raw[0] < 0xC0
    items = decode_rlp(raw[1:] if typed else raw)
    assert isinstance(items, list)
    items[field] = value
    return (raw[:1] if typed else b"") + encode_rlp(items)


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", SAMPLES)
def test_sign_then_decode_round_trips(name: str) -> None:
    tx = sign_transaction(SAMPLES[name], KEY)
    assert tx.sender == SENDER
    assert tx.hash == crypto.keccak256(tx.raw)
    assert decode_transaction(tx.raw) == tx
    assert decode_transaction(tx.raw, CHAIN) == tx
    assert tx.s <= HALF_N


def test_legacy_fee_fields_both_hold_gas_price() -> None:
    tx = sign_transaction(unsigned(0, max_fee_per_gas=77), KEY)
    assert (tx.type, tx.max_fee_per_gas, tx.max_priority_fee_per_gas) == (0, 77, 77)
    assert tx.v in (35 + 2 * CHAIN, 36 + 2 * CHAIN)
    unprotected = sign_transaction(unsigned(0, chain_id=None), KEY)
    assert unprotected.chain_id is None and unprotected.v in (27, 28)


def _eth_account_dict(u: UnsignedTransaction) -> dict[str, object]:
    d: dict[str, object] = {
        "nonce": u.nonce,
        "gas": u.gas_limit,
        "to": u.to or b"",
        "value": u.value,
        "data": u.data,
    }
    if u.chain_id is not None:
        d["chainId"] = u.chain_id
    if u.type in (0, 1):
        d["gasPrice"] = u.max_fee_per_gas
    else:
        d["maxFeePerGas"] = u.max_fee_per_gas
        d["maxPriorityFeePerGas"] = u.max_priority_fee_per_gas
    if u.type >= 1:
        d["type"] = u.type
        d["accessList"] = [
            {"address": "0x" + a.hex(), "storageKeys": ["0x" + k.to_bytes(32, "big").hex()
                                                      for k in keys]}
            for a, keys in u.access_list
        ]  # fmt: skip
    return d


@pytest.mark.parametrize("name", [n for n in SAMPLES if n != "set-code"])
def test_matches_eth_account(name: str) -> None:
    u = SAMPLES[name]
    signed = Account.sign_transaction(_eth_account_dict(u), KEY)
    ours = sign_transaction(u, KEY)
    assert ours.raw == bytes(signed.raw_transaction)
    assert ours.hash == bytes(signed.hash)


def test_set_code_matches_eth_account() -> None:
    auth = Account.sign_authorization({"chainId": CHAIN, "address": TO, "nonce": 3}, KEY)
    ours_auth = Authorization(
        chain_id=CHAIN, address=TO, nonce=3, y_parity=auth.y_parity, r=auth.r, s=auth.s
    )
    u = unsigned(4, authorization_list=(ours_auth,))
    d = _eth_account_dict(u) | {"authorizationList": [auth]}
    signed = Account.sign_transaction(d, KEY)
    tx = decode_transaction(bytes(signed.raw_transaction))
    assert tx.sender == SENDER
    assert tx.authorization_list == (ours_auth,)
    assert sign_transaction(u, KEY).raw == bytes(signed.raw_transaction)


fees = st.integers(min_value=0, max_value=2**256 - 1)


@settings(max_examples=60, deadline=None)
@given(
    tx_type=st.sampled_from([0, 1, 2, 4]),
    nonce=st.integers(0, 2**64 - 2),
    gas=st.integers(0, 2**64 - 1),
    fee=fees,
    tip=fees,
    value=fees,
    data=st.binary(max_size=64),
    create=st.booleans(),
    protected=st.booleans(),
)
def test_round_trip_property(
    tx_type: int,
    nonce: int,
    gas: int,
    fee: int,
    tip: int,
    value: int,
    data: bytes,
    create: bool,
    protected: bool,
) -> None:
    u = unsigned(
        tx_type,
        chain_id=CHAIN if protected or tx_type else None,
        nonce=nonce,
        gas_limit=gas,
        max_fee_per_gas=fee,
        max_priority_fee_per_gas=tip if tx_type >= 2 else 0,
        value=value,
        data=data,
        to=None if create and tx_type != 4 else TO,
        authorization_list=(AUTH,) if tx_type == 4 else (),
    )
    tx = sign_transaction(u, KEY)
    assert decode_transaction(tx.raw) == tx
    assert tx.sender == SENDER


# ---------------------------------------------------------------- signatures


@pytest.mark.parametrize("name", ["legacy-eip155", "dynamic-fee"])
def test_high_s_is_rejected(name: str) -> None:
    tx = sign_transaction(SAMPLES[name], KEY)
    # (r, N - s) with the other parity is the same signature in its malleable form.
    v = tx.v ^ 1 if tx.type else (tx.v - 1 if tx.v % 2 == 0 else tx.v + 1)
    raw = resign_raw(tx.raw, -3, encode_uint(v))
    raw = resign_raw(raw, -1, encode_uint(crypto.SECP256K1_N - tx.s))
    with pytest.raises(InvalidSignature):
        decode_transaction(raw)


@pytest.mark.parametrize(
    ("field", "value"),
    [(-2, b""), (-1, b""), (-2, encode_uint(crypto.SECP256K1_N)), (-3, encode_uint(2))],
    ids=["r-zero", "s-zero", "r-at-order", "y-parity-2"],
)
def test_out_of_range_signature_values(field: int, value: bytes) -> None:
    raw = resign_raw(sign_transaction(SAMPLES["dynamic-fee"], KEY).raw, field, value)
    with pytest.raises(InvalidSignature):
        decode_transaction(raw)


def test_tampered_payload_recovers_another_sender() -> None:
    raw = resign_raw(sign_transaction(SAMPLES["dynamic-fee"], KEY).raw, 1, encode_uint(8))
    try:
        tx = decode_transaction(raw)
    except InvalidSignature:
        return
    assert tx.sender != SENDER


def test_wrong_chain_is_refused_before_signature_work() -> None:
    tx = sign_transaction(SAMPLES["dynamic-fee"], KEY)
    broken = resign_raw(tx.raw, -1, b"")  # s = 0 would be InvalidSignature
    with pytest.raises(WrongChainId, match=r"have 1337 want 1$"):
        decode_transaction(broken, chain_id=1)
    legacy = sign_transaction(SAMPLES["legacy-eip155"], KEY)
    with pytest.raises(WrongChainId):
        decode_transaction(legacy.raw, chain_id=1)
    unprotected = sign_transaction(SAMPLES["legacy-unprotected"], KEY)
    assert decode_transaction(unprotected.raw, chain_id=1).chain_id is None


@pytest.mark.parametrize("v", [0, 1, 29, 34])
def test_legacy_v_without_chain_meaning_is_invalid(v: int) -> None:
    raw = resign_raw(sign_transaction(SAMPLES["legacy-eip155"], KEY).raw, 6, encode_uint(v))
    with pytest.raises(InvalidSignature):
        decode_transaction(raw)


# ---------------------------------------------------------------- malformed bytes


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x02", b"\x80", b"\xb8\x01", b"\x02\xc0", b"\xc0", b"\x01\x80"],
    ids=[
        "empty",
        "type-only",
        "rlp-string",
        "rlp-truncated",
        "empty-typed-list",
        "empty-legacy-list",
        "typed-string",
    ],
)
def test_malformed_bytes_raise_decode_error(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_transaction(raw)


def test_field_shape_errors_raise_decode_error() -> None:
    raw = sign_transaction(SAMPLES["dynamic-fee"], KEY).raw
    cases = {
        "trailing byte": raw + b"\x00",
        "nonce leading zero": resign_raw(raw, 1, b"\x00\x07"),
        "nonce over 64 bits": resign_raw(raw, 1, b"\x01" * 9),
        "gas over 64 bits": resign_raw(raw, 4, b"\x01" * 9),
        "short to": resign_raw(raw, 5, b"\x01" * 19),
        "list as value": resign_raw(raw, 6, [b"\x01"]),  # type: ignore[arg-type]
        "access list string": resign_raw(raw, 8, b"\x01"),
        "short storage key": resign_raw(raw, 8, [[TO, [b"\x01"]]]),  # type: ignore[list-item]
    }
    for name, bad in cases.items():
        with pytest.raises(DecodeError):
            decode_transaction(bad)
        assert name


@pytest.mark.parametrize("type_byte", [3, 5, 0x7F])
def test_unsupported_types(type_byte: int) -> None:
    raw = bytes([type_byte]) + encode_rlp([b"\x01"] * 14)
    with pytest.raises(InvalidTransaction, match=r"^transaction type not supported$"):
        decode_transaction(raw)


def test_set_code_needs_recipient_and_authorizations() -> None:
    for u in (unsigned(4, authorization_list=()), unsigned(4, to=None, authorization_list=(AUTH,))):
        with pytest.raises(InvalidTransaction, match="set code"):
            decode_transaction(sign_transaction(u, KEY).raw)


ALLOWED_ERRORS = (DecodeError, InvalidTransaction)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_only_raises_documented_errors(raw: bytes) -> None:
    with contextlib.suppress(ALLOWED_ERRORS):
        decode_transaction(raw)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(SAMPLES)), st.data())
def test_mutated_transactions_only_raise_documented_errors(name: str, data: st.DataObject) -> None:
    raw = bytearray(sign_transaction(SAMPLES[name], KEY).raw)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        tx = decode_transaction(bytes(raw[:cut]))
    except ALLOWED_ERRORS:
        return
    assert tx.raw == bytes(raw[:cut])


# ---------------------------------------------------------------- intrinsic gas


def test_intrinsic_gas_components() -> None:
    plain = unsigned(2, data=b"", access_list=())
    assert intrinsic_gas(plain) == 21000
    assert intrinsic_gas(replace(plain, data=b"\x00\x00\x01")) == 21000 + 2 * 4 + 16
    create = replace(plain, to=None, data=b"\x01" * 33)
    assert intrinsic_gas(create) == 21000 + 32000 + 33 * 16 + 2 * 2
    listed = replace(plain, access_list=((TO, (1, 2, 3)), (TO, ())))
    assert intrinsic_gas(listed) == 21000 + 2 * 2400 + 3 * 1900
    assert intrinsic_gas(unsigned(4, data=b"", access_list=(), authorization_list=(AUTH,) * 2)) == (
        21000 + 2 * 25000
    )


def test_calldata_floor_is_a_parameter() -> None:
    heavy = unsigned(2, data=b"\x01" * 1000, access_list=())
    assert intrinsic_gas(heavy) == 21000 + 16_000
    assert intrinsic_gas(heavy, calldata_floor=True) == 21000 + 10 * 4 * 1000
    light = unsigned(2, data=b"\x01", access_list=((TO, (1,)),))
    assert intrinsic_gas(light, calldata_floor=True) == intrinsic_gas(light)


# ---------------------------------------------------------------- static validation


def _validate(tx: Transaction, floor: bool = False) -> None:
    validate_transaction(tx, chain_id=CHAIN, calldata_floor=floor)


def test_valid_transaction_passes() -> None:
    for u in SAMPLES.values():
        _validate(sign_transaction(u, KEY))


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"chain_id": 5}, WrongChainId, "invalid chain id for signer: have 5 want 1337"),
        ({"max_fee_per_gas": 2**256}, InvalidTransaction, "max fee per gas higher than 2^256-1"),
        (
            {"max_priority_fee_per_gas": 2**256},
            InvalidTransaction,
            "max priority fee per gas higher than 2^256-1",
        ),
        (
            {"max_priority_fee_per_gas": 4 * 10**9},
            InvalidTransaction,
            "max priority fee per gas higher than max fee per gas",
        ),
        (
            {"max_fee_per_gas": 2**255, "max_priority_fee_per_gas": 0},
            InvalidTransaction,
            "gas * max fee per gas higher than 2^256-1",
        ),
        ({"value": 2**256}, InvalidTransaction, "value higher than 2^256-1"),
        ({"nonce": 2**64 - 1}, InvalidTransaction, "nonce has max value"),
        (
            {"to": None, "data": b"\x01" * 49153, "gas_limit": 10**7},
            InvalidTransaction,
            "max initcode size exceeded: code size 49153 limit 49152",
        ),
        (
            {"gas_limit": 21000},
            IntrinsicGasTooLow,
            "intrinsic gas too low: gas 21000, minimum needed 27236",
        ),
    ],
    ids=[
        "chain",
        "fee",
        "tip-overflow",
        "tip-above-fee",
        "product",
        "value",
        "nonce",
        "initcode",
        "intrinsic",
    ],
)
def test_static_rules(changes: dict[str, object], error: type[Exception], message: str) -> None:
    tx = sign_transaction(unsigned(2, **changes), KEY)
    with pytest.raises(error) as info:
        _validate(tx)
    assert str(info.value) == message


def test_floor_applies_in_validation() -> None:
    u = unsigned(2, data=b"\x01" * 1000, access_list=(), gas_limit=40_000)
    _validate(sign_transaction(u, KEY))
    with pytest.raises(IntrinsicGasTooLow, match="minimum needed 61000"):
        _validate(sign_transaction(u, KEY), floor=True)
