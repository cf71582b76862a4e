"""The pause after a commit (timeout_commit) and its early end: the whole validator set's
precommits in and transactions waiting (`TransactionsWaiting`), in the machine, the
reactor and simulated clusters; and the propose timeout of a proposal still being
checked."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from statistics import median

import pytest

from peerchain.core.consensus.events import (
    Broadcast,
    CommitBlock,
    Event,
    Output,
    PrepareBlock,
    ProposalReceived,
    ProposalValidated,
    ScheduleTimeout,
    Started,
    Timeout,
    TimeoutFired,
    TimeoutKind,
    TransactionsWaiting,
    ValidateBlock,
    VoteReceived,
)
from peerchain.core.consensus.machine import ConsensusMachine, Step
from peerchain.core.consensus.messages import InvalidMessage, Proposal, Vote, VoteKind, sign_vote
from peerchain.core.consensus.reactor import Reactor, SendCommit
from peerchain.core.crypto import keccak256
from peerchain.testing.cluster import SIM_TIMEOUTS, run_cluster
from peerchain.testing.faults import FAULT_KINDS, random_faults

from .test_consensus_machine import (
    CHAIN,
    KEYS,
    TIMEOUTS,
    VALIDATORS,
    block,
    feed,
    others,
    propose,
    proposer_key,
    vote,
)

PAUSED = replace(TIMEOUTS, commit_ms=1000)
PRECOMMIT = VoteKind.PRECOMMIT
# Clusters with the devnet's pause, and transactions waiting at most heights.
SIM_PAUSED = replace(SIM_TIMEOUTS, commit_ms=1000)
WAITING = 0.7
CHECK_TIME = 2.5  # longer than the propose timeout of round 0 (1 s) in some checks
SEEDS_PER_KIND = 10  # x 9 kinds (make test-slow: 200 each, n = 4 and 7)


def make(key: bytes) -> ConsensusMachine:
    return ConsensusMachine(
        chain_id=CHAIN, validators=VALIDATORS, timeouts=PAUSED, height=1, private_key=key
    )


def echo(out: list[Output]) -> list[Event]:
    """The machine's own broadcasts, as the node feeds them back."""
    return [
        ProposalReceived(o.message) if isinstance(o.message, Proposal) else VoteReceived(o.message)
        for o in out
        if isinstance(o, Broadcast)
    ]


def decided_with_three(now: float = 0.0) -> tuple[ConsensusMachine, bytes]:
    """A validator of height 1 that decided with its own and two others' precommits;
    returns it and the key of the validator whose precommit it has not seen."""
    me = others(1, 0)[0]
    m = make(me)
    value = block("b1")
    out = feed(m, Started(), propose(1, 0, value), now=now)
    peers = [k for k in KEYS.values() if k != me]
    voters, late = peers[:2], peers[2]
    out = feed(m, *echo(out), *(vote(k, VoteKind.PREVOTE, 1, 0, value) for k in voters), now=now)
    out = feed(m, *echo(out), *(vote(k, PRECOMMIT, 1, 0, value) for k in voters), now=now)
    assert [o.height for o in out if isinstance(o, CommitBlock)] == [1]
    assert (m.height, m.step) == (2, Step.NEW_HEIGHT)
    return m, late


def started_round_zero(out: list[Output]) -> bool:
    return any(
        isinstance(o, PrepareBlock)
        or (isinstance(o, ScheduleTimeout) and o.timeout.kind is TimeoutKind.PROPOSE)
        for o in out
    )


# --- the machine --------------------------------------------------------------------------


def test_the_pause_ends_early_with_every_precommit_and_transactions_waiting() -> None:
    m, late = decided_with_three()
    assert m.awaits_transactions
    pause = m.next_timeout()
    assert pause is not None and (pause.kind, pause.deadline) == (TimeoutKind.COMMIT, 1.0)
    out = feed(m, TransactionsWaiting(2), now=0.1)
    assert (m.step, out) == (Step.NEW_HEIGHT, [])  # a precommit is still missing
    assert not m.awaits_transactions
    value = block("b1")
    out = feed(m, vote(late, PRECOMMIT, 1, 0, value), now=0.2)
    assert started_round_zero(out) and (m.height, m.round, m.step) == (2, 0, Step.PROPOSE)
    timeout = m.next_timeout()
    assert timeout is not None and timeout.kind is not TimeoutKind.COMMIT


def test_order_does_not_matter_nor_the_value_of_the_last_precommit() -> None:
    m, late = decided_with_three()
    assert feed(m, vote(late, PRECOMMIT, 1, 0, None), now=0.1) == []  # a nil precommit
    assert m.step is Step.NEW_HEIGHT
    out = feed(m, TransactionsWaiting(2), now=0.2)
    assert started_round_zero(out) and m.step is Step.PROPOSE


def test_without_transactions_the_full_pause_is_kept() -> None:
    m, late = decided_with_three()
    value = block("b1")
    assert feed(m, vote(late, PRECOMMIT, 1, 0, value), now=0.1) == []
    assert feed(m, TransactionsWaiting(3), now=0.2) == []  # another height: ignored
    assert m.step is Step.NEW_HEIGHT and m.awaits_transactions
    pause = m.next_timeout()
    assert pause is not None and pause.kind is TimeoutKind.COMMIT
    out = feed(m, TimeoutFired(pause), now=1.0)
    assert started_round_zero(out) and m.step is Step.PROPOSE


def test_a_proposal_of_round_zero_ends_the_pause() -> None:
    m, _ = decided_with_three()
    value = block("b2")
    out = feed(m, propose(2, 0, value), now=0.3)
    votes = [o.message for o in out if isinstance(o, Broadcast)]
    assert [(v.kind, v.block_hash) for v in votes if isinstance(v, Vote)] == [
        (VoteKind.PREVOTE, value.hash)
    ]
    timeout = m.next_timeout()
    assert timeout is None or timeout.kind is not TimeoutKind.COMMIT


def test_precommits_of_another_round_or_forged_do_not_count() -> None:
    m, late = decided_with_three()
    value = block("b1")
    feed(m, TransactionsWaiting(2), vote(late, PRECOMMIT, 1, 1, value), now=0.1)
    assert m.step is Step.NEW_HEIGHT  # round 1 is not the decision round
    forged = sign_vote(keccak256(b"not a validator"), CHAIN, PRECOMMIT, 1, 0, value.hash)
    with pytest.raises(InvalidMessage):
        m.handle(VoteReceived(forged), 0.2)
    assert m.step is Step.NEW_HEIGHT


def test_a_validator_slow_to_check_the_block_still_signs_its_precommit() -> None:
    """Its verdict comes after 2f+1 precommits: it prevotes and precommits before it
    decides, so that the others see the whole set's precommits."""
    me = others(1, 0)[0]
    m = make(me)
    value = block("b1")
    feed(m, Started())
    peers = [k for k in KEYS.values() if k != me]
    events: list[Event] = [vote(k, VoteKind.PREVOTE, 1, 0, value) for k in peers]
    events += [vote(k, PRECOMMIT, 1, 0, value) for k in peers]
    assert not [o for o in feed(m, *events) if isinstance(o, CommitBlock)]  # no proposal yet
    out = feed(m, propose(1, 0, value))  # arrives (and is checked) last
    votes = [o.message for o in out if isinstance(o, Broadcast)]
    assert [(v.kind, v.block_hash) for v in votes if isinstance(v, Vote)] == [
        (VoteKind.PREVOTE, value.hash),
        (PRECOMMIT, value.hash),
    ]
    assert [o.height for o in out if isinstance(o, CommitBlock)] == [1]
    assert m.height == 2


def test_the_proposer_of_the_next_height_builds_as_soon_as_the_pause_ends() -> None:
    key = proposer_key(2, 0)
    m = make(key)
    value = block("b1")
    out = feed(m, Started(), propose(1, 0, value))
    peers = [k for k in KEYS.values() if k != key]
    out = feed(m, *echo(out), *(vote(k, VoteKind.PREVOTE, 1, 0, value) for k in peers))
    out = feed(m, *echo(out), *(vote(k, PRECOMMIT, 1, 0, value) for k in peers), now=0.5)
    assert m.step is Step.NEW_HEIGHT
    out = feed(m, *echo(out), TransactionsWaiting(2), now=0.6)  # its own precommit, last
    assert PrepareBlock(2, 0) in out


# --- the reactor --------------------------------------------------------------------------


def test_the_reactor_asks_for_transactions_only_in_the_pause() -> None:
    me = others(1, 0)[0]
    reactor = Reactor(
        chain_id=CHAIN,
        validators=VALIDATORS,
        timeouts=PAUSED,
        check_value=lambda block: None,
        private_key=me,
    )
    assert not reactor.awaits_transactions  # not started
    reactor.start(1, None, [], 0.0)
    assert not reactor.awaits_transactions  # deciding height 1
    machine = reactor.machine
    assert machine is not None
    value = block("b1")
    prevotes = [vote(k, VoteKind.PREVOTE, 1, 0, value) for k in KEYS.values()]
    for event in [propose(1, 0, value), *prevotes, ProposalValidated(1, value, True)]:
        reactor.on_local(event, 0.0)
    for k in KEYS.values():
        reactor.on_local(vote(k, PRECOMMIT, 1, 0, value), 0.1)
    assert (machine.height, reactor.awaits_transactions) == (2, True)
    reactor.syncing = True
    assert not reactor.awaits_transactions
    reactor.syncing = False
    out = reactor.on_local(TransactionsWaiting(2), 0.2)
    assert started_round_zero([o for o in out if isinstance(o, PrepareBlock | ScheduleTimeout)])
    assert not reactor.awaits_transactions


def test_a_late_precommit_of_the_height_just_decided_gets_no_commit_back() -> None:
    reactor = Reactor(
        chain_id=CHAIN,
        validators=VALIDATORS,
        timeouts=PAUSED,
        check_value=lambda block: None,
        private_key=others(5, 0)[0],
    )
    reactor.start(5, None, [], 0.0)  # 4 decided
    peer, key = b"\x01" * 32, next(iter(KEYS.values()))
    late = sign_vote(key, CHAIN, PRECOMMIT, 4, 0, block("b4").hash)
    assert not [c for c in reactor.on_message(peer, late, 0.1) if isinstance(c, SendCommit)]
    old = sign_vote(key, CHAIN, VoteKind.PREVOTE, 4, 0, block("b4").hash)
    assert [c for c in reactor.on_message(peer, old, 0.2) if isinstance(c, SendCommit)] == [
        SendCommit(peer, 4)
    ]


# --- simulated clusters -------------------------------------------------------------------


def _commit_gaps(transactions_waiting: float) -> list[float]:
    result = run_cluster(
        4, 1, heights=12, timeouts=SIM_PAUSED, transactions_waiting=transactions_waiting
    )
    assert result.ok, result.describe()
    times = result.nodes[0].commit_times
    return [b - a for a, b in pairwise(times[2:])]


def test_a_cluster_keeps_the_pause_without_transactions_and_skips_it_with_them() -> None:
    idle = _commit_gaps(0.0)
    busy = _commit_gaps(1.0)
    assert min(idle) >= SIM_PAUSED.commit_ms / 1000  # virtual seconds
    assert median(busy) < SIM_PAUSED.commit_ms / 1000


def test_slow_checks_lose_few_rounds_in_a_cluster() -> None:
    """Checks that outlast the propose timeout still end in round 0, but for the odd
    height whose proposer was itself late (prevoting nil at the timeout instead, a
    third of the heights of these seeds decide in round 0)."""
    rounds = []
    for seed in range(10):
        result = run_cluster(4, seed, heights=8, timeouts=SIM_PAUSED, check_time=CHECK_TIME)
        assert result.ok, result.describe()
        rounds += [certificate.round for _, certificate in result.nodes[0].disk.chain]
    assert len(rounds) >= 80 and rounds.count(0) >= 0.9 * len(rounds)


def _failures(n: int, kind: str, seeds: range) -> list[str]:
    failures = []
    for seed in seeds:
        try:
            result = run_cluster(
                n,
                seed,
                random_faults(n, seed, kind),
                timeouts=SIM_PAUSED,
                transactions_waiting=WAITING,
                check_time=CHECK_TIME,
            )
        except Exception as exc:  # a crash inside the run is a failing seed too
            failures.append(f"seed={seed} n={n} kind={kind}: {exc!r}")
        else:
            if not result.ok:
                failures.append(f"kind={kind} {result.describe()}")
    return failures


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_safety_and_liveness_with_early_starts(kind: str) -> None:
    failures = _failures(4, kind, range(SEEDS_PER_KIND))
    assert not failures, "pin these seeds:\n" + "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("n", [4, 7])
def test_safety_and_liveness_with_early_starts_many_seeds(n: int, kind: str) -> None:
    failures = _failures(n, kind, range(SEEDS_PER_KIND, 200))
    assert not failures, "pin these seeds:\n" + "\n".join(failures)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_safety_and_liveness_with_early_starts_on_fresh_seeds(kind: str, fuzz_seed: int) -> None:
    """`make test-fuzz`: a range of seeds no run has tried, chosen by the run's seed."""
    first = fuzz_seed * 1000 + 500
    failures = _failures(4, kind, range(first, first + SEEDS_PER_KIND))
    assert not failures, "pin these seeds:\n" + "\n".join(failures)


# --- a slow check of the proposal ---------------------------------------------------------


def _proposal_being_checked() -> tuple[ConsensusMachine, Timeout]:
    m = make(others(1, 0)[0])
    m.handle(Started(), 0.0)
    out = m.handle(propose(1, 0, block("b1")), 0.1)  # not answered yet: being checked
    assert [type(o) for o in out] == [ValidateBlock]
    timeout = m.next_timeout()
    assert timeout is not None and timeout.kind is TimeoutKind.PROPOSE
    return m, timeout


def test_the_propose_timeout_waits_for_the_check_of_the_proposal() -> None:
    m, timeout = _proposal_being_checked()
    for _ in range(3):
        out = m.handle(TimeoutFired(timeout), timeout.deadline)
        assert m.step is Step.PROPOSE and not [o for o in out if isinstance(o, Broadcast)]
        again = m.next_timeout()
        assert again is not None and again.kind is TimeoutKind.PROPOSE
        assert again.deadline > timeout.deadline
        timeout = again
    out = m.handle(ProposalValidated(1, block("b1"), True), timeout.deadline - 0.1)
    votes = [o.message for o in out if isinstance(o, Broadcast)]
    assert [(v.kind, v.block_hash) for v in votes if isinstance(v, Vote)] == [
        (VoteKind.PREVOTE, block("b1").hash)
    ]


def test_an_invalid_verdict_after_the_timeout_gets_a_nil_prevote() -> None:
    m, timeout = _proposal_being_checked()
    m.handle(TimeoutFired(timeout), timeout.deadline)
    out = m.handle(ProposalValidated(1, block("b1"), False), timeout.deadline + 0.1)
    votes = [o.message for o in out if isinstance(o, Broadcast)]
    assert [(v.kind, v.block_hash) for v in votes if isinstance(v, Vote)] == [
        (VoteKind.PREVOTE, None)
    ]


def test_without_a_proposal_the_propose_timeout_prevotes_nil_at_once() -> None:
    m = make(others(1, 0)[0])
    m.handle(Started(), 0.0)
    timeout = m.next_timeout()
    assert timeout is not None
    out = m.handle(TimeoutFired(timeout), timeout.deadline)
    votes = [o.message for o in out if isinstance(o, Broadcast)]
    assert [(v.kind, v.block_hash) for v in votes if isinstance(v, Vote)] == [
        (VoteKind.PREVOTE, None)
    ]
