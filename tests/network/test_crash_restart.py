"""Validators of a real 4-process devnet killed with SIGKILL and restarted: one down, the
chain goes on; two down, it stops; both back, it resumes and they catch up, without any
validator ever signing two conflicting votes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import PROPOSE_TIMEOUT, Devnet

ALL = (0, 1, 2, 3)
RESUME_WITHIN = 20.0  # seconds from restarting the two validators to the next block


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

    restarted = time.monotonic()
    devnet.start(2, 3)
    devnet.wait_for_height(
        survivors, waiting, timeout=RESUME_WITHIN - (time.monotonic() - restarted)
    )
    devnet.wait_for_height(ALL, waiting + 2, timeout=30)
    devnet.assert_same_chain(ALL, 1, min(devnet.heights(ALL)))

    for i in ALL:
        log = devnet.log(i)
        assert "evidence of double signing" not in log, f"node{i} saw a double vote"
        assert "consensus halted" not in log, f"node{i} halted"
