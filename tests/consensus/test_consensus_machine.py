"""The consensus machine driven event by event: the paper's rules, the WAL, halting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerchain.core.consensus.certificate import Commit, certificate_from_votes
from peerchain.core.consensus.events import (
    BlockPrepared,
    Broadcast,
    CatchUpRequested,
    CommitBlock,
    CommitReceived,
    Event,
    Output,
    PersistWal,
    PrepareBlock,
    ProposalReceived,
    ProposalValidated,
    ReportEvidence,
    ScheduleTimeout,
    SendTo,
    Started,
    Timeout,
    TimeoutFired,
    TimeoutKind,
    ValidateBlock,
    VoteReceived,
)
from peerchain.core.consensus.machine import ConsensusMachine, Step
from peerchain.core.consensus.messages import (
    BlockValue,
    InvalidMessage,
    Proposal,
    Vote,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.consensus.votes import DuplicateProposal, DuplicateVote
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.errors import ConsensusHalted
from peerchain.core.genesis import ConsensusTimeouts, Validator

CHAIN = 7
KEYS = {private_key_to_address(k): k for k in (keccak256(b"machine %d" % i) for i in range(4))}
VALIDATORS = ValidatorSet(Validator(a, 1) for a in KEYS)
TIMEOUTS = ConsensusTimeouts(
    propose_ms=1000,
    propose_delta_ms=500,
    prevote_ms=2000,
    prevote_delta_ms=100,
    precommit_ms=3000,
    precommit_delta_ms=100,
    commit_ms=0,
)
PREVOTE, PRECOMMIT = VoteKind.PREVOTE, VoteKind.PRECOMMIT


def proposer_key(height: int, round: int) -> bytes:
    return KEYS[VALIDATORS.proposer(height, round)]


def others(height: int, round: int) -> list[bytes]:
    """Keys of the validators that do not propose (height, round), by address."""
    return [k for a, k in KEYS.items() if a != VALIDATORS.proposer(height, round)]


def block(name: str) -> BlockValue:
    return BlockValue(keccak256(name.encode()), name.encode())


def propose(height: int, round: int, value: BlockValue, pol_round: int = -1) -> ProposalReceived:
    key = proposer_key(height, round)
    return ProposalReceived(sign_proposal(key, CHAIN, height, round, pol_round, value))


def vote(key: bytes, kind: VoteKind, height: int, round: int, value: BlockValue | None) -> Event:
    return VoteReceived(sign_vote(key, CHAIN, kind, height, round, value.hash if value else None))


def make(key: bytes, height: int = 1, **kwargs: object) -> ConsensusMachine:
    return ConsensusMachine(
        chain_id=CHAIN,
        validators=VALIDATORS,
        timeouts=TIMEOUTS,
        height=height,
        private_key=key,
        **kwargs,  # type: ignore[arg-type]
    )


def feed(machine: ConsensusMachine, *events: Event, now: float = 0.0) -> list[Output]:
    """Feed events; answer validation requests with 'valid' unless the block says 'bad'."""
    out: list[Output] = []
    queue = list(events)
    while queue:
        produced = machine.handle(queue.pop(0), now)
        out += produced
        for o in produced:
            if isinstance(o, ValidateBlock):
                valid = not o.block.data.startswith(b"bad")
                queue.append(ProposalValidated(o.height, o.block, valid))
    return out


def sent(out: list[Output]) -> list[Proposal | Vote]:
    return [o.message for o in out if isinstance(o, Broadcast)]


def own_votes(out: list[Output]) -> list[tuple[VoteKind, bytes | None]]:
    return [(m.kind, m.block_hash) for m in sent(out) if isinstance(m, Vote)]


def loop_back(machine: ConsensusMachine, out: list[Output]) -> list[Output]:
    """Feed the machine its own broadcasts, as the node does."""
    events: list[Event] = [
        ProposalReceived(m) if isinstance(m, Proposal) else VoteReceived(m) for m in sent(out)
    ]
    return feed(machine, *events)


def validator() -> bytes:
    """A validator that does not propose rounds 0 and 1 of height 1."""
    return next(k for k in others(1, 0) if k in others(1, 1))


# --- the happy path -------------------------------------------------------------------------


def test_a_height_is_decided_with_a_certificate_and_the_next_begins() -> None:
    me = validator()
    m = make(me)
    out = feed(m, Started())
    assert [o.timeout.kind for o in out if isinstance(o, ScheduleTimeout)] == [TimeoutKind.PROPOSE]
    value = block("b1")
    out = feed(m, propose(1, 0, value))
    assert own_votes(out) == [(PREVOTE, value.hash)]
    assert m.step is Step.PREVOTE
    prevoters = [k for k in KEYS.values() if k != me][:2]
    out = feed(m, *loop_back_events(out), *(vote(k, PREVOTE, 1, 0, value) for k in prevoters))
    assert own_votes(out) == [(PRECOMMIT, value.hash)]
    assert (m.locked_value, m.locked_round, m.valid_value, m.valid_round) == (
        value.hash,
        0,
        value,
        0,
    )
    out = feed(m, *loop_back_events(out), *(vote(k, PRECOMMIT, 1, 0, value) for k in prevoters))
    commits = [o for o in out if isinstance(o, CommitBlock)]
    assert len(commits) == 1 and commits[0].height == 1 and commits[0].block == value
    certificate = commits[0].certificate
    assert (certificate.height, certificate.round, certificate.block_hash) == (1, 0, value.hash)
    assert len(certificate.signatures) == 3
    assert (m.height, m.round, m.locked_round, m.valid_value) == (2, 0, -1, None)
    assert m.last_block_hash == value.hash


def loop_back_events(out: list[Output]) -> list[Event]:
    return [ProposalReceived(p) if isinstance(p, Proposal) else VoteReceived(p) for p in sent(out)]


def test_the_proposer_asks_the_application_and_persists_before_sending() -> None:
    key = proposer_key(1, 0)
    m = make(key)
    out = feed(m, Started())
    assert out == [PrepareBlock(1, 0)]
    value = block("mine")
    out = feed(m, BlockPrepared(1, 0, value))
    assert [type(o) for o in out] == [PersistWal, Broadcast]
    assert out[0].record == out[1].message  # type: ignore[union-attr]
    assert m.step is Step.PROPOSE  # its own proposal counts only when it comes back
    out = loop_back(m, out)
    assert [type(o) for o in out] == [PersistWal, Broadcast]
    assert own_votes(out) == [(PREVOTE, value.hash)]
    assert m.proposal(1, 0) is not None and m.proposal(2, 0) is None


def sent_after_persisting(out: list[Output]) -> list[Proposal | Vote]:
    """Own messages in the order first sent; fails unless each first Broadcast comes right
    after the PersistWal of the same record, and a re-sent one was persisted before."""
    persisted: set[Proposal | Vote] = set()
    first_sent: list[Proposal | Vote] = []
    for i, o in enumerate(out):
        if isinstance(o, PersistWal):
            persisted.add(o.record)  # type: ignore[arg-type]
        elif isinstance(o, Broadcast) and o.message not in first_sent:
            assert i > 0 and out[i - 1] == PersistWal(o.message), f"{o} not persisted first"
            first_sent.append(o.message)
        elif isinstance(o, Broadcast):
            assert o.message in persisted
    return first_sent


def test_every_own_message_is_persisted_right_before_it_is_sent() -> None:
    """A proposal, a prevote, a nil precommit, a new round after timeouts, then a prevote
    and precommit that decide: each is persisted, right before it leaves."""
    me = proposer_key(1, 0)
    m = make(me)
    helpers = [k for k in KEYS.values() if k != me]
    x, y = block("x"), block("y")
    out = feed(m, Started(), BlockPrepared(1, 0, x))
    out += feed(m, *loop_back_events(out), *(vote(k, PREVOTE, 1, 0, None) for k in helpers))
    out += feed(m, *loop_back_events(out), *(vote(k, PRECOMMIT, 1, 0, None) for k in helpers))
    for _ in range(4):  # prevote and precommit timeouts of round 0
        timeout = m.next_timeout()
        if m.round == 1 or timeout is None:
            break
        out += feed(m, TimeoutFired(timeout), now=timeout.deadline)
    assert m.round == 1 and proposer_key(1, 1) != me
    out += feed(m, propose(1, 1, y), *(vote(k, PREVOTE, 1, 1, y) for k in helpers))
    out += feed(m, *loop_back_events(out), *(vote(k, PRECOMMIT, 1, 1, y) for k in helpers))
    assert m.height == 2
    mine = [
        (
            type(msg).__name__,
            getattr(msg, "kind", None),
            msg.round,
            getattr(msg, "block_hash", x.hash),
        )
        for msg in sent_after_persisting(out)
    ]
    assert mine == [
        ("Proposal", None, 0, x.hash),
        ("Vote", PREVOTE, 0, x.hash),
        ("Vote", PRECOMMIT, 0, None),
        ("Vote", PREVOTE, 1, y.hash),
        ("Vote", PRECOMMIT, 1, y.hash),
    ]


def test_the_persist_check_fails_on_a_message_sent_unpersisted() -> None:
    v = sign_vote(validator(), CHAIN, PREVOTE, 1, 0, None)
    with pytest.raises(AssertionError, match="not persisted first"):
        sent_after_persisting(
            [ScheduleTimeout(Timeout(1.0, 1, 0, TimeoutKind.PROPOSE)), Broadcast(v)]
        )


@st.composite
def schedules(draw: st.DrawFn) -> list[tuple[str, int, int, int]]:
    """Random deliveries: (what, round offset, value index (2 = nil), how many validators)."""
    action = st.tuples(
        st.sampled_from(["timeout", "proposal", "prevotes", "precommits"]),
        st.sampled_from([0, 0, 0, 1, 2]),
        st.integers(0, 2),
        st.sampled_from([1, 2, 3, 3]),
    )
    return draw(st.lists(action, min_size=8, max_size=60))


@settings(max_examples=60)
@given(me=st.integers(0, 3), schedule=schedules())
def test_under_any_schedule_nothing_leaves_before_it_is_persisted(
    me: int, schedule: list[tuple[str, int, int, int]]
) -> None:
    """Proposals, votes and timeouts in a random order, own messages looped back at once as
    the node does: whatever the machine sends, it persisted right before."""
    key = list(KEYS.values())[me]
    m = make(key)
    values = [block("a"), block("b"), None]
    helpers = [k for k in KEYS.values() if k != key]
    out: list[Output] = []
    now = 0.0

    def drive(*events: Event) -> None:
        produced = feed(m, *events, now=now)
        out.extend(produced)
        answers: list[Event] = loop_back_events(produced)
        answers += [BlockPrepared(o.height, o.round, values[o.round % 2] or values[0])
                    for o in produced if isinstance(o, PrepareBlock)]  # fmt: skip
        if answers:
            drive(*answers)

    try:
        drive(Started())
        for what, offset, which, count in schedule:
            height, round, value = m.height, m.round + offset, values[which]
            if what == "timeout" and (timeout := m.next_timeout()) is not None:
                now = max(now, timeout.deadline)
                drive(TimeoutFired(timeout))
            elif what == "proposal" and proposer_key(height, round) != key:
                drive(propose(height, round, value or values[1]))
            elif what in ("prevotes", "precommits"):
                kind = PREVOTE if what == "prevotes" else PRECOMMIT
                drive(*(vote(k, kind, height, round, value) for k in helpers[:count]))
    except ConsensusHalted:
        pass  # the others equivocating beyond f may halt it; what it sent until then counts
    sent_after_persisting(out)


# --- the upon rules --------------------------------------------------------------------------


def test_an_invalid_proposal_gets_a_nil_prevote() -> None:
    m = make(validator())
    feed(m, Started())
    out = feed(m, propose(1, 0, block("bad block")))
    assert own_votes(out) == [(PREVOTE, None)]


def test_timeouts_grow_linearly_with_the_round() -> None:
    m = make(validator())
    out = feed(m, Started(), now=10.0)
    (first,) = [o.timeout for o in out if isinstance(o, ScheduleTimeout)]
    assert (first.deadline, first.round, first.kind) == (11.0, 0, TimeoutKind.PROPOSE)
    assert m.next_timeout() == first
    out = feed(m, TimeoutFired(first), now=11.0)
    assert own_votes(out) == [(PREVOTE, None)]
    nil_prevotes = [vote(k, PREVOTE, 1, 0, None) for k in KEYS.values()]
    out = feed(m, *nil_prevotes, now=11.0)
    kinds = {o.timeout.kind: o.timeout for o in out if isinstance(o, ScheduleTimeout)}
    assert kinds[TimeoutKind.PREVOTE].deadline == 13.0  # 2f+1 prevotes for anything
    assert own_votes(out) == [(PRECOMMIT, None)]  # and 2f+1 for nil: precommit nil
    out = feed(m, *(vote(k, PRECOMMIT, 1, 0, None) for k in KEYS.values()), now=12.0)
    (precommit_timeout,) = [o.timeout for o in out if isinstance(o, ScheduleTimeout)]
    assert precommit_timeout.deadline == 15.0
    out = feed(m, TimeoutFired(precommit_timeout), now=15.0)
    assert m.round == 1
    deadlines = [o.timeout.deadline for o in out if isinstance(o, ScheduleTimeout)]
    assert deadlines == [15.0 + 1.5]  # propose timeout of round 1: 1000 + 1 * 500 ms


def test_a_stale_timeout_does_nothing() -> None:
    m = make(validator())
    out = feed(m, Started())
    (timeout,) = [o.timeout for o in out if isinstance(o, ScheduleTimeout)]
    feed(m, propose(1, 0, block("v")))
    assert own_votes(feed(m, TimeoutFired(timeout))) == []


def test_a_locked_validator_prevotes_nil_for_another_value_until_a_newer_polka() -> None:
    me = validator()
    m = make(me)
    v, w = block("v"), block("w")
    helpers = [k for k in KEYS.values() if k != me]
    out = feed(m, Started(), propose(1, 0, v))
    out = feed(m, *loop_back_events(out), *(vote(k, PREVOTE, 1, 0, v) for k in helpers[:2]))
    assert own_votes(out) == [(PRECOMMIT, v.hash)] and m.locked_round == 0
    # Round 1 (skipped to by 2 precommits for nil, more than 1/3): w without proof of lock.
    feed(m, *(vote(k, PRECOMMIT, 1, 1, None) for k in helpers[:2]))
    assert m.round == 1 and m.step is Step.PROPOSE
    out = feed(m, propose(1, 1, w))
    assert own_votes(out) == [(PREVOTE, None)]
    # Round 2: w again, with a proof of lock from round 1 (newer than our lock): prevote it.
    feed(m, *(vote(k, PREVOTE, 1, 1, w) for k in helpers))
    feed(m, *(vote(k, PRECOMMIT, 1, 2, None) for k in helpers[:2]))
    assert m.round == 2
    assert proposer_key(1, 2) != me
    out = feed(m, propose(1, 2, w, pol_round=1))
    assert own_votes(out) == [(PREVOTE, w.hash)]


def test_a_proof_of_lock_must_be_there_before_the_prevote() -> None:
    me = validator()
    m = make(me)
    w = block("w")
    feed(m, Started(), *(vote(k, PRECOMMIT, 1, 2, None) for k in others(1, 2)[:2]))
    assert m.round == 2 and proposer_key(1, 2) != me
    out = feed(m, propose(1, 2, w, pol_round=1))
    assert own_votes(out) == [] and m.step is Step.PROPOSE
    out = feed(m, *(vote(k, PREVOTE, 1, 1, w) for k in list(KEYS.values())[:3]))
    assert own_votes(out) == [(PREVOTE, w.hash)]


def test_f_plus_one_messages_of_a_higher_round_make_it_skip() -> None:
    m = make(validator())
    feed(m, Started())
    feed(m, vote(others(1, 0)[0], PREVOTE, 1, 5, None))
    assert m.round == 0
    feed(m, vote(others(1, 0)[1], PRECOMMIT, 1, 5, None))
    assert (m.round, m.step) == (5, Step.PROPOSE)


def test_valid_value_is_reproposed_with_its_round() -> None:
    me = proposer_key(1, 1)
    m = make(me)
    v = block("v")
    out = feed(m, Started(), propose(1, 0, v))
    out = feed(m, *loop_back_events(out), *(vote(k, PREVOTE, 1, 0, v) for k in others(1, 1)))
    assert m.valid_value == v and m.valid_round == 0
    out = feed(m, *(vote(k, PRECOMMIT, 1, 0, None) for k in others(1, 1)))
    (precommit_timeout,) = [
        o.timeout for o in out if isinstance(o, ScheduleTimeout) and o.timeout.round == 0
    ]
    out = feed(m, TimeoutFired(precommit_timeout))
    proposals = [p for p in sent(out) if isinstance(p, Proposal)]
    assert [(p.round, p.pol_round, p.block) for p in proposals] == [(1, 0, v)]
    assert not any(isinstance(o, PrepareBlock) for o in out)


# --- evidence, bad input, halting -----------------------------------------------------------


def test_conflicting_votes_and_proposals_become_evidence() -> None:
    m = make(validator())
    feed(m, Started())
    liar = others(1, 0)[0]
    feed(m, vote(liar, PREVOTE, 1, 0, block("a")))
    out = feed(m, vote(liar, PREVOTE, 1, 0, block("b")))
    (report,) = [o.evidence for o in out if isinstance(o, ReportEvidence)]
    assert isinstance(report, DuplicateVote)
    assert {report.first.block_hash, report.second.block_hash} == {block("a").hash, block("b").hash}
    feed(m, propose(1, 0, block("a")))
    out = feed(m, propose(1, 0, block("b")))
    (report,) = [o.evidence for o in out if isinstance(o, ReportEvidence)]
    assert isinstance(report, DuplicateProposal)


def test_invalid_messages_are_refused_without_changing_anything() -> None:
    me = validator()
    m = make(me)
    feed(m, Started())
    stranger = keccak256(b"not a validator")
    forged = sign_vote(stranger, CHAIN, PREVOTE, 1, 0, None)
    with pytest.raises(InvalidMessage):
        m.handle(VoteReceived(forged), 0.0)
    victim = others(1, 0)[0]
    impostor = Vote(PREVOTE, 1, 0, None, private_key_to_address(victim), forged.signature)
    with pytest.raises(InvalidMessage):
        m.handle(VoteReceived(impostor), 0.0)
    wrong_proposer = sign_proposal(others(1, 0)[0], CHAIN, 1, 0, -1, block("v"))
    with pytest.raises(InvalidMessage, match="proposer"):
        m.handle(ProposalReceived(wrong_proposer), 0.0)
    proposer = VALIDATORS.proposer(1, 0)
    bad_pol = Proposal(1, 0, 0, block("v"), proposer, wrong_proposer.signature)
    with pytest.raises(InvalidMessage):
        m.handle(ProposalReceived(bad_pol), 0.0)
    other_chain = sign_vote(victim, CHAIN + 1, PREVOTE, 1, 0, None)
    with pytest.raises(InvalidMessage):
        m.handle(VoteReceived(other_chain), 0.0)
    assert m.votes(1, 0, PREVOTE) == () and m.proposal(1, 0) is None
    assert (m.round, m.step) == (0, Step.PROPOSE)


def test_two_blocks_with_precommit_quorums_halt_the_machine() -> None:
    m = make(validator())
    feed(m, Started())
    keys = list(KEYS.values())
    feed(m, *(vote(k, PRECOMMIT, 1, 0, block("a")) for k in keys[:3]))
    with pytest.raises(ConsensusHalted, match="two blocks"):
        feed(m, *(vote(k, PRECOMMIT, 1, 1, block("b")) for k in keys[1:]))
    assert m.halted is not None
    with pytest.raises(ConsensusHalted):
        m.handle(Started(), 1.0)


def test_a_certificate_for_another_block_at_the_last_height_halts() -> None:
    m = make(validator(), height=2, last_block_hash=block("a").hash)
    feed(m, Started())
    other = block("b")
    certificate = certificate_from_votes(
        [sign_vote(k, CHAIN, PRECOMMIT, 1, 0, other.hash) for k in list(KEYS.values())[:3]]
    )
    with pytest.raises(ConsensusHalted, match="another block"):
        feed(m, CommitReceived(Commit(other, certificate)))


# --- restart from the WAL ---------------------------------------------------------------------


def test_restart_resumes_the_round_with_the_lock_and_never_signs_again() -> None:
    me = validator()
    m = make(me)
    v = block("v")
    helpers = [k for k in KEYS.values() if k != me]
    out = feed(m, Started(), propose(1, 0, v))
    out += feed(m, *loop_back_events(out), *(vote(k, PREVOTE, 1, 0, v) for k in helpers[:2]))
    wal = [o.record for o in out if isinstance(o, PersistWal)]
    assert [(r.kind, r.block_hash) for r in wal] == [(PREVOTE, v.hash), (PRECOMMIT, v.hash)]  # type: ignore[union-attr]

    again = make(me, wal=wal)
    assert (again.round, again.step) == (0, Step.PRECOMMIT)
    assert (again.locked_value, again.locked_round) == (v.hash, 0)
    out = feed(again, Started())
    assert sent(out) == wal  # re-sent as they were, not signed again
    assert not any(isinstance(o, PersistWal) for o in out)
    # A nil-prevote quorum would make a fresh machine precommit nil; this one already
    # precommitted in round 0 and signs nothing.
    assert own_votes(feed(again, *(vote(k, PREVOTE, 1, 0, None) for k in helpers))) == []
    # Locked on v, it prevotes nil for another value in a later round.
    feed(again, *(vote(k, PRECOMMIT, 1, 1, None) for k in helpers[:2]))
    assert own_votes(feed(again, propose(1, 1, block("w")))) == [(PREVOTE, None)]


def test_restart_of_a_proposer_resends_the_same_proposal() -> None:
    key = proposer_key(1, 0)
    m = make(key)
    out = feed(m, Started(), BlockPrepared(1, 0, block("mine")))
    wal = [o.record for o in out if isinstance(o, PersistWal)]
    again = make(key, wal=wal)
    out = feed(again, Started())
    assert out == [Broadcast(wal[0])]
    assert feed(again, BlockPrepared(1, 0, block("other"))) == []


def test_a_wal_showing_double_signing_or_another_key_halts() -> None:
    me = validator()
    conflicting = [
        sign_vote(me, CHAIN, PREVOTE, 1, 0, None),
        sign_vote(me, CHAIN, PREVOTE, 1, 0, block("v").hash),
    ]
    with pytest.raises(ConsensusHalted, match="conflicting"):
        make(me, wal=conflicting)
    someone = next(k for k in KEYS.values() if k != me)
    with pytest.raises(ConsensusHalted, match="another validator"):
        make(me, wal=[sign_vote(someone, CHAIN, PREVOTE, 1, 0, None)])
    old = [sign_vote(me, CHAIN, PREVOTE, 1, 0, None)]
    assert make(me, height=2, wal=old).step is Step.NEW_HEIGHT  # older heights are skipped


# --- catch-up ---------------------------------------------------------------------------------


def test_a_commit_from_a_peer_decides_a_lagging_node() -> None:
    m = make(validator())
    feed(m, Started())
    v = block("v")
    certificate = certificate_from_votes(
        [sign_vote(k, CHAIN, PRECOMMIT, 1, 3, v.hash) for k in list(KEYS.values())[1:]]
    )
    out = feed(m, CommitReceived(Commit(v, certificate)))
    (commit,) = [o for o in out if isinstance(o, CommitBlock)]
    assert commit.block == v and commit.certificate == certificate
    assert m.height == 2


def test_a_commit_with_forged_bytes_is_not_decided() -> None:
    m = make(validator())
    feed(m, Started())
    v = block("v")
    certificate = certificate_from_votes(
        [sign_vote(k, CHAIN, PRECOMMIT, 1, 0, v.hash) for k in list(KEYS.values())[1:]]
    )
    out = feed(m, CommitReceived(Commit(BlockValue(v.hash, b"bad forgery"), certificate)))
    assert not any(isinstance(o, CommitBlock) for o in out) and m.height == 1
    out = feed(m, CommitReceived(Commit(v, certificate)))
    assert any(isinstance(o, CommitBlock) for o in out)


def test_catch_up_sends_the_round_and_its_proof_of_lock() -> None:
    me = validator()
    m = make(me)
    v = block("v")
    feed(m, Started(), propose(1, 0, v), *(vote(k, PREVOTE, 1, 0, v) for k in others(1, 0)))
    peer = b"peer-id"
    out = feed(m, CatchUpRequested(peer, 1, 0))
    messages = [o.message for o in out if isinstance(o, SendTo) and o.peer == peer]
    assert m.proposal(1, 0) in messages
    assert set(m.votes(1, 0, PREVOTE)) <= set(messages)
    assert feed(m, CatchUpRequested(peer, 0, 0)) == []


def precommit_timeouts(out: list[Output]) -> list[Timeout]:
    return [
        o.timeout
        for o in out
        if isinstance(o, ScheduleTimeout) and o.timeout.kind is TimeoutKind.PRECOMMIT
    ]


def test_a_peer_rounds_behind_gets_what_ended_our_previous_round() -> None:
    """After a partition a validator may be rounds behind while the others wait in their
    round for its proposal: what it is sent lets it skip to our previous round and reach
    ours when that round's precommit timeout fires, not after every round in between."""
    me = validator()
    lagging_key = next(k for k in KEYS.values() if k != me)
    m = make(me)
    feed(m, Started())
    nil_precommits = [vote(k, PRECOMMIT, 1, 2, None) for k in KEYS.values() if k != me]
    out = feed(m, *nil_precommits)  # f+1 of round 2: skip there; 2f+1: its timeout
    (timeout,) = precommit_timeouts(out)
    feed(m, TimeoutFired(timeout))
    assert m.round == 3
    out = feed(m, CatchUpRequested(b"peer-id", 1, 0))
    messages = [o.message for o in out if isinstance(o, SendTo)]
    assert set(messages) == {e.vote for e in nil_precommits}  # type: ignore[attr-defined]
    lagging = make(lagging_key)
    feed(lagging, Started())
    out = feed(lagging, *(VoteReceived(v) for v in messages if isinstance(v, Vote)))
    assert lagging.round == 2
    (timeout,) = precommit_timeouts(out)
    feed(lagging, TimeoutFired(timeout))
    assert lagging.round == 3


def test_catch_up_carries_what_made_the_valid_value() -> None:
    me = validator()
    m = make(me)
    v = block("v")
    polka = [vote(k, PREVOTE, 1, 0, v) for k in KEYS.values() if k != me]
    feed(m, Started(), propose(1, 0, v), *polka)
    assert (m.valid_value, m.valid_round) == (v, 0)
    feed(m, *(vote(k, PREVOTE, 1, 2, None) for k in others(1, 2)[:2]))  # f+1: round 2
    assert m.round == 2
    out = feed(m, CatchUpRequested(b"peer-id", 1, 2))
    messages = {o.message for o in out if isinstance(o, SendTo)}
    assert m.proposal(1, 0) in messages
    assert {e.vote for e in polka} <= messages  # type: ignore[attr-defined]


def test_a_polka_of_a_finished_round_seen_late_becomes_the_valid_value() -> None:
    """A validator that lagged may lock on a round the others left; they learn of its
    polka from its late prevote, and propose that value later instead of a new one that
    the locked validator would refuse."""
    me = validator()
    m = make(me)
    v = block("v")
    early, late = others(1, 0)[:2], others(1, 0)[2]
    rest = [k for k in KEYS.values() if k not in (me, *early, late)]
    feed(m, Started(), propose(1, 0, v), *(vote(k, PREVOTE, 1, 0, v) for k in early))
    out = feed(m, *(vote(k, PRECOMMIT, 1, 0, None) for k in [*early, *rest]))
    (timeout,) = precommit_timeouts(out)
    feed(m, TimeoutFired(timeout))
    assert (m.round, m.valid_round) == (1, -1)
    out = feed(m, vote(late, PREVOTE, 1, 0, v))
    assert (m.valid_value, m.valid_round) == (v, 0)
    assert (m.locked_value, m.locked_round) == (None, -1) and sent(out) == []  # no vote
    mine = next(r for r in range(2, 6) if VALIDATORS.proposer(1, r) == private_key_to_address(me))
    out = feed(m, *(vote(k, PREVOTE, 1, mine, None) for k in early))  # f+1: skip there
    assert m.round == mine
    (proposal,) = [p for p in sent(out) if isinstance(p, Proposal)]
    assert (proposal.block, proposal.pol_round) == (v, 0)


def test_messages_of_the_next_height_wait_for_it() -> None:
    me = validator()
    m = make(me)
    v, nxt = block("v"), block("next")
    early = [propose(2, 0, nxt)]
    feed(m, Started(), *early)
    assert m.proposal(2, 0) is None
    keys = [k for k in KEYS.values() if k != me]
    feed(m, propose(1, 0, v), *(vote(k, PRECOMMIT, 1, 0, v) for k in keys))
    assert m.height == 2
    assert m.proposal(2, 0) == early[0].proposal  # type: ignore[attr-defined]


def test_an_observer_follows_without_signing() -> None:
    m = ConsensusMachine(chain_id=CHAIN, validators=VALIDATORS, timeouts=TIMEOUTS, height=1)
    v = block("v")
    out = feed(
        m, Started(), propose(1, 0, v), *(vote(k, PRECOMMIT, 1, 0, v) for k in KEYS.values())
    )
    assert sent(out) == [] and any(isinstance(o, CommitBlock) for o in out)
