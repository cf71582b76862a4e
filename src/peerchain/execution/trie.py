"""Ethereum's Merkle Patricia Trie, held as decoded nodes in memory.

Nodes are values shared between versions of a trie. `update` applies a sorted batch of
changes and returns the new root, copying only the nodes on changed paths (a node made
by the same batch is changed in place). Nothing is hashed until `commit`, which encodes
and hashes each changed node once and hands back the nodes to write; unchanged subtrees
keep their encoding. Nodes read from the store are decoded on first access and kept in
their parent, so a trie that lives across blocks caches the part of the state it has
read. Paths are hex strings (one character per nibble); keys may have any length.

Reads and updates take `load(hash) -> bytes`, which fetches a stored node and raises
MissingNode when the store does not have it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from peerchain.core.crypto import keccak256
from peerchain.core.errors import PeerChainError
from peerchain.core.rlp import decode_rlp, encode_bytes, encode_list, encode_rlp

BLANK_NODE = b"\x80"
BLANK_ROOT = keccak256(BLANK_NODE)
_HASHED_NODE_SIZE = 32
_INDEX = {c: i for i, c in enumerate("0123456789abcdef")}
_HEX = "0123456789abcdef"
_generations = itertools.count(1)


class MissingNode(PeerChainError):
    """A trie node is referenced by hash but the store does not hold it."""


class Leaf:
    """The end of a path: the rest of the key and the value. `decoded` caches what a
    reader made of `value` (an account, a slot), which is fixed for the node's life."""

    __slots__ = ("decoded", "gen", "hash", "path", "rlp", "value")

    def __init__(self, path: str, value: bytes, gen: int = 0) -> None:
        self.path = path
        self.value = value
        self.gen = gen
        self.rlp: bytes | None = None
        self.hash: bytes | None = None
        self.decoded: Any = None


class Extension:
    """A shared stretch of path leading to one branch."""

    __slots__ = ("child", "gen", "hash", "path", "rlp")

    def __init__(self, path: str, child: Child, gen: int = 0) -> None:
        self.path = path
        self.child = child
        self.gen = gen
        self.rlp: bytes | None = None
        self.hash: bytes | None = None


class Branch:
    """Sixteen children by next nibble, and the value of a key that ends here."""

    __slots__ = ("children", "gen", "hash", "rlp", "value")

    def __init__(self, children: list[Child], value: bytes | None, gen: int = 0) -> None:
        self.children = children
        self.value = value
        self.gen = gen
        self.rlp: bytes | None = None
        self.hash: bytes | None = None


class Stub:
    """A child known only by its hash: loaded from the store when first needed."""

    __slots__ = ("hash",)

    def __init__(self, node_hash: bytes) -> None:
        self.hash = node_hash


Node = Leaf | Extension | Branch
Child = Leaf | Extension | Branch | Stub | None
Loader = Callable[[bytes], bytes]


# --- encoding -------------------------------------------------------------------------
def _hex_prefix(path: str, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(path) % 2:
        return bytes.fromhex(_HEX[flag + 1] + path)
    return bytes.fromhex(_HEX[flag] + "0" + path)


def _child_ref(child: Child, out: dict[bytes, bytes]) -> bytes:
    """The RLP item by which a parent refers to `child`: its hash, or the node itself
    when its encoding is shorter than a hash."""
    if child is None:
        return BLANK_NODE
    if isinstance(child, Stub):
        return b"\xa0" + child.hash
    encoded = _encode_node(child, out)
    if len(encoded) < _HASHED_NODE_SIZE:
        return encoded
    return b"\xa0" + (child.hash or b"")  # set by _encode_node for nodes this long


def _encode_node(node: Node, out: dict[bytes, bytes]) -> bytes:
    """The node's RLP, computed once; hashed nodes it creates are added to `out`."""
    if node.rlp is not None:
        return node.rlp
    if type(node) is Leaf:
        encoded = encode_list(
            (encode_bytes(_hex_prefix(node.path, True)), encode_bytes(node.value))
        )
    elif type(node) is Extension:
        encoded = encode_list(
            (encode_bytes(_hex_prefix(node.path, False)), _child_ref(node.child, out))
        )
    else:
        assert type(node) is Branch
        items = [_child_ref(c, out) for c in node.children]
        items.append(encode_bytes(node.value or b""))
        encoded = encode_list(items)
    node.rlp = encoded
    if len(encoded) >= _HASHED_NODE_SIZE:
        node.hash = keccak256(encoded)
        out[node.hash] = encoded
    return encoded


def commit(root: Child, out: dict[bytes, bytes]) -> bytes:
    """The root hash of the trie under `root`. Every node created since it was last
    committed is encoded and hashed once, and the ones stored by hash (the root always)
    are added to `out` as hash -> RLP."""
    if root is None:
        return BLANK_ROOT
    if isinstance(root, Stub):
        return root.hash
    encoded = _encode_node(root, out)
    if root.hash is None:
        digest = keccak256(encoded)
        out[digest] = encoded
        return digest
    return root.hash


# --- decoding -------------------------------------------------------------------------
def _decode(item: Any, encoded: bytes | None) -> Node:
    if len(item) == 17:
        branch = Branch([_decode_child(c) for c in item[:16]], item[16] or None)
        branch.rlp = encoded
        return branch
    if len(item) != 2:
        raise MissingNode(f"malformed trie node with {len(item)} items")
    prefix = item[0].hex()
    flag = _INDEX[prefix[0]] if prefix else 0
    path = prefix[1:] if flag & 1 else prefix[2:]
    node: Node = Leaf(path, item[1]) if flag & 2 else Extension(path, _decode_child(item[1]))
    node.rlp = encoded
    return node


def _decode_child(item: Any) -> Child:
    if isinstance(item, list):
        return _decode(item, encode_rlp(item))
    if not item:
        return None
    return Stub(item)


def _load(stub: Stub, load: Loader) -> Node:
    encoded = load(stub.hash)
    node = _decode(decode_rlp(encoded), encoded)
    node.hash = stub.hash
    return node


def root_node(root_hash: bytes, load: Loader) -> Child:
    """The decoded root of a stored trie (None for the empty trie). Raises MissingNode."""
    if root_hash == BLANK_ROOT:
        return None
    return _load(Stub(root_hash), load)


def _branch_child(branch: Branch, index: int, load: Loader) -> Child:
    child = branch.children[index]
    if type(child) is Stub:
        child = branch.children[index] = _load(child, load)
    return child


def _extension_child(node: Extension, load: Loader) -> Child:
    child = node.child
    if type(child) is Stub:
        child = node.child = _load(child, load)
    return child


# --- reading --------------------------------------------------------------------------
def get(root: Child, path: str, load: Loader) -> Leaf | bytes | None:
    """The leaf holding `path` (or a branch's value, as bytes), or None if absent."""
    node = root
    pos = 0
    end = len(path)
    while node is not None:
        if type(node) is Leaf:
            if end - pos == len(node.path) and path.startswith(node.path, pos):
                return node
            return None
        if type(node) is Branch:
            if pos == end:
                return node.value
            node = _branch_child(node, _INDEX[path[pos]], load)
            pos += 1
        elif type(node) is Extension:
            if not path.startswith(node.path, pos):
                return None
            pos += len(node.path)
            node = _extension_child(node, load)
        else:
            raise MissingNode("unloaded trie root")
    return None


def get_value(root: Child, path: str, load: Loader) -> bytes | None:
    """The value stored under `path`, or None."""
    found = get(root, path, load)
    return found.value if isinstance(found, Leaf) else found


def proof(root: Child, path: str, load: Loader) -> list[bytes]:
    """The RLP of each node on the way to `path` (hashed or embedded), root first; a
    proof of absence when the key is not there. Nodes must have been committed."""
    nodes: list[bytes] = []
    node = root
    pos = 0
    while node is not None and not isinstance(node, Stub):
        assert node.rlp is not None, "commit the trie before asking for proofs"
        nodes.append(node.rlp)
        if type(node) is Leaf:
            break
        if type(node) is Branch:
            if pos == len(path):
                break
            node = _branch_child(node, _INDEX[path[pos]], load)
            pos += 1
        elif type(node) is Extension:
            if not path.startswith(node.path, pos):
                break
            pos += len(node.path)
            node = _extension_child(node, load)
    return nodes


# --- updating -------------------------------------------------------------------------
def update(root: Child, changes: Sequence[tuple[str, bytes | None]], load: Loader) -> Child:
    """The root of the trie with `changes` applied in order (value None deletes; the
    empty value deletes too, as in Ethereum). Sort by key for the best node reuse. The
    trie under `root` is left as it was. Raises MissingNode."""
    gen = next(_generations)
    if type(root) is Stub:
        root = _load(root, load)
    for path, value in changes:
        root = _set(root, path, 0, value, load, gen) if value else _delete(root, path, 0, load, gen)
    return root


def _common(a: str, b: str, start: int) -> int:
    """Length of the common prefix of `a` and `b[start:]`."""
    n = min(len(a), len(b) - start)
    i = 0
    while i < n and a[i] == b[start + i]:
        i += 1
    return i


def _set(node: Child, path: str, pos: int, value: bytes, load: Loader, gen: int) -> Node:
    if node is None:
        return Leaf(path[pos:], value, gen)
    if type(node) is Stub:
        node = _load(node, load)
    if type(node) is Branch:
        branch = _own(node, gen)
        if pos == len(path):
            branch.value = value
        else:
            index = _INDEX[path[pos]]
            child = _branch_child(node, index, load)
            branch.children[index] = _set(child, path, pos + 1, value, load, gen)
        return branch
    if type(node) is Leaf:
        if len(path) - pos == len(node.path) and path.startswith(node.path, pos):
            if node.gen == gen:
                node.value, node.rlp, node.hash, node.decoded = value, None, None, None
                return node
            return Leaf(node.path, value, gen)
        k = _common(node.path, path, pos)
        branch = Branch([None] * 16, None, gen)
        _place(branch, node.path[k:], node.value, gen)
        _place(branch, path[pos + k :], value, gen)
        return Extension(node.path[:k], branch, gen) if k else branch
    assert type(node) is Extension
    if path.startswith(node.path, pos):
        child = _extension_child(node, load)
        new_child = _set(child, path, pos + len(node.path), value, load, gen)
        if node.gen == gen:
            node.child, node.rlp, node.hash = new_child, None, None
            return node
        return Extension(node.path, new_child, gen)
    k = _common(node.path, path, pos)
    branch = Branch([None] * 16, None, gen)
    rest = node.path[k:]
    branch.children[_INDEX[rest[0]]] = (
        node.child if len(rest) == 1 else Extension(rest[1:], node.child, gen)
    )
    _place(branch, path[pos + k :], value, gen)
    return Extension(node.path[:k], branch, gen) if k else branch


def _place(branch: Branch, rest: str, value: bytes, gen: int) -> None:
    """Put a leaf for the remaining path `rest` under a new branch."""
    if rest:
        branch.children[_INDEX[rest[0]]] = Leaf(rest[1:], value, gen)
    else:
        branch.value = value


def _delete(node: Child, path: str, pos: int, load: Loader, gen: int) -> Child:
    """The node without key `path`; the same object when the key is not there."""
    if node is None:
        return None
    if type(node) is Stub:
        node = _load(node, load)
    if type(node) is Leaf:
        if len(path) - pos == len(node.path) and path.startswith(node.path, pos):
            return None
        return node
    if type(node) is Extension:
        if not path.startswith(node.path, pos):
            return node
        child = _extension_child(node, load)
        new_child = _delete(child, path, pos + len(node.path), load, gen)
        if new_child is child:
            return node
        return _join(node.path, new_child, load, gen)
    assert type(node) is Branch
    if pos == len(path):
        if node.value is None:
            return node
        branch = _own(node, gen)
        branch.value = None
    else:
        index = _INDEX[path[pos]]
        child = _branch_child(node, index, load)
        if child is None:
            return node
        new_child = _delete(child, path, pos + 1, load, gen)
        if new_child is child:
            return node
        branch = _own(node, gen)
        branch.children[index] = new_child
    return _normalize(branch, load, gen)


def _own(branch: Branch, gen: int) -> Branch:
    """A branch this batch may change: the same one if the batch made it, else a copy."""
    if branch.gen == gen:
        branch.rlp = branch.hash = None
        return branch
    return Branch(list(branch.children), branch.value, gen)


def _normalize(branch: Branch, load: Loader, gen: int) -> Node | None:
    """A branch left with one entry becomes a leaf or an extension."""
    used = [i for i, c in enumerate(branch.children) if c is not None]
    if len(used) > 1 or (used and branch.value is not None):
        return branch
    if not used:
        return Leaf("", branch.value, gen) if branch.value is not None else None
    index = used[0]
    return _join(_HEX[index], _branch_child(branch, index, load), load, gen)


def _join(prefix: str, child: Child, load: Loader, gen: int) -> Node | None:
    """`child` reached through `prefix`, with the paths merged as the trie requires."""
    if type(child) is Stub:
        child = _load(child, load)
    if child is None:
        return None
    if type(child) is Leaf:
        return Leaf(prefix + child.path, child.value, gen)
    if type(child) is Extension:
        return Extension(prefix + child.path, child.child, gen)
    assert type(child) is Branch
    return Extension(prefix, child, gen)
