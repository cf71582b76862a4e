"""Dev node block production: interval mining switched on and off at run time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import dev_genesis
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.storage import LmdbStore
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger
from peerchain.node.view import CallRequest
from peerchain.testing.eventloop import run_virtual


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
    """On virtual time: blocks every 10 ms, then none for a minute once switched off, then
    blocks again once switched back on."""
    node = make_node(tmp_path)

    async def scenario() -> list[tuple[int, float]]:
        loop = asyncio.get_running_loop()
        heads: list[tuple[int, float]] = []
        three, four = asyncio.Event(), asyncio.Event()

        def on_head(header: object) -> None:
            heads.append((header.number, loop.time()))  # type: ignore[attr-defined]
            if len(heads) == 3:
                node.set_interval_mining(0)
                three.set()
            if len(heads) == 4:
                four.set()

        node.subscribe("newHeads", on_head)
        miner = asyncio.create_task(node.run())
        node.set_interval_mining(10)
        await asyncio.wait_for(three.wait(), 30)
        # A virtual minute with mining off: 6000 blocks if it were still on.
        await asyncio.sleep(60)
        assert len(heads) == 3 and not miner.done()
        node.set_interval_mining(10)
        await asyncio.wait_for(four.wait(), 30)
        miner.cancel()
        return heads

    heads = run_virtual(scenario())
    assert [number for number, _ in heads] == [1, 2, 3, 4]
    times = [t for _, t in heads]
    assert times[:3] == pytest.approx([0.01, 0.02, 0.03])
    assert times[3] == pytest.approx(times[2] + 60 + 0.01)
    assert node.block_number() == 4
    # Timestamps strictly increase even with a clock that stands still.
    stamps = [node.get_block_by_number(n).header.timestamp for n in range(5)]  # type: ignore[union-attr]
    assert stamps == sorted(set(stamps))


def test_automine_off_keeps_transactions_pending_until_mined(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    sender, receiver = node.accounts()
    request = CallRequest(sender=sender, to=receiver, value=5)
    tx_hash = asyncio.run(node.send_transaction(request))
    assert node.get_receipt(tx_hash) is None
    assert node.get_pending_nonce(sender) == 1
    node.set_automine(True)  # switching automine on mines what is waiting
    receipt = node.get_receipt(tx_hash)
    assert receipt is not None and receipt.status == 1
    assert node.get_balance(receiver, node.resolve_block("latest")) == 10**21 + 5
