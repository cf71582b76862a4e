"""EIP-712 digests agree with eth_account's on the shapes dApps sign."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.messages import _hash_eip191_message, encode_typed_data

from peerchain.core.typeddata import InvalidTypedData, typed_data_digest

DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
DOMAIN = {
    "name": "Token",
    "version": "1",
    "chainId": 1337,
    "verifyingContract": "0x" + "cc" * 20,
}
PERMIT = {
    "types": {
        "EIP712Domain": DOMAIN_TYPE,
        "Permit": [
            {"name": "owner", "type": "address"},
            {"name": "spender", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ],
    },
    "primaryType": "Permit",
    "domain": DOMAIN,
    "message": {
        "owner": "0x" + "11" * 20,
        "spender": "0x" + "22" * 20,
        "value": "1000000000000000000000",
        "nonce": 0,
        "deadline": "0xffffffff",
    },
}
NESTED = {
    "types": {
        "EIP712Domain": DOMAIN_TYPE[:2],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallets", "type": "address[]"}],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person[]"},
            {"name": "contents", "type": "string"},
            {"name": "tag", "type": "bytes4"},
            {"name": "blob", "type": "bytes"},
            {"name": "score", "type": "int8"},
            {"name": "flags", "type": "bool[2]"},
        ],
    },
    "primaryType": "Mail",
    "domain": {"name": "Mail", "version": "2"},
    "message": {
        "from": {"name": "Cow", "wallets": ["0x" + "aa" * 20]},
        "to": [{"name": "Bob", "wallets": []}, {"name": "Eve", "wallets": ["0x" + "bb" * 20]}],
        "contents": "Hello, Bob!",
        "tag": "0x01020304",
        "blob": "0xdeadbeef",
        "score": -5,
        "flags": [True, False],
    },
}


def reference(document: dict[str, Any]) -> bytes:
    return bytes(_hash_eip191_message(encode_typed_data(full_message=document)))


@pytest.mark.parametrize("document", [PERMIT, NESTED], ids=["permit", "nested"])
def test_digest_matches_eth_account(document: dict[str, Any]) -> None:
    assert typed_data_digest(document) == reference(document)


def test_domain_type_may_be_left_out() -> None:
    without = {**PERMIT, "types": {"Permit": PERMIT["types"]["Permit"]}}
    assert typed_data_digest(without) == typed_data_digest(PERMIT)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"primaryType": "Nope"}, "unknown struct type Nope"),
        ({"message": {**PERMIT["message"], "owner": "0x12"}}, "Permit.owner"),
        ({"message": {**PERMIT["message"], "value": -1}}, "does not fit uint256"),
        ({"message": {**PERMIT["message"], "nonce": None}}, "Permit.nonce: missing"),
        ({"types": []}, "needs"),
    ],
)
def test_bad_documents_say_what_is_wrong(change: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidTypedData, match=words):
        typed_data_digest({**PERMIT, **change})
