"""Validators of a real 4-process devnet killed with SIGKILL and restarted: one down, the
chain goes on; two down, it stops; both back, it resumes and they catch up, without any
validator ever signing two conflicting votes."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from hexbytes import HexBytes

from .harness import DEV_KEY_0, PROPOSE_TIMEOUT, Devnet

ALL = (0, 1, 2, 3)


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[Devnet]:
    net = Devnet.create(tmp_path / "devnet", len(ALL))
    try:
        net.start()
        net.wait_for_height(ALL, 2, timeout=60)
        yield net
    finally:
        net.close()


def test_killed_validators_stop_the_chain_only_without_quorum_and_catch_up(
    devnet: Devnet,
) -> None:
    devnet.kill(3)
    start = max(devnet.heights((0, 1, 2)))
    devnet.wait_for_height((0, 1, 2), start + 3, timeout=30)  # 3 of 4 still decide

    devnet.kill(2)
    survivors = (0, 1)
    waiting = devnet.wait_until_waiting(survivors, timeout=30)
    devnet.assert_no_block_for(survivors, seconds=5 * PROPOSE_TIMEOUT)
    assert devnet.heights(survivors) == [waiting - 1] * 2

    devnet.start(2, 3)
    devnet.wait_for_height(survivors, waiting, timeout=60)
    devnet.wait_for_height(ALL, waiting + 2, timeout=60)
    devnet.assert_same_chain(ALL, 1, min(devnet.heights(ALL)))

    for i in ALL:
        log = devnet.log(i)
        assert "evidence of double signing" not in log, f"node{i} saw a double vote"
        assert "consensus halted" not in log, f"node{i} halted"


@pytest.mark.slow
def test_one_validator_at_a_time_crashes_at_random_moments_under_load(devnet: Devnet) -> None:
    rng = random.Random(4)  # which validator, and how long to wait before and after a kill
    sender = Account.from_key(DEV_KEY_0)
    sent: list[HexBytes] = []
    for cycle in range(8):
        victim = rng.randrange(len(ALL))
        alive = tuple(i for i in ALL if i != victim)
        via = alive[cycle % len(alive)]
        w3 = devnet.web3(via)
        signed = sender.sign_transaction(
            {
                "to": "0x000000000000000000000000000000000000dEaD",
                "value": cycle + 1,
                "gas": 21000,
                "maxFeePerGas": 2 * w3.eth.gas_price,
                "maxPriorityFeePerGas": 1,
                "nonce": len(sent),
                "chainId": 1337,
            }
        )
        sent.append(w3.eth.send_raw_transaction(signed.raw_transaction))
        time.sleep(rng.uniform(0, 2 * PROPOSE_TIMEOUT))  # a random moment in a round
        devnet.kill(victim)
        devnet.wait_for_height(alive, max(devnet.heights(alive)) + 2, timeout=30)
        time.sleep(rng.uniform(0, 3 * PROPOSE_TIMEOUT))  # down for a random while
        devnet.start(victim)
        devnet.wait_for_height(ALL, max(devnet.heights(alive)) + 1, timeout=30)

    tip = min(devnet.heights(ALL))
    devnet.assert_same_chain(ALL, 1, tip)
    for tx_hash in sent:  # every transfer landed once, in the same block everywhere
        blocks = {devnet.web3(i).eth.get_transaction_receipt(tx_hash)["blockHash"] for i in ALL}
        assert len(blocks) == 1
    for i in ALL:
        log = devnet.log(i)
        assert "evidence of double signing" not in log, f"node{i} saw a double vote"
        assert "consensus halted" not in log, f"node{i} halted"
