"""The records that make an executed block the stored chain's head, in py-evm's key
schema (docs/architecture.md, "Keys and files"), so that every reader (py-evm's ChainDB,
`db check`, the start-up check) finds the block where it always did.

The usual case, a block on the canonical head of a chain without gaps, is written here
directly: the header, its score, the number -> hash lookup, the canonical head, the chain
gaps and a lookup per transaction and withdrawal. Anything else (a dev node's chain after
a rewind or a reserved range) goes through py-evm's ChainDB, which knows how to re-link
the canonical chain. The block's tries are written by whoever computed their roots.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

from eth.db.chain import ChainDB
from eth.db.schema import SchemaV1
from eth.rlp.sedes import chain_gaps
from eth_typing import BlockNumber, Hash32

from peerchain.core.crypto import keccak256
from peerchain.core.rlp import (
    decode_uint,
    encode_bytes,
    encode_list,
    encode_object,
    encode_rlp,
    encode_uint,
)

_HEAD_KEY = SchemaV1.make_canonical_head_hash_lookup_key()
_HEADER_GAPS_KEY = SchemaV1.make_header_chain_gaps_lookup_key()
_BLOCK_GAPS_KEY = SchemaV1.make_chain_gaps_lookup_key()


def encode_gaps(gaps: Any) -> bytes:
    """py-evm's chain-gaps record: (gaps, first number not yet stored)."""
    return encode_object(gaps, chain_gaps)


def _no_gaps(tip: int) -> bytes:
    return encode_gaps(((), BlockNumber(tip)))


def write_block_records(
    db: MutableMapping[bytes, bytes],
    header: Any,
    header_rlp: bytes,
    tx_hashes: Sequence[bytes],
    withdrawals: Sequence[bytes],
    evm_block: Callable[[], Any],
) -> None:
    """Write into `db` the records that make `header` (py-evm's, encoded as `header_rlp`)
    the canonical head: its transactions are `tx_hashes`, its withdrawals' RLP
    `withdrawals`. `evm_block` makes the py-evm block, for the rare chains py-evm's
    ChainDB must re-link."""
    number = header.block_number
    parent = header.parent_hash
    no_gaps = _no_gaps(number)
    if (
        db.get(_HEAD_KEY) != parent
        or db.get(_HEADER_GAPS_KEY) != no_gaps
        or db.get(_BLOCK_GAPS_KEY) != no_gaps
    ):
        ChainDB(db).persist_block(evm_block())  # type: ignore[arg-type]
        return
    block_hash = keccak256(header_rlp)
    score_key = SchemaV1.make_block_hash_to_score_lookup_key
    score = decode_uint(db[score_key(Hash32(parent))]) + (header.difficulty or number)
    db[block_hash] = header_rlp
    db[score_key(Hash32(block_hash))] = encode_rlp(encode_uint(score))
    db[_HEADER_GAPS_KEY] = db[_BLOCK_GAPS_KEY] = _no_gaps(number + 1)
    db[SchemaV1.make_block_number_to_hash_lookup_key(number)] = encode_rlp(block_hash)
    db[_HEAD_KEY] = block_hash
    number_bytes = encode_uint(number)
    tx_key = SchemaV1.make_transaction_hash_to_block_lookup_key
    number_item = encode_bytes(number_bytes)
    for index, tx_hash in enumerate(tx_hashes):
        db[tx_key(Hash32(tx_hash))] = encode_list((number_item, encode_bytes(encode_uint(index))))
    withdrawal_key = SchemaV1.make_withdrawal_hash_to_block_lookup_key
    for index, withdrawal in enumerate(withdrawals):
        lookup = encode_rlp([number_bytes, encode_uint(index)])
        db[withdrawal_key(Hash32(keccak256(withdrawal)))] = lookup
