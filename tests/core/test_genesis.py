"""parse_genesis / dev_genesis / Genesis.to_json."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerchain.core.genesis import (
    ConsensusTimeouts,
    Genesis,
    GenesisAccount,
    GenesisError,
    Validator,
    dev_genesis,
    parse_genesis,
)

ADDRESS = "0x" + "ab" * 20

GETH_STYLE = {
    "config": {"chainId": 4242, "cancunTime": 0, "pragueTime": 0, "londonBlock": 0},
    "nonce": "0x42",
    "timestamp": "0x10",
    "extraData": "0x7065657263686169",
    "gasLimit": "0x1c9c380",
    "baseFeePerGas": "1000",
    "difficulty": "0x0",
    "coinbase": "0x" + "cc" * 20,
    "alloc": {
        "ab" * 20: {"balance": "1000000000000000000"},
        "0x" + "01" * 20: {
            "balance": "0x10",
            "nonce": "0x1",
            "code": "0x6000",
            "storage": {"0x01": "0x02", "0x03": "0x0"},
        },
    },
    "peerchain": {
        "validators": [{"address": ADDRESS, "power": 10}, {"address": "0x" + "cd" * 20}],
        "timeouts": {"propose_ms": 2000, "prevote_delta_ms": 100},
        "block_period_ms": 500,
        "dev": {"automine": False, "block_time_ms": 250},
    },
}


def test_geth_style_document_is_read() -> None:
    g = parse_genesis(GETH_STYLE)
    assert (g.chain_id, g.fork, g.gas_limit, g.base_fee_per_gas) == (
        4242,
        "Prague",
        30_000_000,
        1000,
    )
    assert (g.timestamp, g.extra_data, g.nonce) == (
        16,
        b"peerchai",
        bytes.fromhex("0000000000000042"),
    )
    assert g.coinbase == b"\xcc" * 20
    assert g.account(b"\xab" * 20) == GenesisAccount(balance=10**18)
    assert g.account(b"\x01" * 20) == GenesisAccount(
        balance=16, nonce=1, code=b"\x60\x00", storage=((1, 2),)
    )
    assert g.validators == (Validator(b"\xab" * 20, 10), Validator(b"\xcd" * 20, 1))
    assert g.timeouts == ConsensusTimeouts(propose_ms=2000, prevote_delta_ms=100)
    assert g.block_period_ms == 500 and not g.dev.automine and g.dev.block_time_ms == 250


def test_fork_follows_the_config() -> None:
    cancun = {**GETH_STYLE, "config": {"chainId": 1, "cancunTime": 0}}
    assert parse_genesis(cancun).fork == "Cancun"
    assert parse_genesis({"config": {"chainId": 1}}).fork == "Prague"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"config": {}}, "config.chainId"),
        ({"config": {"chainId": 1, "pragueTime": 100}}, "fork transitions"),
        ({"gasLimit": "lots"}, "gasLimit: not a number"),
        ({"extraData": "0x" + "00" * 33}, "extraData is 33 bytes"),
        ({"alloc": {"0x1234": {"balance": "1"}}}, "20 bytes"),
        ({"alloc": {ADDRESS: {"balance": "-1"}}}, "out of range"),
        ({"alloc": {ADDRESS: {"code": "0xzz"}}}, "not a hex string"),
        ({"peerchain": {"validators": [{"address": ADDRESS, "power": 0}]}}, "power must be"),
        ({"peerchain": {"validators": [{"address": ADDRESS}] * 2}}, "listed twice"),
        ({"peerchain": {"timeouts": {"propose": 1}}}, "unknown field"),
        ({"peerchain": {"dev": {"automine": "yes"}}}, "automine"),
    ],
)
def test_bad_fields_are_named(change: dict[str, object], message: str) -> None:
    with pytest.raises(GenesisError, match=message):
        parse_genesis({**GETH_STYLE, **change})


def test_not_an_object() -> None:
    with pytest.raises(GenesisError):
        parse_genesis([])  # type: ignore[arg-type]


def test_dev_genesis_funds_the_accounts() -> None:
    g = dev_genesis(1337, [b"\x02" * 20, b"\x01" * 20], 5)
    assert [a for a, _ in g.alloc] == [b"\x01" * 20, b"\x02" * 20]
    assert g.account(b"\x02" * 20) == GenesisAccount(balance=5) and g.validators == ()


accounts = st.builds(
    GenesisAccount,
    balance=st.integers(0, 2**256 - 1),
    nonce=st.integers(0, 2**64 - 1),
    code=st.binary(max_size=40),
    storage=st.dictionaries(st.integers(0, 2**256 - 1), st.integers(1, 2**256 - 1)).map(
        lambda d: tuple(sorted(d.items()))
    ),
)


@given(
    chain_id=st.integers(1, 2**64 - 1),
    fork=st.sampled_from(["Cancun", "Prague"]),
    alloc=st.dictionaries(st.binary(min_size=20, max_size=20), accounts, max_size=4),
    extra=st.binary(max_size=32),
    validators=st.lists(st.binary(min_size=20, max_size=20), unique=True, max_size=3),
)
def test_to_json_round_trips(
    chain_id: int,
    fork: str,
    alloc: dict[bytes, GenesisAccount],
    extra: bytes,
    validators: list[bytes],
) -> None:
    g = Genesis(
        chain_id=chain_id,
        fork=fork,
        alloc=tuple(sorted(alloc.items())),
        extra_data=extra,
        validators=tuple(Validator(v, i + 1) for i, v in enumerate(validators)),
    )
    assert parse_genesis(g.to_json()) == g
