"""Chain data as plain values: headers, blocks, receipts, logs.

These are what the execution layer hands out and what storage, RPC and the
explorer read. They carry no library objects, only bytes and ints.
"""

from __future__ import annotations

from dataclasses import dataclass

from peerchain.core.transactions import Transaction


@dataclass(frozen=True, slots=True)
class Header:
    """An Ethereum block header (Cancun/Prague fields) with its hash and RLP size."""

    hash: bytes
    parent_hash: bytes
    uncles_hash: bytes
    coinbase: bytes
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    logs_bloom: bytes
    difficulty: int
    number: int
    gas_limit: int
    gas_used: int
    timestamp: int
    extra_data: bytes
    mix_hash: bytes
    nonce: bytes
    base_fee_per_gas: int | None = None
    withdrawals_root: bytes | None = None
    blob_gas_used: int | None = None
    excess_blob_gas: int | None = None
    parent_beacon_block_root: bytes | None = None
    requests_hash: bytes | None = None


# The fields later forks added to the header, in header order: None where the fork has none.
FORK_HEADER_FIELDS = (
    "base_fee_per_gas",
    "withdrawals_root",
    "blob_gas_used",
    "excess_blob_gas",
    "parent_beacon_block_root",
    "requests_hash",
)


@dataclass(frozen=True, slots=True)
class Block:
    """A block: its header, its transactions in order, and its encoded form."""

    header: Header
    transactions: tuple[Transaction, ...]
    rlp: bytes

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def number(self) -> int:
        return self.header.number

    @property
    def size(self) -> int:
        return len(self.rlp)


@dataclass(frozen=True, slots=True)
class TxLocation:
    """Where a transaction sits in the chain."""

    block_hash: bytes
    block_number: int
    index: int


@dataclass(frozen=True, slots=True)
class Log:
    """An event emitted by a contract, with its position in the chain."""

    address: bytes
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: bytes
    transaction_hash: bytes
    transaction_index: int
    log_index: int
    removed: bool = False


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one included transaction."""

    transaction_hash: bytes
    transaction_index: int
    block_hash: bytes
    block_number: int
    sender: bytes
    to: bytes | None
    contract_address: bytes | None
    cumulative_gas_used: int
    gas_used: int
    effective_gas_price: int
    status: int
    logs: tuple[Log, ...]
    logs_bloom: bytes
    type: int
