"""A dev node's world state as a JSON document: dumped from a state root, loaded back.

Format, version 1 (`anvil_dumpState`, `peerchain dev --dump-state FILE`):

    {"format": "peerchain-state", "version": 1, "stateRoot": "0x…",
     "accounts": [{"key": "0x…", "address": "0x…" | null, "nonce": "0x…", "balance": "0x…",
                   "code": "0x…", "storage": {"0x<slot key>": "0x<value>"}}]}

The state trie is keyed by the keccak of each address and each storage trie by the
keccak of each slot, and the node keeps no preimages: `key` and the storage keys are
those hashes, which is enough to rebuild the same tries (and so the same state root).
`address` is filled in where the node knows it (dev accounts, genesis allocations).
Loading writes every account of a document into a state, replacing accounts with the
same key and keeping the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth.abc import DatabaseAPI
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.rlp.accounts import Account
from trie.hexary import HexaryTrie
from trie.iter import NodeIterator

from peerchain.core.crypto import keccak256
from peerchain.core.errors import PeerChainError
from peerchain.core.rlp import decode_object, decode_uint, encode_object, encode_rlp, encode_uint

FORMAT = "peerchain-state"
VERSION = 1


class InvalidStateDump(PeerChainError):
    """A state document is not of this format or version, or a field is malformed."""


def dump_state(db: DatabaseAPI, state_root: bytes, addresses: Iterable[bytes]) -> dict[str, Any]:
    """Every account under `state_root`, named by address where one of `addresses` fits."""
    names = {keccak256(a): a for a in addresses}
    accounts = []
    for key, encoded in NodeIterator(HexaryTrie(db, state_root)).items():
        account = decode_object(encoded, Account)
        storage = {
            "0x" + slot.hex(): "0x" + decode_uint(value).to_bytes(32, "big").hex()
            for slot, value in NodeIterator(HexaryTrie(db, account.storage_root)).items()
        }
        address = names.get(key)
        code = db[account.code_hash] if account.code_hash != EMPTY_SHA3 else b""
        accounts.append(
            {
                "key": "0x" + key.hex(),
                "address": None if address is None else "0x" + address.hex(),
                "nonce": hex(account.nonce),
                "balance": hex(account.balance),
                "code": "0x" + bytes(code).hex(),
                "storage": storage,
            }
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "stateRoot": "0x" + state_root.hex(),
        "accounts": accounts,
    }


def load_state(db: DatabaseAPI, state_root: bytes, document: Any) -> bytes:
    """Write the accounts of `document` into the state at `state_root` (trie nodes and
    code go to `db`); return the new state root. Raises InvalidStateDump."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidStateDump(f'not a state document: "format" must be "{FORMAT}"')
    if document.get("version") != VERSION:
        raise InvalidStateDump(f"unsupported state document version {document.get('version')}")
    accounts = document.get("accounts")
    if not isinstance(accounts, list):
        raise InvalidStateDump('"accounts" must be a list')
    state: Any = HexaryTrie(db, state_root)
    for index, entry in enumerate(accounts):
        try:
            key, account = _account(db, entry)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidStateDump(f"account {index}: {exc}") from None
        state[key] = account
    return bytes(state.root_hash)


def _account(db: DatabaseAPI, entry: dict[str, Any]) -> tuple[bytes, bytes]:
    key = _hex_bytes(entry["key"], 32)
    storage: Any = HexaryTrie(db, BLANK_ROOT_HASH)
    for slot, value in entry.get("storage", {}).items():
        number = int.from_bytes(_hex_bytes(value), "big")
        if number:
            storage[_hex_bytes(slot, 32)] = encode_rlp(encode_uint(number))
    code = _hex_bytes(entry.get("code", "0x"))
    code_hash = keccak256(code) if code else EMPTY_SHA3
    if code:
        db[code_hash] = code
    account = Account(
        nonce=int(entry["nonce"], 16),
        balance=int(entry["balance"], 16),
        storage_root=storage.root_hash,
        code_hash=code_hash,
    )
    return key, encode_object(account)


def _hex_bytes(value: Any, size: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"expected 0x-prefixed hex, got {str(value)[:40]}")
    raw = bytes.fromhex(value[2:])
    if size is not None and len(raw) != size:
        raise ValueError(f"expected {size} bytes, got {len(raw)}")
    return raw
