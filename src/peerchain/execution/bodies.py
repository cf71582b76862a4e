"""A block taken apart and checked against its header without executing it.

A proposal signs a block hash, which is the hash of the header only. The header commits
to the body (transactions root, ommers hash, withdrawals root), so bytes that decode to
a header with the signed hash and a body that matches those roots are the one block the
hash names. This is what a node checks before it stores, counts or relays a proposal.

Blocks are taken apart with `split_list` (the items' bytes, not every field decoded) and
their roots computed with the execution layer's own trie, so checking a 1,000-transaction
body costs little more than hashing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth.exceptions import UnrecognizedTransactionType

from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError, PeerChainError
from peerchain.core.rlp import (
    LIBRARY_ERRORS,
    decode_object,
    decode_rlp,
    encode_bytes,
    encode_list,
    split_list,
)
from peerchain.execution import trie

_UNDECODABLE: tuple[type[Exception], ...] = (
    DecodeError,
    *LIBRARY_ERRORS,
    UnrecognizedTransactionType,
    ValueError,
)
EMPTY_LIST = b"\xc0"
EMPTY_LIST_HASH = keccak256(EMPTY_LIST)


class InvalidBody(PeerChainError):
    """Block bytes that do not decode, or whose body is not the one the header names."""


@dataclass(frozen=True, slots=True)
class BodyHeader:
    """What the checked block's header says that consensus needs, and what a node checks
    before it executes the block."""

    hash: bytes
    number: int
    extra_data: bytes
    parent_hash: bytes
    coinbase: bytes
    timestamp: int
    parent_beacon_block_root: bytes


@dataclass(frozen=True, slots=True)
class BlockParts:
    """A block's header (py-evm's, decoded) and its body as encoded items.

    `transactions` are the network encodings (type byte + RLP, or the legacy RLP list),
    `withdrawals` the RLP of each withdrawal (None for a fork without them)."""

    header: Any
    hash: bytes
    transactions: tuple[bytes, ...]
    withdrawals: tuple[bytes, ...] | None


def split_block(block_class: Any, block_rlp: bytes) -> BlockParts:
    """Take a block of `block_class` (a py-evm fork's) apart: the header decoded, the
    body's items as bytes. A fork after the merge has no ommers. Raises InvalidBody."""
    sedes = block_class._meta.sedes
    try:
        items = split_list(block_rlp)
        if len(items) != len(sedes):
            raise DecodeError(f"a block has {len(sedes)} parts, this one {len(items)}")
        header = decode_object(items[0], sedes[0])
        transactions = tuple(_network_form(item) for item in split_list(items[1]))
        if items[2] != EMPTY_LIST:
            raise DecodeError("the fork allows no ommers")
        withdrawals = None
        if len(items) > 3:
            withdrawals = tuple(split_list(items[3]))
            for withdrawal in withdrawals:
                decode_object(withdrawal, sedes[3].element_sedes)
    except _UNDECODABLE as exc:
        raise InvalidBody(f"malformed block: {exc}") from exc
    return BlockParts(header, keccak256(items[0]), transactions, withdrawals)


def _network_form(item: bytes) -> bytes:
    """A transaction as the block list holds it -> its network encoding: a legacy one
    is the RLP list itself, a typed one the payload of an RLP string."""
    if item[0] >= 0xC0:
        return item
    payload = decode_rlp(item)
    assert isinstance(payload, bytes)  # not a list: checked above
    if not payload or payload[0] >= 0x80:
        raise DecodeError("a typed transaction must start with its type byte")
    return payload


def encode_block(
    header_rlp: bytes, transactions: Sequence[bytes], withdrawals: Sequence[bytes] | None
) -> bytes:
    """The RLP of a block from its encoded header, its transactions' network encodings
    and its withdrawals' RLP (None for a fork without them); no ommers."""
    txs = encode_list(tx if tx[0] >= 0xC0 else encode_bytes(tx) for tx in transactions)
    parts = [header_rlp, txs, EMPTY_LIST]
    if withdrawals is not None:
        parts.append(encode_list(withdrawals))
    return encode_list(parts)


def ordered_root(items: Sequence[bytes], out: dict[bytes, bytes] | None = None) -> bytes:
    """Root of the trie that maps each item's index (RLP) to the item, as the
    transactions, receipts and withdrawals roots are made; its stored nodes are added
    to `out` (hash -> RLP) when given."""
    changes = sorted((encode_bytes(_index(i)).hex(), item) for i, item in enumerate(items))
    root = trie.update(None, changes, _no_store)
    return trie.commit(root, {} if out is None else out)


def _index(i: int) -> bytes:
    return i.to_bytes((i.bit_length() + 7) // 8, "big")


def _no_store(node_hash: bytes) -> bytes:
    raise AssertionError("a trie built from nothing reads no stored node")


def check_parts(parts: BlockParts, transaction_nodes: dict[bytes, bytes] | None = None) -> None:
    """Check that the body's transactions and withdrawals are those the header commits
    to (the ommers, none, were checked by `split_block`); the nodes of the transactions
    trie are added to `transaction_nodes` when given. Raises InvalidBody."""
    header = parts.header
    if ordered_root(parts.transactions, transaction_nodes) != header.transaction_root:
        raise InvalidBody("block transactions do not match the header's transactions root")
    if header.uncles_hash != EMPTY_LIST_HASH:
        raise InvalidBody("block ommers do not match the header's ommers hash")
    withdrawals = parts.withdrawals
    if withdrawals is not None and ordered_root(withdrawals) != header.withdrawals_root:
        raise InvalidBody("block withdrawals do not match the header's withdrawals root")


def check_body(block_class: Any, block_rlp: bytes) -> BodyHeader:
    """Decode `block_rlp` as a block of `block_class` (a py-evm fork's) and check that
    its transactions, ommers and withdrawals are those its header commits to.
    Raises InvalidBody."""
    parts = split_block(block_class, block_rlp)
    check_parts(parts)
    header = parts.header
    return BodyHeader(
        hash=parts.hash,
        number=int(header.block_number),
        extra_data=bytes(header.extra_data),
        parent_hash=bytes(header.parent_hash),
        coinbase=bytes(header.coinbase),
        timestamp=int(header.timestamp),
        parent_beacon_block_root=bytes(getattr(header, "parent_beacon_block_root", b"")),
    )
