"""Receipts as a block's execution makes them: encoded for the receipts trie, turned
into core `Receipt`s with their logs, once.

`Outcome` is what executing one transaction leaves (status, cumulative gas, logs and
their bloom); `encode_receipt` is the receipt's consensus encoding (type byte + RLP for
typed transactions), `block_receipts` the core receipts once the block hash is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth.abc import ReceiptAPI

from peerchain.core.blocks import Header, Log, Receipt
from peerchain.core.bloom import BLOOM_BYTES, item_bloom
from peerchain.core.rlp import encode_bytes, encode_list
from peerchain.core.transactions import Transaction
from peerchain.execution.convert import created_address

# A log as py-evm's computation reports it: address, topics as ints, data.
EvmLog = tuple[bytes, tuple[int, ...], bytes]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one included transaction left: success, the block's gas used after it, its
    logs in order and their bloom (256 bytes)."""

    success: bool
    cumulative_gas_used: int
    logs: tuple[EvmLog, ...]
    bloom: bytes


def logs_bloom(logs: Sequence[EvmLog]) -> bytes:
    """The bloom of a receipt's logs: each address and each topic."""
    bloom = 0
    for address, topics, _ in logs:
        bloom |= item_bloom(address)
        for topic in topics:
            bloom |= item_bloom(topic.to_bytes(32, "big"))
    return bloom.to_bytes(BLOOM_BYTES, "big")


def make_outcome(success: bool, cumulative_gas_used: int, logs: Sequence[EvmLog]) -> Outcome:
    logs = tuple(logs)
    bloom = logs_bloom(logs) if logs else bytes(BLOOM_BYTES)
    return Outcome(success, cumulative_gas_used, logs, bloom)


def encode_receipt(tx_type: int, outcome: Outcome) -> bytes:
    """The receipt's encoding in the receipts trie."""
    logs = encode_list(
        encode_list(
            (
                encode_bytes(address),
                encode_list(encode_bytes(t.to_bytes(32, "big")) for t in topics),
                encode_bytes(data),
            )
        )
        for address, topics, data in outcome.logs
    )
    gas = outcome.cumulative_gas_used
    body = encode_list(
        (
            encode_bytes(b"\x01" if outcome.success else b""),
            encode_bytes(gas.to_bytes((gas.bit_length() + 7) // 8, "big")),
            encode_bytes(outcome.bloom),
            logs,
        )
    )
    return body if tx_type == 0 else bytes((tx_type,)) + body


def placed_logs(
    entries: Sequence[EvmLog],
    number: int,
    block_hash: bytes,
    tx_hash: bytes,
    tx_index: int,
    first_index: int,
) -> tuple[Log, ...]:
    """A transaction's logs as core Logs placed in their block, numbered from
    `first_index` (the count of the block's logs before them)."""
    return tuple(
        Log(
            address=bytes(address),
            topics=tuple(t.to_bytes(32, "big") for t in topics),
            data=bytes(data),
            block_number=number,
            block_hash=block_hash,
            transaction_hash=tx_hash,
            transaction_index=tx_index,
            log_index=first_index + offset,
        )
        for offset, (address, topics, data) in enumerate(entries)
    )


def block_receipts(
    outcomes: Sequence[Outcome], transactions: Sequence[Transaction], header: Header
) -> tuple[Receipt, ...]:
    """Core receipts, with positioned logs, of a block's transactions."""
    receipts = []
    log_index = 0
    previous = 0
    base_fee = header.base_fee_per_gas or 0
    for index, (outcome, tx) in enumerate(zip(outcomes, transactions, strict=True)):
        logs = placed_logs(outcome.logs, header.number, header.hash, tx.hash, index, log_index)
        log_index += len(logs)
        cumulative = outcome.cumulative_gas_used
        receipts.append(
            Receipt(
                transaction_hash=tx.hash,
                transaction_index=index,
                block_hash=header.hash,
                block_number=header.number,
                sender=tx.sender,
                to=tx.to,
                contract_address=created_address(tx),
                cumulative_gas_used=cumulative,
                gas_used=cumulative - previous,
                effective_gas_price=tx.effective_gas_price(base_fee),
                status=1 if outcome.success else 0,
                logs=logs,
                logs_bloom=outcome.bloom,
                type=tx.type,
            )
        )
        previous = cumulative
    return tuple(receipts)


def receipts_from_evm(
    evm_receipts: Sequence[ReceiptAPI], transactions: Sequence[Transaction], header: Header
) -> tuple[Receipt, ...]:
    """Core receipts of a stored block from py-evm's decoded receipts."""
    outcomes = [
        Outcome(
            success=receipt.state_root == b"\x01",
            cumulative_gas_used=receipt.gas_used,
            logs=tuple((log.address, tuple(log.topics), log.data) for log in receipt.logs),
            bloom=receipt.bloom.to_bytes(BLOOM_BYTES, "big"),
        )
        for receipt in evm_receipts
    ]
    return block_receipts(outcomes, transactions, header)
