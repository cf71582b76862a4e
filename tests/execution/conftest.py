"""A dict-backed chain for execution tests: genesis, signed transactions, a contract."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import vyper

from peerchain.core.blocks import Header
from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import Genesis, dev_genesis
from peerchain.core.kv import apply_changes
from peerchain.core.transactions import Transaction
from peerchain.execution.engine import ExecutedBlock, ExecutionEngine
from peerchain.testing.transactions import signed_transaction

CHAIN_ID = 1337
ETHER = 10**18
GWEI = 10**9
KEYS = [bytes([i + 1]) * 32 for i in range(4)]
ADDRS = [private_key_to_address(k) for k in KEYS]
COINBASE = b"\xc0" * 20

STORE_SOURCE = (Path(__file__).resolve().parents[1] / "contracts" / "Store.vy").read_text()


@cache
def store_contract() -> tuple[bytes, dict[str, bytes]]:
    """Init code (without constructor arguments) and selectors of the test contract."""
    out = vyper.compile_code(STORE_SOURCE, output_formats=["bytecode", "method_identifiers"])
    selectors = {name: bytes.fromhex(sel[2:]) for name, sel in out["method_identifiers"].items()}
    return bytes.fromhex(out["bytecode"][2:]), selectors


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def sign(
    key: int, nonce: int, *, to: bytes | None, chain_id: int = CHAIN_ID, **fields: Any
) -> Transaction:
    """A transaction from KEYS[key]; `fields` as `signed_transaction` takes them."""
    return signed_transaction(KEYS[key], nonce, to=to, chain_id=chain_id, **fields)


@dataclass
class DictChain:
    """An engine over a dict store, persisting each built block like the node does."""

    genesis: Genesis
    store: dict[bytes, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.engine = ExecutionEngine(self.store, self.genesis)
        _, changes = self.engine.genesis_changes()
        apply_changes(self.store, changes)

    @property
    def head(self) -> Header:
        return self.engine.head()

    def build(self, txs: Sequence[Transaction], **kwargs: Any) -> ExecutedBlock:
        head = self.head
        kwargs.setdefault("timestamp", head.timestamp + 12)
        kwargs.setdefault("coinbase", COINBASE)
        return self.engine.build_block(head, txs, **kwargs)

    def mine(self, txs: Sequence[Transaction], **kwargs: Any) -> ExecutedBlock:
        executed = self.build(txs, **kwargs)
        apply_changes(self.store, executed.changes)
        return executed


def funded_genesis(**overrides: Any) -> Genesis:
    return replace(dev_genesis(CHAIN_ID, ADDRS, 1000 * ETHER), **overrides)


@pytest.fixture
def chain() -> DictChain:
    return DictChain(funded_genesis())
