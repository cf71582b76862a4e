"""The chain store's in-memory twin (`peerchain.testing.memstore`) keeps the promises of
the `ChainStore` port as the LMDB store does: the same checks run on both, and a dev node
mines the same chain on either."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account

from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import dev_genesis
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.storage import LmdbStore
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger
from peerchain.node.ports import ChainStore, StorageError
from peerchain.testing.memstore import MemoryChainStore

Opener = Callable[[], ChainStore]
KEYS = dev_private_keys(2)


@pytest.fixture(params=["lmdb", "memory"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    opened: list[ChainStore] = []

    def opener() -> ChainStore:
        store: ChainStore
        if request.param == "lmdb":
            store = LmdbStore(tmp_path / f"chain{len(opened)}")
        else:
            store = MemoryChainStore()
        opened.append(store)
        return store

    yield opener
    for store in opened:
        with contextlib.suppress(StorageError):
            store.close()


def test_batches_apply_to_two_key_spaces(open_store: Opener) -> None:
    store = open_store()
    store.write({b"k1": b"v1", b"k2": b"v2"}, {b"meta": b"m"})
    store.write({b"k1": None})
    assert store.get(b"k1") is None
    assert store.get(b"k2") == b"v2"
    assert store.get_meta(b"meta") == b"m"
    assert store.get(b"meta") is None and store.get_meta(b"k2") is None


@pytest.mark.parametrize("bad_key", [b"", b"x" * 512])
def test_a_batch_with_a_bad_key_writes_nothing(open_store: Opener, bad_key: bytes) -> None:
    store = open_store()
    with pytest.raises(StorageError):
        store.write({b"good": b"1"}, {bad_key: b"refused"})
    assert store.get(b"good") is None
    store.write({b"x" * 511: b"the longest key"})
    assert store.get(b"x" * 511) == b"the longest key"


def test_a_closed_store_refuses_reads_and_writes() -> None:
    store = MemoryChainStore()
    store.write({b"k": b"v"})
    store.close()
    with pytest.raises(StorageError):
        store.get(b"k")
    with pytest.raises(StorageError):
        store.write({b"k": b"w"})


def test_a_dev_node_mines_the_same_chain_on_either_store(tmp_path: Path) -> None:
    lmdb = LmdbStore(tmp_path / "chain")
    try:
        on_disk, in_memory = mine_transfers(lmdb), mine_transfers(MemoryChainStore())
    finally:
        lmdb.close()
    assert on_disk == in_memory
    assert [number for number, *_ in on_disk] == [1, 2, 3]  # automine: a block per transfer


def mine_transfers(store: ChainStore) -> list[tuple[int, str, str, int]]:
    """Three automined transfers: each block's number, hash, state root and the
    receiver's balance after it."""
    genesis = dev_genesis(1337, [private_key_to_address(k) for k in KEYS], 10**24)
    node = DevNode(Ledger(store, genesis, dev=True), FixedClock(), KEYS)
    sender, receiver = Account.from_key(KEYS[0]), private_key_to_address(KEYS[1])
    blocks = []
    for nonce in range(3):
        signed = sender.sign_transaction(
            {
                "to": receiver,
                "value": 10**18 + nonce,
                "gas": 21000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 1,
                "nonce": nonce,
                "chainId": 1337,
            }
        )
        node.send_raw_transaction(bytes(signed.raw_transaction))
        head = node.ledger.head
        balance = node.ledger.account_state(receiver).balance
        blocks.append((head.number, head.hash.hex(), head.state_root.hex(), balance))
    return blocks


class FixedClock:
    def now(self) -> float:
        return 1_700_000_000.0
