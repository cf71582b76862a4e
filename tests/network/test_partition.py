"""A devnet with each validator in its own network namespace and address: a 2|2 partition
stops the chain on both sides, healing it lets blocks resume, and no node ever commits a
block another node does not have at the same height."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from peerchain.testing.netns import NetnsLab

from .harness import PROPOSE_TIMEOUT, Devnet

ALL = (0, 1, 2, 3)

pytestmark = pytest.mark.netns


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Devnet, NetnsLab]]:
    with NetnsLab(len(ALL), host_link=True) as lab:
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
                devnet.wait_for_peer_count(i, len(side) - 1, timeout=60)
    minorities = [i for side in groups if len(side) * 3 <= 2 * len(ALL) for i in side]
    for side in groups:
        if any(i in minorities for i in side):
            devnet.wait_until_waiting(side, timeout=30)
        else:
            devnet.wait_for_height(side, max(devnet.heights(side)) + 2, timeout=30)
    devnet.assert_no_block_for(minorities, seconds=5 * PROPOSE_TIMEOUT)

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
