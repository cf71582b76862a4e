"""Translation between py-evm objects and the plain values of `peerchain.core`."""

from __future__ import annotations

from typing import Any

from eth._utils.address import generate_contract_address
from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth_typing import Address

from peerchain.core.blocks import FORK_HEADER_FIELDS, Header
from peerchain.core.transactions import (
    ACCESS_LIST_TX,
    DYNAMIC_FEE_TX,
    LEGACY_TX,
    Transaction,
)


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


def evm_transaction(builder: Any, tx: Transaction) -> SignedTransactionAPI:
    """py-evm's transaction object for a decoded core one, with its sender set.

    Legacy, access-list and dynamic-fee transactions are made from their fields with
    the builder's constructors (py-evm decoding `tx.raw` again costs many times more);
    other types are decoded from `tx.raw`. Raises what the builder raises for a type
    its fork does not support."""
    to = tx.to if tx.to is not None else b""
    if tx.type == LEGACY_TX:
        evm_tx = builder.new_transaction(
            tx.nonce, tx.max_fee_per_gas, tx.gas_limit, to, tx.value, tx.data, tx.v, tx.r, tx.s
        )
    elif tx.type == ACCESS_LIST_TX:
        evm_tx = builder.new_access_list_transaction(
            tx.chain_id, tx.nonce, tx.max_fee_per_gas, tx.gas_limit, to, tx.value, tx.data,
            tx.access_list, tx.v, tx.r, tx.s,
        )  # fmt: skip
    elif tx.type == DYNAMIC_FEE_TX:
        evm_tx = builder.new_dynamic_fee_transaction(
            tx.chain_id, tx.nonce, tx.max_priority_fee_per_gas, tx.max_fee_per_gas,
            tx.gas_limit, to, tx.value, tx.data, tx.access_list, tx.v, tx.r, tx.s,
        )  # fmt: skip
    else:
        evm_tx = builder.decode(tx.raw)
    prime_sender(evm_tx, tx.sender)
    return evm_tx  # type: ignore[no-any-return]


def prime_sender(tx: SignedTransactionAPI, sender: bytes) -> None:
    """Give a decoded py-evm transaction its already-known sender.

    py-evm caches `sender` with `cached_property`, which stores into the instance
    dict; filling it in spares a second signature recovery per transaction.
    """
    tx.__dict__["sender"] = sender
