"""Dev node block production: interval mining switched on and off at run time."""

from __future__ import annotations

import asyncio
from pathlib import Path

from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import dev_genesis
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.storage import LmdbStore
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger
from peerchain.node.view import CallRequest


class FixedClock:
    def __init__(self) -> None:
        self.time = 1_700_000_000.0

    def now(self) -> float:
        return self.time


def make_node(tmp_path: Path) -> DevNode:
    keys = dev_private_keys(2)
    genesis = dev_genesis(1337, [private_key_to_address(k) for k in keys], 10**21)
    ledger = Ledger(LmdbStore(tmp_path / "chain"), genesis)
    return DevNode(ledger, FixedClock(), keys, automine=False)


def test_interval_mining_makes_blocks_until_switched_off(tmp_path: Path) -> None:
    node = make_node(tmp_path)

    async def scenario() -> list[int]:
        heads: list[int] = []
        three = asyncio.Event()

        def on_head(header: object) -> None:
            heads.append(header.number)  # type: ignore[attr-defined]
            if len(heads) == 3:
                three.set()
                node.set_interval_mining(0)

        node.subscribe("newHeads", on_head)
        miner = asyncio.create_task(node.run())
        node.set_interval_mining(10)
        await asyncio.wait_for(three.wait(), 30)
        # Switched off: the miner is idle, waiting for the next setting.
        await asyncio.sleep(0)
        assert not miner.done()
        miner.cancel()
        return heads

    heads = asyncio.run(scenario())
    assert heads == [1, 2, 3]
    assert node.block_number() == 3
    # Timestamps strictly increase even with a clock that stands still.
    stamps = [node.get_block_by_number(n).header.timestamp for n in range(4)]  # type: ignore[union-attr]
    assert stamps == sorted(set(stamps))


def test_automine_off_keeps_transactions_pending_until_mined(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    sender, receiver = node.accounts()
    tx_hash = node.send_transaction(CallRequest(sender=sender, to=receiver, value=5))
    assert node.get_receipt(tx_hash) is None
    assert node.get_pending_nonce(sender) == 1
    node.set_automine(True)  # switching automine on mines what is waiting
    receipt = node.get_receipt(tx_hash)
    assert receipt is not None and receipt.status == 1
    assert node.get_balance(receiver, node.resolve_block("latest")) == 10**21 + 5
