"""py-evm's transaction objects made from decoded core transactions (execution/convert.py)
are the ones py-evm's own decoder makes of the same bytes."""

from __future__ import annotations

import pytest
from eth.exceptions import UnrecognizedTransactionType
from hypothesis import given, settings
from hypothesis import strategies as st

from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.transactions import (
    Authorization,
    UnsignedTransaction,
    decode_transaction,
    sign_transaction,
)
from peerchain.execution.convert import evm_transaction
from peerchain.execution.vm import FORKS

KEY = keccak256(b"convert")
UINT64 = st.integers(0, 2**64 - 1)
AMOUNT = st.integers(0, 2**256 - 1)
ADDRESS = st.binary(min_size=20, max_size=20)
ACCESS_LIST = st.lists(
    st.tuples(ADDRESS, st.lists(st.integers(0, 2**256 - 1), max_size=3).map(tuple)),
    max_size=3,
).map(tuple)


@st.composite
def transactions(draw: st.DrawFn) -> UnsignedTransaction:
    tx_type = draw(st.sampled_from([0, 1, 2]))
    fee = draw(AMOUNT)
    return UnsignedTransaction(
        type=tx_type,
        chain_id=draw(st.none() | st.integers(1, 2**32)) if tx_type == 0 else 1337,
        nonce=draw(UINT64),
        gas_limit=draw(UINT64),
        max_fee_per_gas=fee,
        max_priority_fee_per_gas=draw(AMOUNT) if tx_type == 2 else 0,
        to=draw(st.none() | ADDRESS),
        value=draw(AMOUNT),
        data=draw(st.binary(max_size=80)),
        access_list=draw(ACCESS_LIST) if tx_type else (),
    )


@pytest.mark.parametrize("fork", sorted(FORKS))
@settings(max_examples=60, deadline=None)
@given(unsigned=transactions())
def test_built_transactions_equal_py_evms_decoding(
    fork: str, unsigned: UnsignedTransaction
) -> None:
    tx = decode_transaction(sign_transaction(unsigned, KEY).raw)
    builder = FORKS[fork].vm.get_transaction_builder()
    built = evm_transaction(builder, tx)
    decoded = builder.decode(tx.raw)
    assert built == decoded
    assert built.encode() == tx.raw
    assert built.hash == tx.hash
    assert built.sender == decoded.sender == private_key_to_address(KEY)


def test_other_types_are_decoded_from_their_bytes() -> None:
    auth = Authorization(chain_id=1337, address=b"\x22" * 20, nonce=0, y_parity=0, r=1, s=1)
    unsigned = UnsignedTransaction(
        type=4, chain_id=1337, nonce=1, gas_limit=100_000, max_fee_per_gas=10,
        to=b"\x33" * 20, authorization_list=(auth,),
    )  # fmt: skip
    tx = sign_transaction(unsigned, KEY)
    built = evm_transaction(FORKS["Prague"].vm.get_transaction_builder(), tx)
    assert built.encode() == tx.raw
    assert built.sender == tx.sender
    with pytest.raises(UnrecognizedTransactionType):
        evm_transaction(FORKS["Cancun"].vm.get_transaction_builder(), tx)
