"""The in-memory trie against py-trie's HexaryTrie (the slow reference) and the
ethereum/tests TrieTests fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rlp
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from trie import HexaryTrie

from peerchain.core.crypto import keccak256
from peerchain.execution import trie
from peerchain.execution.trie import BLANK_ROOT, Child, MissingNode

TRIE_TESTS = Path(__file__).resolve().parents[1] / "fixtures" / "ethereum-tests" / "TrieTests"

# 32-byte keys from a few nibble patterns, so that paths share long prefixes and nodes
# split, merge and collapse often; values around the 32-byte embedding threshold.
_NIBBLES = st.sampled_from([0x00, 0x01, 0x10, 0x11, 0xF0, 0xFF])
KEYS = st.lists(_NIBBLES, min_size=2, max_size=2).map(lambda ns: bytes(ns) * 16)
VALUES = st.binary(min_size=1, max_size=40)


def _fixture_bytes(text: str | None) -> bytes:
    if text is None:
        return b""
    return bytes.fromhex(text[2:]) if text.startswith("0x") else text.encode()


class TrieMachine(RuleBasedStateMachine):
    """Random batches of inserts, updates and deletes, applied to both tries; after each
    commit the roots, every value, every proof and a reload from the store agree."""

    def __init__(self) -> None:
        super().__init__()
        self.reference = HexaryTrie({})
        self.store: dict[bytes, bytes] = {}
        self.root: Child = None
        self.pending: dict[bytes, bytes | None] = {}
        self.keys: set[bytes] = set()

    def load(self, node_hash: bytes) -> bytes:
        try:
            return self.store[node_hash]
        except KeyError:
            raise MissingNode(node_hash.hex()) from None

    @rule(key=KEYS, value=VALUES)
    def put(self, key: bytes, value: bytes) -> None:
        self.pending[key] = value
        self.keys.add(key)

    @rule(key=KEYS)
    def delete(self, key: bytes) -> None:
        self.pending[key] = None
        self.keys.add(key)

    @precondition(lambda self: self.pending)
    @rule()
    def apply_batch(self) -> None:
        for key, value in self.pending.items():
            if value is not None:
                self.reference[key] = value
            elif self.reference.exists(key):
                del self.reference[key]
        batch = sorted((key.hex(), value) for key, value in self.pending.items())
        self.root = trie.update(self.root, batch, self.load)
        self.pending.clear()
        written: dict[bytes, bytes] = {}
        assert trie.commit(self.root, written) == self.reference.root_hash
        # Only changed nodes are handed back, and each of them is in the reference store.
        for node_hash, encoded in written.items():
            assert self.reference.db[node_hash] == encoded
        self.store.update(written)

    @invariant()
    def agrees_with_reference(self) -> None:
        if self.pending:
            return
        root_hash = trie.commit(self.root, {})
        reloaded = trie.root_node(root_hash, self.load)
        for key in self.keys:
            expected = self.reference.get(key) or None
            assert trie.get_value(self.root, key.hex(), self.load) == expected
            assert trie.get_value(reloaded, key.hex(), self.load) == expected
            proof = [bytes(rlp.encode(node)) for node in self.reference.get_proof(key)]
            assert trie.proof(self.root, key.hex(), self.load) == proof


TestTrieMatchesHexaryTrie = TrieMachine.TestCase
TestTrieMatchesHexaryTrie.settings = settings(max_examples=100, stateful_step_count=30)


def test_an_old_version_is_unchanged_by_updates() -> None:
    store: dict[bytes, bytes] = {}
    one, two = (b"\x01" * 32).hex(), (b"\x02" * 32).hex()
    first = trie.update(None, [(one, b"a")], store.__getitem__)
    first_root = trie.commit(first, store)
    second = trie.update(first, [(one, None), (two, b"b")], store.__getitem__)
    assert trie.commit(second, store) != first_root
    assert trie.commit(first, {}) == first_root
    assert trie.get_value(first, one, store.__getitem__) == b"a"
    assert trie.get_value(second, one, store.__getitem__) is None


def _no_node(node_hash: bytes) -> bytes:
    raise MissingNode(node_hash.hex())


def test_a_missing_node_is_reported() -> None:
    with pytest.raises(MissingNode):
        trie.root_node(keccak256(b"nothing"), _no_node)
    assert trie.root_node(BLANK_ROOT, _no_node) is None


def _fixture_cases() -> list[tuple[str, str, Any]]:
    return [
        (path.name, name, case)
        for path in sorted(TRIE_TESTS.glob("*.json"))
        for name, case in json.loads(path.read_text()).items()
    ]


@pytest.mark.parametrize(
    ("file", "name", "case"), _fixture_cases(), ids=[f"{f}:{n}" for f, n, _ in _fixture_cases()]
)
def test_trie_fixtures(file: str, name: str, case: dict[str, Any]) -> None:
    """TrieTests: the root after each listed change, applied in order (null deletes);
    the secure variants hash the keys first."""
    pairs = case["in"].items() if isinstance(case["in"], dict) else case["in"]
    secure = "secure" in file
    root: Child = None
    for key_text, value_text in pairs:
        key = _fixture_bytes(key_text)
        if secure:
            key = keccak256(key)
        root = trie.update(root, [(key.hex(), _fixture_bytes(value_text) or None)], {}.__getitem__)
    assert "0x" + trie.commit(root, {}).hex() == case["root"]
