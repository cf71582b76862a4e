"""The consensus node's policy (`Reactor`): what it relays, whom it sends commits, how
often it answers peers that are behind, and when it leaves consensus for a block sync."""

from __future__ import annotations

from peerchain.core.consensus.certificate import Commit, certificate_from_votes
from peerchain.core.consensus.events import (
    Broadcast,
    CommitBlock,
    ProposalValidated,
    SendTo,
    ValidateBlock,
)
from peerchain.core.consensus.messages import (
    BlockValue,
    Proposal,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from peerchain.core.consensus.reactor import (
    Command,
    Penalize,
    Reactor,
    SendCommit,
    StartSync,
)
from peerchain.core.p2p.gossip import Relay

from .test_consensus_bounds import hashed_body
from .test_consensus_machine import (
    CHAIN,
    KEYS,
    TIMEOUTS,
    VALIDATORS,
    block,
    others,
    proposer_key,
    validator,
)

PEER, OTHER = b"\x01" * 32, b"\x02" * 32
KEY_LIST = list(KEYS.values())


def reactor(height: int = 5, key: bytes | None = None) -> Reactor:
    r = Reactor(
        chain_id=CHAIN,
        validators=VALIDATORS,
        timeouts=TIMEOUTS,
        check_value=hashed_body,
        private_key=key,
    )
    r.start(height, None, (), 0.0)
    return r


def commit_of(height: int, value: BlockValue) -> Commit:
    votes = [sign_vote(k, CHAIN, VoteKind.PRECOMMIT, height, 0, value.hash) for k in KEY_LIST[:3]]
    return Commit(value, certificate_from_votes(votes))


def commits(out: list[Command]) -> list[SendCommit]:
    return [c for c in out if isinstance(c, SendCommit)]


def test_gossip_of_heights_h_and_h_plus_one_is_relayed_older_only_delivered() -> None:
    r = reactor(height=5)
    for height, verdict in ((5, Relay.RELAY), (6, Relay.RELAY), (4, Relay.DELIVER)):
        vote = sign_vote(KEY_LIST[0], CHAIN, VoteKind.PREVOTE, height, 0, None)
        assert r.check_gossip(vote) is verdict
    assert r.check_gossip(sign_vote(KEY_LIST[0], CHAIN, VoteKind.PREVOTE, 7, 0, None)) is (
        Relay.DELIVER
    )


def test_a_proposal_with_a_forged_body_is_rejected_before_relay() -> None:
    r = reactor(height=5)
    real = block("real")
    key = proposer_key(5, 0)
    assert r.check_gossip(sign_proposal(key, CHAIN, 5, 0, -1, real)) is Relay.RELAY
    forged = BlockValue(real.hash, b"another body")
    assert r.check_gossip(sign_proposal(key, CHAIN, 5, 0, -1, forged)) is Relay.REJECT
    forged_commit = Commit(forged, commit_of(5, real).certificate)
    assert r.check_gossip(forged_commit) is Relay.REJECT
    out = r.on_message(PEER, forged_commit, 0.0)
    assert [type(c) for c in out] == [Penalize]


def test_old_height_votes_are_answered_with_a_commit_once_per_interval() -> None:
    r = reactor(height=5)
    answers = []
    for step in range(40):  # a peer replays old votes of heights 3 and 4, 10 a second
        height = 3 + step % 2
        vote = sign_vote(KEY_LIST[step % 4], CHAIN, VoteKind.PREVOTE, height, step % 3, None)
        answers += commits(r.on_message(PEER, vote, now=step * 0.1))
    # 4 s of replays: at most one answer per (height) per second, within the peer's bucket
    assert 2 <= len(answers) <= 10, answers
    assert {a.height for a in answers} == {3, 4}


def test_answers_are_bounded_by_a_bucket_per_peer_whatever_the_heights() -> None:
    r = reactor(height=1000)
    answers = []
    for height in range(1, 900):  # every replayed vote names another old height
        vote = sign_vote(KEY_LIST[0], CHAIN, VoteKind.PREVOTE, height, 0, None)
        answers += commits(r.on_message(PEER, vote, now=0.0))
    assert len(answers) == r.config.catch_up_burst
    other = sign_vote(KEY_LIST[0], CHAIN, VoteKind.PREVOTE, 10, 0, None)
    assert commits(r.on_message(OTHER, other, now=0.0))  # another peer has its own budget


def test_a_commit_goes_only_to_peers_that_stay_behind() -> None:
    r = reactor(height=5)  # decided up to 4
    r.on_peer_height(PEER, 4, now=0.0)
    r.on_peer_height(OTHER, 3, now=0.0)
    assert commits(r.tick([PEER, OTHER], now=0.1)) == []  # within the grace
    out = commits(r.tick([PEER, OTHER], now=1.2))
    assert out == [SendCommit(OTHER, 4)]  # PEER is not behind
    assert commits(r.tick([PEER, OTHER], now=1.5)) == []  # once per interval
    r.on_peer_height(OTHER, 4, now=1.6)
    assert commits(r.tick([PEER, OTHER], now=5.0)) == []


def test_no_commit_is_flooded_to_peers_after_a_decision() -> None:
    key = KEY_LIST[0]
    r = reactor(height=1, key=key)
    for peer in (PEER, OTHER):
        r.on_peer_height(peer, 0, now=0.0)
    value = block("one")
    out = r.on_message(PEER, commit_of(1, value), now=0.5)
    (check,) = [c for c in out if isinstance(c, ValidateBlock)]
    out += r.on_local(ProposalValidated(1, check.block, True), now=0.5)
    assert any(isinstance(c, CommitBlock) for c in out)
    assert commits(out) == []
    r.on_peer_height(PEER, 1, now=0.55)  # peers commit as well, a moment later
    r.on_peer_height(OTHER, 1, now=0.6)
    assert commits(r.tick([PEER, OTHER], now=2.0)) == []


def test_a_peer_far_ahead_starts_one_sync_and_messages_wait_for_it() -> None:
    r = reactor(height=5)
    assert r.on_peer_height(PEER, 5, now=0.0) == []
    (sync,) = r.on_peer_height(PEER, 6, now=0.0)
    assert sync == StartSync(6)
    assert r.on_peer_height(OTHER, 9, now=0.0) == []  # already syncing
    vote = sign_vote(KEY_LIST[1], CHAIN, VoteKind.PREVOTE, 5, 0, None)
    assert r.on_message(OTHER, vote, now=0.1) == []  # held
    r.sync_finished(5, None, (), now=1.0)  # nothing new: the held vote is replayed
    assert r.machine is not None and len(r.machine.votes(5, 0, VoteKind.PREVOTE)) == 1


def test_a_stalled_round_is_resent_to_every_peer() -> None:
    key = KEY_LIST[0]
    r = reactor(height=5, key=key)
    vote = sign_vote(KEY_LIST[1], CHAIN, VoteKind.PREVOTE, 5, 0, None)
    r.on_message(PEER, vote, now=0.1)
    assert r.tick([PEER, OTHER], now=1.0) == []
    out = r.tick([PEER, OTHER], now=2.5)
    assert {c.peer for c in out if isinstance(c, SendTo)} == {PEER, OTHER}


def test_an_undecided_height_is_resent_while_its_rounds_move_on() -> None:
    """Messages lost before a network healed are sent again even though rounds keep
    changing (validators locked on a polka the others missed refuse every new value)."""
    r = reactor(height=5, key=KEY_LIST[0])
    machine = r.machine
    assert machine is not None
    resent_at = []
    for step in range(1, 13):  # a new round every half second, by f+1 nil prevotes
        now = step * 0.5
        for key in KEY_LIST[1:3]:
            r.on_message(PEER, sign_vote(key, CHAIN, VoteKind.PREVOTE, 5, step, None), now)
        assert machine.round == step
        if any(isinstance(c, SendTo) for c in r.tick([PEER, OTHER], now)):
            resent_at.append(now)
    assert resent_at == [2.0, 4.0, 6.0]
    value = block("decided")
    out = r.on_message(PEER, commit_of(5, value), now=6.2)
    (check,) = [c for c in out if isinstance(c, ValidateBlock)]
    r.on_local(ProposalValidated(5, check.block, True), now=6.2)
    assert r.height == 6
    r.on_message(PEER, sign_vote(KEY_LIST[1], CHAIN, VoteKind.PREVOTE, 6, 0, None), now=6.3)
    assert not any(isinstance(c, SendTo) for c in r.tick([PEER, OTHER], now=8.1))  # 1.9 s
    assert any(isinstance(c, SendTo) for c in r.tick([PEER, OTHER], now=8.3))


def test_a_proposal_citing_a_proof_of_lock_goes_out_with_its_prevotes() -> None:
    """Peers may lack prevotes of that round (late, lost, or shown to us only by a
    Byzantine validator); without them they could not accept the proposal."""
    me = validator()
    r = reactor(height=1, key=me)
    for peer in (PEER, OTHER):
        r.on_peer_height(peer, 0, now=0.0)
    v = block("v")
    out = r.on_message(PEER, sign_proposal(proposer_key(1, 0), CHAIN, 1, 0, -1, v), now=0.1)
    (check,) = [c for c in out if isinstance(c, ValidateBlock)]
    r.on_local(ProposalValidated(1, check.block, True), now=0.1)
    for key in [k for k in others(1, 0) if k != me][:2]:
        r.on_message(PEER, sign_vote(key, CHAIN, VoteKind.PREVOTE, 1, 0, v.hash), now=0.2)
    machine = r.machine
    assert machine is not None and (machine.locked_round, machine.valid_round) == (0, 0)
    polka = set(machine.votes(1, 0, VoteKind.PREVOTE))
    assert len(polka) == 3
    mine = next(n for n in range(1, 5) if proposer_key(1, n) == me)
    out = []
    for key in [k for k in KEY_LIST if k != me][:2]:  # f+1 in my round: skip to it
        out += r.on_message(PEER, sign_vote(key, CHAIN, VoteKind.PREVOTE, 1, mine, None), 0.3)
    broadcast = [c.message for c in out if isinstance(c, Broadcast)]
    (proposal,) = [m for m in broadcast if isinstance(m, Proposal)]
    assert proposal.pol_round == 0 and proposal.block == v
    sent = {(c.peer, c.message) for c in out if isinstance(c, SendTo)}
    assert sent == {(peer, vote) for peer in (PEER, OTHER) for vote in polka}
