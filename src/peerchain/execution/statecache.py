"""Decoded state kept in memory across blocks, found by root hash.

`StateCache` maps a trie root hash (a state root or an account's storage root) to the
decoded trie under it, and a code hash to the code. Everything is content-addressed, so
one cache serves the head, older blocks, blocks being built and blocks being checked at
the same time: a root names exactly one trie, whoever computed it. The tries of
consecutive blocks share their unchanged nodes, so keeping the last roots costs little;
the oldest roots are dropped beyond a bound, and the nodes only they reach with them.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from eth.constants import EMPTY_SHA3

from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError
from peerchain.core.rlp import RLPItem, decode_rlp, encode_bytes, encode_list
from peerchain.execution import trie
from peerchain.execution.trie import BLANK_ROOT, Child, Leaf, Loader

ROOTS_KEPT = 4096
CODES_KEPT = 1024
_KEYS_KEPT = 1 << 16


class AccountRecord(NamedTuple):
    """An account as the state trie stores it."""

    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes


EMPTY_ACCOUNT = AccountRecord(0, 0, BLANK_ROOT, EMPTY_SHA3)


def _encode_int(value: int) -> bytes:
    return encode_bytes(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def encode_account(account: AccountRecord) -> bytes:
    nonce, balance, storage_root, code_hash = account
    return encode_list(
        (
            _encode_int(nonce),
            _encode_int(balance),
            encode_bytes(storage_root),
            encode_bytes(code_hash),
        )
    )


def _bytes_item(item: RLPItem) -> bytes:
    if not isinstance(item, bytes):
        raise DecodeError("malformed state record: a list where bytes belong")
    return item


def _decode_account(encoded: bytes) -> AccountRecord:
    fields = decode_rlp(encoded)
    if not isinstance(fields, list) or len(fields) != 4:
        raise DecodeError("malformed account record in the state trie")
    nonce, balance, storage_root, code_hash = (_bytes_item(f) for f in fields)
    return AccountRecord(
        int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"), storage_root, code_hash
    )


def _decode_slot(encoded: bytes) -> int:
    return int.from_bytes(_bytes_item(decode_rlp(encoded)), "big")


@functools.lru_cache(maxsize=_KEYS_KEPT)
def account_path(address: bytes) -> str:
    """Trie path (hex nibbles) of an account: keccak of its address."""
    return keccak256(address).hex()


@functools.lru_cache(maxsize=_KEYS_KEPT)
def slot_path(slot: int) -> str:
    """Trie path (hex nibbles) of a storage slot: keccak of its 32-byte number."""
    return keccak256(slot.to_bytes(32, "big")).hex()


def encode_slot(value: int) -> bytes:
    """A storage value as the storage trie holds it."""
    return _encode_int(value)


class StateCache:
    """Decoded tries by root hash and code by code hash, bounded, shared by threads."""

    def __init__(self, roots: int = ROOTS_KEPT, codes: int = CODES_KEPT) -> None:
        self._roots: OrderedDict[bytes, Child] = OrderedDict()
        self._codes: OrderedDict[bytes, bytes] = OrderedDict()
        self._max_roots = roots
        self._max_codes = codes
        self._lock = threading.Lock()

    def root(self, root_hash: bytes, load: Loader) -> Child:
        """The decoded trie under `root_hash`, loaded from the store when not cached.
        Raises MissingNode."""
        if root_hash == BLANK_ROOT:
            return None
        with self._lock:
            node = self._roots.get(root_hash)
            if node is not None:
                self._roots.move_to_end(root_hash)
                return node
        node = trie.root_node(root_hash, load)
        self.keep_root(root_hash, node)
        return node

    def keep_root(self, root_hash: bytes, node: Child) -> None:
        """Remember the decoded trie computed for `root_hash`."""
        if node is None:
            return
        with self._lock:
            self._roots[root_hash] = node
            self._roots.move_to_end(root_hash)
            while len(self._roots) > self._max_roots:
                self._roots.popitem(last=False)

    def code(self, code_hash: bytes, load: Callable[[bytes], bytes]) -> bytes:
        with self._lock:
            code = self._codes.get(code_hash)
        if code is None:
            code = load(code_hash)
            self.keep_code(code_hash, code)
        return code

    def keep_code(self, code_hash: bytes, code: bytes) -> None:
        with self._lock:
            self._codes[code_hash] = code
            while len(self._codes) > self._max_codes:
                self._codes.popitem(last=False)


def read_account(root: Child, address: bytes, load: Loader) -> AccountRecord | None:
    """The account at `address` in the state trie under `root`, or None."""
    found = trie.get(root, account_path(address), load)
    if found is None:
        return None
    if not isinstance(found, Leaf):
        return _decode_account(found)  # a value on a branch: only in malformed tries
    account = found.decoded
    if account is None:
        account = found.decoded = _decode_account(found.value)
    return account  # type: ignore[no-any-return]


def read_slot(root: Child, slot: int, load: Loader) -> int:
    """The value of `slot` in the storage trie under `root` (0 when absent)."""
    found = trie.get(root, slot_path(slot), load)
    if found is None:
        return 0
    if not isinstance(found, Leaf):
        return _decode_slot(found)
    value = found.decoded
    if value is None:
        value = found.decoded = _decode_slot(found.value)
    return value  # type: ignore[no-any-return]
