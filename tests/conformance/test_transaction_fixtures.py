"""ethereum/tests TransactionTests through `decode_transaction` + `validate_transaction`.

Every case runs. The expectation used is the newest fork the fixture lists among
Prague, Cancun, Shanghai, Paris, London (some older fixtures stop at London). The
fixtures are signed for chain id 1 and predate the calldata floor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from peerchain.core.errors import DecodeError, InvalidSignature, InvalidTransaction, WrongChainId
from peerchain.core.transactions import (
    Transaction,
    decode_transaction,
    intrinsic_gas,
    validate_transaction,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ethereum-tests" / "TransactionTests"
FORKS = ("Prague", "Cancun", "Shanghai", "Paris", "London")

# Fixture exception name -> the error the project raises for it (and the message it starts with).
EXPECTED_ERRORS: dict[str, tuple[type[Exception], str]] = {
    "INVALID_SIGNATURE_VRS": (InvalidSignature, "invalid"),
    "EC_RECOVERY_FAIL": (InvalidSignature, "invalid sender"),
    "INVALID_CHAINID": (WrongChainId, "invalid chain id for signer"),
    "RLP_TOO_FEW_ELEMENTS": (DecodeError, "rlp: too few elements"),
    "RLP_TOO_MANY_ELEMENTS": (DecodeError, "rlp: too many elements"),
    "RLP_LEADING_ZEROS_BASEFEE": (DecodeError, "rlp: non-canonical integer"),
    "RLP_LEADING_ZEROS_PRIORITY_FEE": (DecodeError, "rlp: non-canonical integer"),
    "GASPRICE_OVERFLOW": (InvalidTransaction, "max fee per gas higher than 2^256-1"),
    "PRIORITY_OVERFLOW": (InvalidTransaction, "max priority fee per gas higher than 2^256-1"),
    "PRIORITY_GREATER_THAN_MAX_FEE_PER_GAS_2": (
        InvalidTransaction,
        "max priority fee per gas higher than max fee per gas",
    ),
    "GASLIMIT_PRICE_PRODUCT_OVERFLOW": (
        InvalidTransaction,
        "gas * max fee per gas higher than 2^256-1",
    ),
}


def _cases() -> list[Any]:
    cases = []
    for path in sorted(FIXTURES.rglob("*.json")):
        for name, case in json.loads(path.read_text()).items():
            fork = next(f for f in FORKS if f in case["result"])
            cases.append(
                pytest.param(case["txbytes"], case["result"][fork], id=f"{path.parent.name}/{name}")
            )
    return cases


CASES = _cases()


def test_fixture_set_is_present() -> None:
    assert len(CASES) >= 40


def _check(raw: bytes) -> Transaction:
    tx = decode_transaction(raw, chain_id=1)
    validate_transaction(tx, chain_id=1, calldata_floor=False)
    return tx


@pytest.mark.parametrize(("txbytes", "expected"), CASES)
def test_transaction_fixture(txbytes: str, expected: dict[str, str]) -> None:
    raw = bytes.fromhex(txbytes.removeprefix("0x"))
    if "exception" in expected:
        kind = expected["exception"].removeprefix("TransactionException.")
        error, message = EXPECTED_ERRORS[kind]
        with pytest.raises(error) as info:
            _check(raw)
        assert str(info.value).startswith(message)
        return
    tx = _check(raw)
    assert "0x" + tx.hash.hex() == expected["hash"]
    assert "0x" + tx.sender.hex() == expected["sender"]
    assert intrinsic_gas(tx) == int(expected["intrinsicGas"], 16)
