"""Voting power thresholds and the weighted round-robin proposer schedule."""

from __future__ import annotations

from collections import Counter
from functools import reduce
from math import gcd

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.genesis import Validator


def address(i: int) -> bytes:
    return bytes([i]) * 20


def vset(*powers: int) -> ValidatorSet:
    return ValidatorSet(Validator(address(i + 1), p) for i, p in enumerate(powers))


def test_thresholds_are_on_power_not_head_count() -> None:
    validators = vset(10, 20, 30, 41)  # total 101
    assert validators.total_power == 101
    assert not validators.is_quorum(67)  # 201 > 202 fails: exactly 2/3 rounded down
    assert validators.is_quorum(68)
    assert not validators.is_one_third(33)
    assert validators.is_one_third(34)
    # The single 41-power validator is more than a third on its own, not a quorum.
    assert validators.is_one_third(validators.power_of(address(4)))
    assert not validators.is_quorum(41 + 20)
    assert validators.is_quorum(41 + 30)


def test_four_equal_validators_need_three() -> None:
    validators = vset(1, 1, 1, 1)
    assert [validators.is_quorum(k) for k in range(5)] == [False, False, False, True, True]
    assert [validators.is_one_third(k) for k in range(5)] == [False, False, True, True, True]


def test_membership_and_power() -> None:
    validators = vset(3, 4)
    assert address(1) in validators and address(9) not in validators
    assert validators.power_of(address(2)) == 4
    assert validators.power_of(address(9)) == 0
    assert [v.address for v in validators] == [address(1), address(2)]


@pytest.mark.parametrize(
    "validators",
    [[], [Validator(address(1), 1), Validator(address(1), 2)], [Validator(address(1), 0)]],
)
def test_bad_sets_are_refused(validators: list[Validator]) -> None:
    with pytest.raises(ValueError):
        ValidatorSet(validators)


def test_too_fine_grained_powers_are_refused() -> None:
    with pytest.raises(ValueError, match="coarser"):
        vset(1, 2**17)


def test_equal_power_goes_round_robin_by_address() -> None:
    validators = ValidatorSet(Validator(address(i), 5) for i in (3, 1, 2))
    picks = [validators.proposer(1, r) for r in range(6)]
    assert picks == [address(1), address(2), address(3)] * 2


def test_rounds_and_heights_advance_the_same_schedule() -> None:
    validators = vset(1, 2, 3)
    for height in range(1, 8):
        for round in range(1, 5):
            assert validators.proposer(height, round) == validators.proposer(height + 1, round - 1)


def test_weighted_schedule_is_smooth() -> None:
    # Weights 5, 1, 1: the heavy validator never proposes more than twice in a row.
    validators = vset(5, 1, 1)
    picks = [validators.proposer(1, r) for r in range(7)]
    assert picks == [address(1), address(1), address(2), address(1), address(3), address(1),
                     address(1)]  # fmt: skip


@given(st.lists(st.integers(1, 30), min_size=1, max_size=10))
def test_each_proposes_in_proportion_to_power(powers: list[int]) -> None:
    validators = vset(*powers)
    cycle = sum(powers) // reduce(gcd, powers)
    counts = Counter(validators.proposer(1, r) for r in range(cycle))
    for i, power in enumerate(powers):
        assert counts[address(i + 1)] * sum(powers) == power * cycle
