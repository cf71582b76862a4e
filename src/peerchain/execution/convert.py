"""Translation between py-evm objects and the plain values of `peerchain.core`."""

from __future__ import annotations

from typing import Any

from eth._utils.address import generate_contract_address
from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth_typing import Address

from peerchain.core.blocks import FORK_HEADER_FIELDS, Header
from peerchain.core.transactions import Transaction


def header_from_evm(header: BlockHeaderAPI) -> Header:
    """A core Header carrying the fields of a py-evm header (fork-specific ones if set)."""
    return Header(
        hash=header.hash,
        parent_hash=header.parent_hash,
        uncles_hash=header.uncles_hash,
        coinbase=header.coinbase,
        state_root=header.state_root,
        transactions_root=header.transaction_root,
        receipts_root=header.receipt_root,
        logs_bloom=header.bloom.to_bytes(256, "big"),
        difficulty=header.difficulty,
        number=header.block_number,
        gas_limit=header.gas_limit,
        gas_used=header.gas_used,
        timestamp=header.timestamp,
        extra_data=header.extra_data,
        mix_hash=header.mix_hash,
        nonce=header.nonce,
        **{name: _optional(header, name) for name in FORK_HEADER_FIELDS},
    )


def _optional(header: BlockHeaderAPI, name: str) -> Any:
    try:
        return getattr(header, name)
    except AttributeError:
        return None


def encode_transaction(tx: SignedTransactionAPI) -> bytes:
    """The network encoding: RLP list for legacy, type byte + RLP for typed ones."""
    return bytes(tx.encode())


def created_address(tx: Transaction) -> bytes | None:
    """The address a create transaction makes (None for a call)."""
    if tx.to is not None:
        return None
    return bytes(generate_contract_address(Address(tx.sender), tx.nonce))


def prime_sender(tx: SignedTransactionAPI, sender: bytes) -> None:
    """Give a decoded py-evm transaction its already-known sender.

    py-evm caches `sender` with `cached_property`, which stores into the instance
    dict; filling it in spares a second signature recovery per transaction.
    """
    tx.__dict__["sender"] = sender
