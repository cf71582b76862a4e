"""What a peer can make the machine keep: forged block bodies are refused before they
are stored, and votes and proposals for far rounds fit a window of two rounds per signer."""

from __future__ import annotations

import pytest

from peerchain.core.consensus.events import ProposalReceived, Started, VoteReceived
from peerchain.core.consensus.machine import ConsensusMachine, Step
from peerchain.core.consensus.messages import (
    BlockValue,
    InvalidMessage,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from peerchain.core.consensus.votes import MAX_AHEAD_ROUNDS
from peerchain.core.crypto import keccak256

from .test_consensus_machine import (
    CHAIN,
    KEYS,
    PREVOTE,
    VALIDATORS,
    block,
    feed,
    make,
    others,
    proposer_key,
    sent,
    vote,
)


def hashed_body(value: BlockValue) -> None:
    """The simplest binding of bytes to a hash: the hash is keccak of the bytes."""
    if keccak256(value.data) != value.hash:
        raise InvalidMessage("block bytes do not hash to the block hash")


def test_a_forged_body_relayed_first_does_not_shadow_the_real_one() -> None:
    real = block("real")
    forged = BlockValue(real.hash, b"forged body for the real hash")
    key = proposer_key(1, 0)
    honest = sign_proposal(key, CHAIN, 1, 0, -1, real)
    relayed = sign_proposal(key, CHAIN, 1, 0, -1, forged)  # same signature, new body
    assert relayed.signature == honest.signature
    machine = make(others(1, 0)[0], check_value=hashed_body)
    feed(machine, Started())
    with pytest.raises(InvalidMessage, match="do not hash"):
        machine.handle(ProposalReceived(relayed), 0.0)
    assert machine.proposal(1, 0) is None  # nothing stored, counted or validated
    out = feed(machine, ProposalReceived(honest))
    assert machine.proposal(1, 0) == honest
    (prevote,) = [m for m in sent(out) if getattr(m, "kind", None) is PREVOTE]
    assert prevote.block_hash == real.hash  # not a nil prevote


def test_without_the_binding_the_first_body_wins_and_the_validator_prevotes_nil() -> None:
    """The attack the binding stops (negative control of the test above)."""
    real = block("real")
    forged = BlockValue(real.hash, b"bad: forged body for the real hash")
    key = proposer_key(1, 0)
    machine = make(others(1, 0)[0])
    out = feed(
        machine,
        Started(),
        ProposalReceived(sign_proposal(key, CHAIN, 1, 0, -1, forged)),
        ProposalReceived(sign_proposal(key, CHAIN, 1, 0, -1, real)),
    )
    (prevote,) = [m for m in sent(out) if getattr(m, "kind", None) is PREVOTE]
    assert prevote.block_hash is None


def _kept_votes(machine: ConsensusMachine, signer: bytes, rounds: range) -> list[int]:
    return [
        r
        for r in rounds
        for kind in VoteKind
        if any(v.validator == signer for v in machine.votes(1, r, kind))
    ]


def test_a_signer_voting_in_a_thousand_future_rounds_occupies_two() -> None:
    machine = make(others(1, 0)[0])
    byzantine = others(1, 0)[1]
    signer = next(a for a, k in KEYS.items() if k == byzantine)
    for r in range(2, 1000):
        machine.handle(VoteReceived(sign_vote(byzantine, CHAIN, PREVOTE, 1, r, None)), 0.0)
    kept = _kept_votes(machine, signer, range(0, 1001))
    assert len(kept) == MAX_AHEAD_ROUNDS
    assert kept == [998, 999]  # it moved on: the window follows its latest rounds


def test_the_window_follows_honest_validators_ahead_so_the_round_skip_still_happens() -> None:
    machine = make(others(1, 0)[0])
    feed(machine, Started())
    ahead = others(1, 0)[1:]  # two of four: more than 1/3 of the power
    for r in range(5, 60):  # they went through many rounds while we were cut off
        for key in ahead:
            machine.handle(VoteReceived(sign_vote(key, CHAIN, PREVOTE, 1, r, None)), 0.0)
    assert machine.round == 59  # joined their round, not stuck behind the window
    assert machine.step is Step.PROPOSE or machine.step is Step.PREVOTE


def test_proposals_for_far_rounds_leave_with_their_signer_s_window() -> None:
    machine = make(others(1, 0)[0])
    bodies = []
    for r in range(2, 200):
        key = proposer_key(1, r)
        value = block(f"far {r}")
        machine.handle(ProposalReceived(sign_proposal(key, CHAIN, 1, r, -1, value)), 0.0)
        bodies.append(value)
    kept = [r for r in range(2, 200) if machine.proposal(1, r) is not None]
    signers = {VALIDATORS.proposer(1, r) for r in range(2, 200)}
    assert len(kept) <= MAX_AHEAD_ROUNDS * len(signers)
    assert max(kept) == 199
    assert machine._proposals.awaiting <= len(kept)  # no body of a forgotten round is held


def test_votes_of_a_forgotten_round_are_not_counted() -> None:
    machine = make(others(1, 0)[0])
    key = others(1, 0)[1]
    machine.handle(vote(key, PREVOTE, 1, 10, None), 0.0)
    machine.handle(vote(key, PREVOTE, 1, 11, None), 0.0)
    machine.handle(vote(key, PREVOTE, 1, 12, None), 0.0)
    assert machine.votes(1, 10, PREVOTE) == ()
    assert len(machine.votes(1, 12, PREVOTE)) == 1
    machine.handle(vote(key, PREVOTE, 1, 3, None), 0.0)  # older than what it holds ahead
    assert machine.votes(1, 3, PREVOTE) == ()
