"""A block's body checked against its header without executing it.

A proposal signs a block hash, which is the hash of the header only. The header commits
to the body (transactions root, ommers hash, withdrawals root), so bytes that decode to
a header with the signed hash and a body that matches those roots are the one block the
hash names. This is what a node checks before it stores, counts or relays a proposal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth.db.trie import make_trie_root_and_nodes
from eth.exceptions import UnrecognizedTransactionType

from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError, PeerChainError
from peerchain.core.rlp import LIBRARY_ERRORS, decode_object, encode_object

_UNDECODABLE: tuple[type[Exception], ...] = (
    DecodeError,
    *LIBRARY_ERRORS,
    UnrecognizedTransactionType,
    ValueError,
)


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


def check_body(block_class: Any, block_rlp: bytes) -> BodyHeader:
    """Decode `block_rlp` as a block of `block_class` (a py-evm fork's) and check that
    its transactions, ommers and withdrawals are those its header commits to.
    Raises InvalidBody."""
    try:
        block = decode_object(block_rlp, block_class)
    except _UNDECODABLE as exc:
        raise InvalidBody(f"malformed block: {exc}") from exc
    header = block.header
    transactions_root, _ = make_trie_root_and_nodes(block.transactions)
    if transactions_root != header.transaction_root:
        raise InvalidBody("block transactions do not match the header's transactions root")
    if keccak256(encode_object(block.uncles)) != header.uncles_hash:
        raise InvalidBody("block ommers do not match the header's ommers hash")
    withdrawals = getattr(block, "withdrawals", None)
    if withdrawals is not None:
        withdrawals_root, _ = make_trie_root_and_nodes(withdrawals)
        if withdrawals_root != header.withdrawals_root:
            raise InvalidBody("block withdrawals do not match the header's withdrawals root")
    return BodyHeader(
        hash=bytes(header.hash),
        number=int(header.block_number),
        extra_data=bytes(header.extra_data),
        parent_hash=bytes(header.parent_hash),
        coinbase=bytes(header.coinbase),
        timestamp=int(header.timestamp),
        parent_beacon_block_root=bytes(getattr(header, "parent_beacon_block_root", b"")),
    )
