"""Signed transactions for tests, from a few fields and the rest defaulted."""

from __future__ import annotations

from peerchain.core.transactions import Transaction, UnsignedTransaction, sign_transaction

GWEI = 10**9


def signed_transaction(
    key: bytes,
    nonce: int,
    *,
    to: bytes | None,
    chain_id: int,
    value: int = 0,
    data: bytes = b"",
    gas: int = 21_000,
    max_fee: int = 10 * GWEI,
    tip: int = GWEI,
    tx_type: int = 2,
) -> Transaction:
    """A transaction signed by `key`: dynamic-fee (type 2) unless `tx_type` says otherwise,
    `max_fee` as its gas price where the type has no tip."""
    unsigned = UnsignedTransaction(
        type=tx_type,
        chain_id=chain_id,
        nonce=nonce,
        gas_limit=gas,
        max_fee_per_gas=max_fee,
        max_priority_fee_per_gas=tip if tx_type == 2 else 0,
        to=to,
        value=value,
        data=data,
    )
    return sign_transaction(unsigned, key)
