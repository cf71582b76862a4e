"""Signed Ethereum transactions: decoding, sender recovery, intrinsic gas.

Legacy (EIP-155), access-list (type 1) and dynamic-fee (type 2) transactions.
"""

from __future__ import annotations

from dataclasses import dataclass

AccessList = tuple[tuple[bytes, tuple[int, ...]], ...]


@dataclass(frozen=True, slots=True)
class Transaction:
    """A decoded, signature-checked transaction.

    For legacy and access-list transactions both fee fields hold the gas price.
    `raw` is the canonical network encoding (type byte + RLP for typed ones) and
    `hash` is its keccak-256.
    """

    raw: bytes
    hash: bytes
    type: int
    chain_id: int | None
    nonce: int
    gas_limit: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    to: bytes | None
    value: int
    data: bytes
    access_list: AccessList
    v: int
    r: int
    s: int
    sender: bytes

    @property
    def gas_price(self) -> int:
        """The fee cap per gas (the gas price for legacy transactions)."""
        return self.max_fee_per_gas

    def effective_gas_price(self, base_fee: int) -> int:
        """Price per gas actually paid in a block with `base_fee`."""
        if self.type in (0, 1):
            return self.max_fee_per_gas
        return min(self.max_fee_per_gas, base_fee + self.max_priority_fee_per_gas)

    def effective_tip(self, base_fee: int) -> int:
        """Tip per gas the block producer receives at `base_fee` (negative if unpayable)."""
        return self.effective_gas_price(base_fee) - base_fee

    @property
    def cost(self) -> int:
        """Upper bound of what the sender pays: gas_limit * fee cap + value."""
        return self.gas_limit * self.max_fee_per_gas + self.value
