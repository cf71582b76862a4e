"""The example dApps on a 4-validator devnet of real processes (chain time is wall time)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.network.harness import Devnet, wait_until

from . import scenarios

pytestmark = pytest.mark.slow
VALIDATORS = (0, 1, 2, 3)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[scenarios.Chain]:
    net = Devnet.create(tmp_path_factory.mktemp("dapps-devnet"), len(VALIDATORS))
    try:
        net.start(*VALIDATORS)
        net.wait_for_height(VALIDATORS, 2, timeout=60)
        net.wait_for_heavy_queries([1])  # the scenarios deploy and call through node 1
        w3 = net.web3(1)

        def advance(seconds: int) -> None:
            target = int(w3.eth.get_block("latest")["timestamp"]) + seconds
            wait_until(
                lambda: int(w3.eth.get_block("latest")["timestamp"]) >= target,
                timeout=seconds + 60,
                what=f"a block {seconds} s later",
            )

        yield scenarios.Chain.of(w3, advance)
    finally:
        net.close()


def test_token(chain: scenarios.Chain) -> None:
    scenarios.token(chain)


def test_dao_vote(chain: scenarios.Chain) -> None:
    scenarios.dao(chain, voting_period=20)


def test_escrow(chain: scenarios.Chain) -> None:
    scenarios.escrow(chain, wait=20)


def test_content_registry(chain: scenarios.Chain) -> None:
    scenarios.content_registry(chain)
