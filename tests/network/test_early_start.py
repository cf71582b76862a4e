"""A devnet whose pause after a commit (`commit_ms`) is two minutes still commits a
transaction at once: once every validator signed the last block, transactions in the
mempool start the next height (the consensus machine's early start, told by the nodes)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hexbytes import HexBytes
from web3 import Web3

from .harness import Devnet, send_transfer, wait_until

VALIDATORS = (0, 1)
PAUSE_MS = 120_000
RECIPIENT = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    net = Devnet.create(tmp_path_factory.mktemp("early"), len(VALIDATORS))
    genesis_path = Path(net.directory) / "genesis.json"
    genesis = json.loads(genesis_path.read_text())
    genesis["peerchain"]["timeouts"]["commit_ms"] = PAUSE_MS
    genesis_path.write_text(json.dumps(genesis))
    try:
        net.start(*VALIDATORS)
        net.wait_for_height(VALIDATORS, 1, timeout=60)  # the first height needs no pause
        yield net
    finally:
        net.close()


def block_of(devnet: Devnet, tx_hash: HexBytes) -> int:
    """The block holding `tx_hash` on every validator (waited for, well within the pause)."""

    def everywhere() -> set[int] | None:
        found = [
            devnet.rpc(i, "eth_getTransactionReceipt", tx_hash.to_0x_hex()) for i in VALIDATORS
        ]
        return {int(r["blockNumber"], 16) for r in found} if None not in found else None

    numbers = wait_until(everywhere, PAUSE_MS / 1000 / 3, "the receipt on every validator")
    assert len(numbers) == 1
    return numbers.pop()


def test_transactions_start_the_next_height_without_waiting_for_the_pause(
    devnet: Devnet,
) -> None:
    for via in VALIDATORS:  # each node told by its client, the other by gossip
        head = devnet.rpc(via, "eth_getBlockByNumber", "latest", False)
        # a block starts early only if it would be dated at most a second ahead
        dated = int(head["timestamp"], 16)
        wait_until(lambda dated=dated: dated <= time.time(), 10, "the clock")
        number = block_of(devnet, send_transfer(devnet, via, to=RECIPIENT, value=1))
        assert number == int(head["number"], 16) + 1  # the very next block
