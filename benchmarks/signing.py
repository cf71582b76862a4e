"""Transactions signed for the benchmarks: dynamic-fee, generous fixed fees, local nonces."""

from __future__ import annotations

from collections import defaultdict

from peerchain.core.transactions import Transaction, UnsignedTransaction, sign_transaction

GWEI = 10**9


def sign_call(
    key: bytes,
    chain_id: int,
    nonce: int,
    to: bytes | None,
    data: bytes,
    gas: int,
    value: int = 0,
) -> Transaction:
    """A type-2 transaction paying up to 100 gwei per gas with a 1 gwei tip."""
    unsigned = UnsignedTransaction(
        type=2,
        chain_id=chain_id,
        nonce=nonce,
        gas_limit=gas,
        max_fee_per_gas=100 * GWEI,
        max_priority_fee_per_gas=GWEI,
        to=to,
        value=value,
        data=data,
    )
    return sign_transaction(unsigned, key)


class NonceSigner:
    """Signs for several keys, counting each key's nonce locally from a start."""

    def __init__(self, chain_id: int, start: dict[bytes, int] | None = None) -> None:
        self.chain_id = chain_id
        self.nonces: defaultdict[bytes, int] = defaultdict(int, start or {})

    def sign(
        self, key: bytes, to: bytes | None, data: bytes, gas: int, value: int = 0
    ) -> Transaction:
        nonce = self.nonces[key]
        self.nonces[key] += 1
        return sign_call(key, self.chain_id, nonce, to, data, gas, value)
