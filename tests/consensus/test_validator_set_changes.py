"""Validator set changes in the seeded simulator: a change decided in block H signs from
H+2 on, every node holds the same set at every height, and crashes around the
activation height change nothing of that."""

from __future__ import annotations

import random

import pytest

from peerchain.core.consensus.validators import (
    SetHistory,
    ValidatorSet,
    apply_changes,
    decode_validator_set,
    encode_validator_set,
    validator_set_hash,
)
from peerchain.core.genesis import Validator
from peerchain.testing.cluster import ClusterResult, run_cluster, validator_key
from peerchain.testing.faults import Behaviour, Faults, HeightCrash
from peerchain.testing.network import NetworkConfig

REMOVE_AT = 3  # block 3 removes nodes 2 and 3: the set of height 5 on is {0, 1}
READD_AT = 12  # block 12 adds node 2 back: the set of height 14 on is {0, 1, 2}
DOWN_AT = 6  # nodes 2 and 3 crash once they committed this height
DOWNTIME = 30.0


def _address(index: int) -> bytes:
    return validator_key(index)[1]


def _signers(result: ClusterResult, node: int, height: int) -> set[bytes]:
    _, certificate = result.nodes[node].disk.chain[height - 1]
    return {validator for validator, _ in certificate.signatures}


def _run(seed: int, extra: tuple[HeightCrash, ...] = ()) -> ClusterResult:
    faults = Faults(
        height_crashes=(
            HeightCrash(2, DOWN_AT, DOWNTIME),
            HeightCrash(3, DOWN_AT, DOWNTIME),
            *extra,
        )
    )
    return run_cluster(
        4,
        seed,
        faults,
        heights=6,
        set_changes={REMOVE_AT: [(2, 0), (3, 0)], READD_AT: [(2, 1)]},
    )


def _check_the_story(result: ClusterResult) -> None:
    assert result.ok, result.describe()
    node = result.nodes[0]
    assert node.height >= READD_AT + 4, result.describe()
    history = node.disk.sets
    four = {_address(i) for i in range(4)}
    two = {_address(0), _address(1)}
    three = two | {_address(2)}
    assert {v.address for v in history.at(REMOVE_AT + 1) or ()} == four
    assert {v.address for v in history.at(REMOVE_AT + 2) or ()} == two
    assert {v.address for v in history.at(READD_AT + 1) or ()} == two
    assert {v.address for v in history.at(READD_AT + 2) or ()} == three
    # Certificates are signed by the set of their height only.
    for height in range(REMOVE_AT + 2, READD_AT + 2):
        assert _signers(result, 0, height) <= two, height
    # The chain went on with two validators while the removed ones were down: with the
    # old set of four, two can never make a quorum.
    down_from = max(result.notes["crashed_at"][(n, DOWN_AT)] for n in (2, 3))  # type: ignore[index]
    while_down = [t for t in node.commit_times if down_from < t < down_from + DOWNTIME]
    assert len(while_down) >= 3, result.describe()
    # Node 2 is back in the set and its signature is in the certificates (3 of 3 needed).
    last = node.height
    assert _address(2) in _signers(result, 0, READD_AT + 2)
    assert _address(2) in _signers(result, 0, last)
    assert _address(3) not in _signers(result, 0, last)


def test_remove_two_then_add_one_back() -> None:
    _check_the_story(_run(seed=1))


DEFAULT_SEEDS = 40
SLOW_SEEDS = 200


def _crashes_around_the_changes(seed: int) -> tuple[HeightCrash, ...]:
    """For each change, one or two validators of the set crash once they committed the
    block that decides it (H), or H+1, the activation height H+2 or H+3 (a torn WAL, back
    0.5-3 s later). Node 2 is in the set again from READD_AT + 2 on."""
    rng = random.Random(seed)
    crashes = []
    for deciding, candidates in ((REMOVE_AT, (0, 1)), (READD_AT, (0, 1, 2))):
        for node in rng.sample(candidates, rng.choice((1, 2))):
            height = deciding + rng.choice((0, 1, 2, 3))
            crashes.append(HeightCrash(node, height, rng.uniform(0.5, 3.0)))
    return tuple(crashes)


@pytest.mark.parametrize("seed", range(DEFAULT_SEEDS))
def test_crashes_around_the_activation_height(seed: int) -> None:
    crashes = _crashes_around_the_changes(seed)
    result = _run(seed, crashes)
    _check_the_story(result)
    crashed = result.notes["crashed_at"]
    assert all((c.node, c.height) in crashed for c in crashes), (crashes, crashed)  # type: ignore[operator]


def test_the_set_history_applies_changes_two_heights_later() -> None:
    a, b, c = (bytes([i]) * 20 for i in (1, 2, 3))
    history = SetHistory(ValidatorSet([Validator(a, 1), Validator(b, 1)]))
    history.committed(1, [(c, 5)])
    history.committed(2, [])
    history.committed(3, [(a, 0), (b, 0), (c, 0)])  # would leave no power: refused
    assert history.at(3) == ValidatorSet([Validator(a, 1), Validator(b, 1), Validator(c, 5)])
    assert history.at(5) == history.at(3)
    assert history.at(6) is None


def test_a_change_that_leaves_no_power_is_refused_with_its_reason() -> None:
    only = ValidatorSet([Validator(b"\x01" * 20, 3)])
    with pytest.raises(ValueError, match="no voting power"):
        apply_changes(only, [(b"\x01" * 20, 0)])


def test_set_encoding_round_trips_and_its_hash_tells_sets_apart() -> None:
    one = ValidatorSet([Validator(b"\x02" * 20, 7), Validator(b"\x01" * 20, 1)])
    assert decode_validator_set(encode_validator_set(one)) == one
    other = apply_changes(one, [(b"\x01" * 20, 2)])
    assert validator_set_hash(one) != validator_set_hash(other)
    with pytest.raises(ValueError):
        decode_validator_set(b"\x00" * 27)


def test_negative_control_without_the_removal_two_of_four_halt() -> None:
    faults = Faults(
        height_crashes=(HeightCrash(2, DOWN_AT, DOWNTIME), HeightCrash(3, DOWN_AT, DOWNTIME))
    )
    result = run_cluster(4, 1, faults, heights=6)
    down_from = max(result.notes["crashed_at"][(n, DOWN_AT)] for n in (2, 3))  # type: ignore[index]
    node = result.nodes[0]
    assert not [t for t in node.commit_times if down_from < t < down_from + DOWNTIME]


@pytest.mark.parametrize("seed", range(4))
def test_an_equivocating_validator_is_jailed(seed: int) -> None:
    faults = Faults(byzantine={0: Behaviour.EQUIVOCATE}, network=NetworkConfig(delay=0.05))
    result = run_cluster(4, seed, faults, heights=6, jail=True)
    assert result.ok, result.describe()
    culprit = _address(0)
    node = result.nodes[1]
    history = node.disk.sets
    jailed_from = next(
        (h for h in range(1, node.height + 2) if culprit not in (history.at(h) or ())), None
    )
    assert jailed_from is not None, result.describe()
    # Every correct node holds the same sets (the checker), and after the jailing the
    # culprit signs no certificate.
    for height in range(jailed_from, node.height + 1):
        assert culprit not in _signers(result, 1, height)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(DEFAULT_SEEDS, DEFAULT_SEEDS + SLOW_SEEDS))
def test_crashes_around_the_activation_height_many_seeds(seed: int) -> None:
    test_crashes_around_the_activation_height(seed)
