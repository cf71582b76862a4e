"""A devnet with each validator in its own network namespace and address: a 2|2 partition
stops the chain on both sides, healing it lets blocks resume, and no node ever commits a
block another node does not have at the same height."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from peerchain.testing.netns import NetnsLab, netns_available

from .harness import PROPOSE_TIMEOUT, Devnet, wait_until

ALL = (0, 1, 2, 3)

pytestmark = pytest.mark.skipif(not netns_available(), reason="needs root and iproute2")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Devnet, NetnsLab]]:
    with NetnsLab(len(ALL), subnet=42, host_link=True) as lab:
        net = Devnet.create(
            tmp_path / "devnet",
            len(ALL),
            hosts=[node.address for node in lab.nodes],
            prefixes=[node.command([]) for node in lab.nodes],
        )
        try:
            net.start()
            net.wait_for_height(ALL, 2, timeout=60)
            yield net, lab
        finally:
            net.close()


def waiting_height(devnet: Devnet, side: Sequence[int]) -> int | None:
    """The height every node of `side` is trying to decide, once all are past proposing
    in it (no quorum: they wait for votes that cannot come)."""
    states = [devnet.rpc(i, "peerchain_consensusState") for i in side]
    heights = {int(s["height"], 16) for s in states}
    if len(heights) == 1 and all(s["step"] in ("prevote", "precommit") for s in states):
        return heights.pop()
    return None


def peer_count(devnet: Devnet, index: int) -> int:
    return int(devnet.rpc(index, "net_peerCount"), 16)


def partition_and_heal(
    devnet: Devnet,
    lab: NetnsLab,
    groups: Sequence[Sequence[int]],
    *,
    until_links_drop: bool = False,
) -> None:
    """Cut the network into `groups`; a group without more than 2/3 of the power must not
    commit, one with it must keep committing; after healing, all nodes commit again.
    With `until_links_drop` the cut lasts until every node has dropped its links across it
    (dead-peer detection), so healing needs new connections."""
    lab.partition(groups)
    if until_links_drop:
        for side in groups:
            for i in side:
                wait_until(
                    lambda i=i, side=side: peer_count(devnet, i) == len(side) - 1,
                    60,
                    f"node{i} to drop its links across the partition",
                    state=lambda i=i: peer_count(devnet, i),
                )
    for side in groups:
        if len(side) * 3 > 2 * len(ALL):
            start = max(devnet.heights(side))
            devnet.wait_for_height(side, start + 2, timeout=30)
            continue
        wait_until(
            lambda side=side: waiting_height(devnet, side),
            30,
            f"nodes {list(side)} to wait without a quorum",
            state=lambda side=side: [devnet.rpc(i, "peerchain_consensusState") for i in side],
        )
    minorities = [i for side in groups if len(side) * 3 <= 2 * len(ALL) for i in side]
    before = devnet.heights(minorities)
    deadline = time.monotonic() + 5 * PROPOSE_TIMEOUT
    while time.monotonic() < deadline:  # several propose timeouts without a block
        assert devnet.heights(minorities) == before, f"committed without a quorum: {groups}"
        time.sleep(0.2)

    lab.heal()
    top = max(devnet.heights(ALL))
    devnet.wait_for_height(ALL, top + 2, timeout=40)
    devnet.assert_same_chain(ALL, 1, min(devnet.heights(ALL)))


def test_two_two_partition_stops_the_chain_and_healing_resumes_it(
    cluster: tuple[Devnet, NetnsLab],
) -> None:
    partition_and_heal(*cluster, [[0, 1], [2, 3]])


@pytest.mark.slow
def test_repeated_partitions_of_every_shape(cluster: tuple[Devnet, NetnsLab]) -> None:
    devnet, lab = cluster
    for groups in ([[0], [1, 2, 3]], [[0, 2], [1, 3]], [[3], [0, 1, 2]]):
        partition_and_heal(devnet, lab, groups)
    partition_and_heal(devnet, lab, [[0, 1], [2, 3]], until_links_drop=True)
    partition_and_heal(devnet, lab, [[1], [0, 2, 3]], until_links_drop=True)
    for i in ALL:
        assert "consensus halted" not in devnet.log(i)
