"""Vote tallies with unequal voting power, equivocation and round participation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from peerchain.core.consensus.messages import Vote, VoteKind
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.consensus.votes import Added, HeightVotes, VoteSet
from peerchain.core.genesis import Validator

A, B = b"\xaa" * 32, b"\xbb" * 32
POWERS = {bytes([i]) * 20: p for i, p in enumerate((10, 20, 30, 41), start=1)}
VALIDATORS = ValidatorSet(Validator(a, p) for a, p in POWERS.items())
V1, V2, V3, V4 = POWERS


def vote(validator: bytes, block: bytes | None, round: int = 0, kind: VoteKind = VoteKind.PREVOTE,
         sig: bytes = b"\x01" * 65) -> Vote:  # fmt: skip
    return Vote(kind, 1, round, block, validator, sig)


def test_quorum_needs_more_than_two_thirds_of_the_power() -> None:
    votes = VoteSet(VALIDATORS)
    assert votes.add(vote(V4, A)) is Added.NEW  # 41
    assert votes.add(vote(V3, A)) is Added.NEW  # 71 > 67.3
    assert votes.has_quorum_for(A) and votes.quorums == (A,)
    other = VoteSet(VALIDATORS)
    for v in (V1, V2, V3):  # 60: three of four validators, not enough power
        other.add(vote(v, A))
    assert not other.has_quorum_for(A) and not other.has_quorum_any()
    other.add(vote(V4, None))
    assert other.has_quorum_any() and not other.has_quorum_for(None)
    assert other.power_for(A) == 60 and other.power_for(None) == 41


def test_duplicates_are_ignored_and_equivocation_counts_for_both() -> None:
    votes = VoteSet(VALIDATORS)
    first = vote(V4, A)
    assert votes.add(first) is Added.NEW
    assert first in votes
    assert votes.add(vote(V4, A)) is Added.DUPLICATE
    assert votes.add(vote(V4, B)) is Added.CONFLICT
    assert votes.add(vote(V4, None)) is Added.DROPPED
    assert votes.first_vote(V4) == first
    assert votes.power_for(A) == votes.power_for(B) == 41
    assert not votes.has_quorum_any()  # "any" counts each validator once
    assert votes.votes_for(B) == (vote(V4, B),)
    assert len(votes.votes()) == 2


def test_round_skip_needs_more_than_a_third_of_the_power() -> None:
    height = HeightVotes(VALIDATORS)
    height.add(vote(V1, A, round=3))
    height.add(vote(V2, A, round=3, kind=VoteKind.PRECOMMIT))  # 30 of 101
    assert height.skip_target(0) is None
    height.note_participant(3, V2)  # the same validator again changes nothing
    assert height.skip_target(0) is None
    height.add(vote(V1, None, round=5))
    height.note_participant(5, V4)  # 51
    assert height.skip_target(0) == 5
    assert height.skip_target(5) is None


@given(st.lists(st.tuples(st.sampled_from(list(POWERS)), st.sampled_from([A, B, None])),
                max_size=20))  # fmt: skip
def test_tallies_match_a_reference_count(votes: list[tuple[bytes, bytes | None]]) -> None:
    tally = VoteSet(VALIDATORS)
    kept: dict[bytes, list[bytes | None]] = {}
    for validator, block in votes:
        tally.add(vote(validator, block))
        values = kept.setdefault(validator, [])
        if block not in values and len(values) < 2:
            values.append(block)
    for block in (A, B, None):
        power = sum(POWERS[v] for v, values in kept.items() if block in values)
        assert tally.power_for(block) == power
        assert tally.has_quorum_for(block) == (3 * power > 2 * 101)
    assert tally.has_quorum_any() == (3 * sum(POWERS[v] for v in kept) > 202)
