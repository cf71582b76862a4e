"""Merkle proofs of accounts and storage slots (eth_getProof), read from the state trie."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth.abc import DatabaseAPI
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.rlp.accounts import Account
from trie.hexary import HexaryTrie

from peerchain.core.crypto import keccak256
from peerchain.core.queries import AccountProof, StorageProof
from peerchain.core.rlp import decode_object, decode_uint, encode_rlp

_HASHED_NODE_SIZE = 32


def account_proof(
    db: DatabaseAPI, state_root: bytes, address: bytes, slots: Sequence[int]
) -> AccountProof:
    """The account at `address` under `state_root` with proofs for it and `slots`.

    An absent account is reported with zero balance and nonce, the empty code hash
    and the empty storage root, and a proof of its absence.
    """
    state_trie: Any = HexaryTrie(db, state_root)
    key = keccak256(address)
    encoded = state_trie.get(key)
    if encoded:
        account = decode_object(encoded, Account)
    else:
        account = Account(nonce=0, balance=0, storage_root=BLANK_ROOT_HASH, code_hash=EMPTY_SHA3)
    storage_trie: Any = HexaryTrie(db, account.storage_root)
    storage = []
    for slot in slots:
        slot_key = keccak256(slot.to_bytes(32, "big"))
        raw = storage_trie.get(slot_key)
        value = decode_uint(raw) if raw else 0
        storage.append(
            StorageProof(key=slot, value=value, proof=_encode(storage_trie.get_proof(slot_key)))
        )
    return AccountProof(
        address=address,
        balance=account.balance,
        nonce=account.nonce,
        code_hash=account.code_hash,
        storage_hash=account.storage_root,
        account_proof=_encode(state_trie.get_proof(key)),
        storage_proof=tuple(storage),
    )


def _encode(nodes: Sequence[Any]) -> tuple[bytes, ...]:
    """RLP of the proof's nodes; nodes embedded in their parent are not listed (as geth)."""
    encoded = [encode_rlp(node) for node in nodes]
    return tuple(e for i, e in enumerate(encoded) if i == 0 or len(e) >= _HASHED_NODE_SIZE)
