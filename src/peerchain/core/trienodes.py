"""Merkle Patricia trie nodes as they are stored, for walks that check a trie is whole.

A stored node is the RLP of a branch (17 items: 16 children and a value) or of a leaf
or extension (2 items: hex-prefix path and value or child). A child is the 32-byte
keccak of a stored node, a node embedded inline (shorter than 32 bytes of RLP) or
empty. `walk_trie` visits every node reachable from a root through a reader, checking
that each stored node is there and hashes to its reference; for the account trie it
follows each account's storage root and code hash too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError
from peerchain.core.kv import KeyValueReader
from peerchain.core.rlp import decode_rlp, encode_rlp

BLANK_ROOT = keccak256(encode_rlp(b""))
EMPTY_CODE_HASH = keccak256(b"")


@dataclass(frozen=True, slots=True)
class TrieDamage:
    """A node or code record reachable from a root is missing, does not hash to its
    reference, or does not decode; `where` says which trie it belongs to."""

    key: bytes
    problem: str
    where: str

    def line(self) -> str:
        return f"{self.where}: record 0x{self.key.hex()} {self.problem}"


def read_node(reader: KeyValueReader, ref: bytes) -> list[object]:
    """The decoded stored node `ref`. Raises KeyError if it is missing, DecodeError if it
    does not hash to `ref` or is not a trie node."""
    data = reader.get(ref)
    if data is None:
        raise KeyError(ref)
    if keccak256(data) != ref:
        raise DecodeError("does not hash to its key")
    return _decode_node(data)


def child_refs(node: list[object]) -> tuple[list[bytes], list[list[object]], list[bytes]]:
    """(stored children by hash, embedded children, leaf values) of a decoded node."""
    if len(node) == 17:
        slots, values = node[:16], [node[16]]
    elif _is_leaf(node):
        return [], [], [_as_bytes(node[1])]
    else:
        slots, values = [node[1]], []
    hashed: list[bytes] = []
    embedded: list[list[object]] = []
    for slot in slots:
        if isinstance(slot, list):
            embedded.append(slot)
        elif len(_as_bytes(slot)) == 32:
            hashed.append(_as_bytes(slot))
        elif slot != b"":
            raise DecodeError("a child reference is neither a hash nor an embedded node")
    return hashed, embedded, [v for v in map(_as_bytes, values) if v]


def walk_trie(
    reader: KeyValueReader,
    root: bytes,
    where: str,
    *,
    accounts: bool = False,
    visited: Callable[[], None] | None = None,
    seen: set[bytes] | None = None,
) -> Iterator[TrieDamage]:
    """Yield the damage found in the trie under `root` (nothing for a whole trie).
    `visited` is called once per stored record read (for progress); records in `seen`
    are skipped and those read are added (walks of many tries that share nodes)."""
    seen = set() if seen is None else seen
    pending: list[tuple[bytes, str, bool]] = [(root, where, accounts)]
    while pending:
        ref, label, is_accounts = pending.pop()
        if ref == BLANK_ROOT or ref in seen:
            continue
        seen.add(ref)
        if visited is not None:
            visited()
        try:
            node = read_node(reader, ref)
        except KeyError:
            yield TrieDamage(ref, "is missing", label)
            continue
        except DecodeError as exc:
            yield TrieDamage(ref, str(exc), label)
            continue
        stack = [node]
        while stack:
            try:
                hashed, embedded, values = child_refs(stack.pop())
            except DecodeError as exc:
                yield TrieDamage(ref, str(exc), label)
                break
            pending += [(child, label, is_accounts) for child in hashed]
            stack += embedded
            if is_accounts:
                for value in values:
                    yield from _account_links(reader, value, ref, pending, visited, seen)


def _account_links(
    reader: KeyValueReader,
    value: bytes,
    leaf: bytes,
    pending: list[tuple[bytes, str, bool]],
    visited: Callable[[], None] | None,
    seen: set[bytes],
) -> Iterator[TrieDamage]:
    """Queue an account's storage trie and check its code record."""
    try:
        account = decode_rlp(value)
    except DecodeError:
        account = b""
    if not isinstance(account, list) or len(account) != 4:
        yield TrieDamage(leaf, "holds an account that does not decode", "account trie")
        return
    storage_root, code_hash = account[2], account[3]
    if not isinstance(storage_root, bytes) or not isinstance(code_hash, bytes):
        yield TrieDamage(leaf, "holds an account that does not decode", "account trie")
        return
    pending.append((storage_root, f"storage trie 0x{storage_root.hex()[:16]}", False))
    if code_hash != EMPTY_CODE_HASH and code_hash not in seen:
        seen.add(code_hash)
        if visited is not None:
            visited()
        code = reader.get(code_hash)
        if code is None:
            yield TrieDamage(code_hash, "is missing", "contract code")
        elif keccak256(code) != code_hash:
            yield TrieDamage(code_hash, "does not hash to its key", "contract code")


def _decode_node(data: bytes) -> list[object]:
    try:
        node = decode_rlp(data)
    except DecodeError as exc:
        raise DecodeError(f"is not a trie node: {exc}") from exc
    if not isinstance(node, list) or len(node) not in (2, 17):
        raise DecodeError("is not a trie node")
    return list(node)


def _is_leaf(node: list[object]) -> bool:
    path = _as_bytes(node[0])
    return bool(path) and bool(path[0] & 0x20)


def _as_bytes(item: object) -> bytes:
    if not isinstance(item, bytes):
        raise DecodeError("a trie node field is a list where bytes belong")
    return item
