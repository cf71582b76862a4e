"""The Tendermint consensus state machine, sans I/O.

Theory of operation
-------------------
This is Algorithm 1 of Buchman, Kwon and Milosevic, "The latest gossip on BFT
consensus" (arXiv:1807.04938). Each `upon` rule of the paper is one method below, named
with its line numbers; after every event `_advance` fires the rules whose conditions
hold until none does, which is the paper's "upon" semantics. Thresholds are voting power
(2f+1: more than 2/3; f+1: more than 1/3), timeouts grow linearly with the round.

What the paper leaves to an implementation:

- valid(v) is the application's verdict, which arrives as an event: `ValidateBlock` asks
  for it and rules that need it wait until `ProposalValidated` answers. getValue() is
  `PrepareBlock` / `BlockPrepared` in the same way. Verdicts are kept per block value
  (hash and bytes, see `proposals`), so a forged copy of a block does not taint the
  real one. valid(v) takes time (the block is executed, by a validator that may be
  loaded): a propose timeout that fires while the round's proposal is being checked
  starts again instead of prevoting nil, as CometBFT's prevote waits for
  ProcessProposal. Prevoting nil earlier would win nothing: the check holds the
  application, which the next round's build and checks wait for, and it ends (the
  block's gas limit bounds it; the application answers every `ValidateBlock`).
- "broadcast" reaches this node too: the machine counts its own proposal and votes only
  when the node feeds them back, like any other message.
- Never sign twice (`signing`). Every own proposal and vote is emitted as `PersistWal`
  before its `Broadcast`; a machine built from those records (`wal=`) and the
  last-signed record (`last_signed=`, see `signguard`) resumes at the round and step
  they show, locked on the value of its last non-nil precommit; a rule asking it to
  sign a different vote for a (round, kind) it has signed halts it, and it signs
  nothing the last-signed record forbids (`signatures_refused` counts what it skipped;
  a proposal it may not sign leaves it waiting for the propose timeout).
- validValue is also taken from a finished round (`_upon_earlier_polka`): a valid
  proposal of round r > validRound whose 2f+1 prevotes in r are seen only later. The
  paper updates it in the current round only; the proposer's choice of value changes
  no vote and no check, and this one lets the others re-propose the value that a
  validator which lagged behind locked on (the only one it will prevote for).
- Decide: 2f+1 precommits for id(v) in round r plus v itself, from a proposal of round r
  or from a peer's `Commit` (a certificate proves the hash; the application checks the
  bytes against it). The decision leaves as `CommitBlock` with its certificate; the
  machine then waits `commit` ms (CometBFT's timeout_commit) before round 0 of the next
  height, so that the precommits of slower validators still arrive and transactions
  gather for the next block.
- The pause ends early (CometBFT's skip_timeout_commit, made conditional) once both
  hold: the precommits of the whole validator set in the decision round are in (nobody
  is still finishing the height: late precommits of the height just decided are
  checked and counted during the pause), and the node said `TransactionsWaiting` for
  the new height (its mempool holds work). With an empty mempool the chain keeps its
  pace instead of making empty blocks back to back; a validator that never precommits
  costs the full pause. A proposal of round 0 ends the pause too (its proposer found
  work; CometBFT enters prevote on a complete proposal during timeout_commit as well).
  Only the time round 0 starts changes: no vote or check does.
- A proposal's block bytes must belong to its signed hash (`check_value`, the
  application's binding), else the proposal is invalid: the first body seen for a hash
  is then always the real one, and so is a commit's.
- The validator set may change at every height: `validators` is a set, or a function
  from height to set (`validators.ValidatorSets`). A height's messages are checked
  against its own set; the machine signs only at heights whose set holds its key.
  Messages of a next height whose set is not known yet are ignored.
- Messages of the next height are kept (a few per signer) and replayed on entering it;
  older heights are ignored, and so are rounds more than `MAX_ROUNDS_AHEAD` ahead. Of the
  rounds above the next one, each signer holds at most `MAX_AHEAD_ROUNDS` (see
  `votes.HeightVotes.admit`); its proposals leave with its votes.
- A peer that is behind is served by `CatchUpRequested`: the proposals and votes of its
  round, of ours, and of the proof-of-lock rounds those proposals cite, the precommits
  that ended our previous round (so that it skips the rounds in between), and the
  proposal and prevotes that made our valid value.

A broken invariant (two blocks with precommit quorums in one height, a certificate for
another block at the height just decided, a conflicting own vote) raises
`ConsensusHalted`; every later call raises it again. Invalid messages from peers raise
`InvalidMessage` and change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import NoReturn

from peerchain.core.consensus.certificate import Commit, certificate_from_votes, verify_certificate
from peerchain.core.consensus.checks import ValueCheck, check_proposal, check_vote
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
    TransactionsWaiting,
    ValidateBlock,
    VoteReceived,
)
from peerchain.core.consensus.messages import (
    BlockValue,
    InvalidMessage,
    Proposal,
    Vote,
    VoteKind,
)
from peerchain.core.consensus.proposals import HeightProposals
from peerchain.core.consensus.signguard import (
    LastSigned,
)
from peerchain.core.consensus.signing import HeightSigner
from peerchain.core.consensus.validators import ValidatorSet, ValidatorSets, as_sets
from peerchain.core.consensus.votes import (
    Added,
    DuplicateProposal,
    DuplicateVote,
    HeightVotes,
    VoteSet,
)
from peerchain.core.consensus.wal import WalRecord
from peerchain.core.consensus.wire import ConsensusMessage
from peerchain.core.errors import ConsensusHalted
from peerchain.core.genesis import ConsensusTimeouts

MAX_ROUNDS_AHEAD = 1000
MAX_AHEAD_PER_SIGNER = 6


class Step(IntEnum):
    """Where the machine is in a round; NEW_HEIGHT is the pause before round 0."""

    NEW_HEIGHT = 0
    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3


class ConsensusMachine:
    """One validator's (or observer's, without `private_key`) Tendermint instance.

    `validators` is the set of every height, or a function giving it per height (it must
    know the set of the height being decided); `height` is the next height to decide
    (last committed + 1); `wal` holds the records
    this validator persisted, any heights (older ones are skipped); `last_block_hash` is
    the block committed at `height - 1`, if known, to notice a conflicting certificate;
    `check_value` the application's check of a block's bytes against its hash.
    """

    def __init__(
        self,
        *,
        chain_id: int,
        validators: ValidatorSet | ValidatorSets,
        timeouts: ConsensusTimeouts,
        height: int,
        private_key: bytes | None = None,
        wal: Iterable[WalRecord] = (),
        last_block_hash: bytes | None = None,
        check_value: ValueCheck | None = None,
        last_signed: LastSigned | None = None,
    ) -> None:
        if height < 1:
            raise ValueError("heights start at 1")
        self.chain_id = chain_id
        self.validator_sets = as_sets(validators)
        self.timeouts = timeouts
        self._signer = HeightSigner(chain_id, private_key, last_signed)
        self.address = self._signer.address
        self.last_block_hash = last_block_hash
        self.check_value = check_value
        self._halted: str | None = None
        self._now = 0.0
        self._out: list[Output] = []
        self._ahead: dict[bytes, list[Proposal | Vote]] = {}
        # The decision round's precommits of the height decided last, with its set.
        self._last_precommits: tuple[int, ValidatorSet, VoteSet] | None = None
        self._enter_height(height)
        self._resume(wal)

    # --- public face ----------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Output]:
        """Apply one event at time `now`; return the outputs, to be carried out in order.

        Raises InvalidMessage (peer's fault, nothing changed) or ConsensusHalted.
        """
        if self._halted is not None:
            raise ConsensusHalted(self._halted)
        self._now = now
        self._out = []
        match event:
            case Started():
                self._on_started()
            case ProposalReceived(proposal):
                self._on_proposal(proposal)
            case VoteReceived(vote):
                self._on_vote(vote)
            case CommitReceived(commit):
                self._on_commit(commit)
            case TimeoutFired(timeout):
                self._on_timeout(timeout)
            case BlockPrepared(height, round, block):
                self._on_block_prepared(height, round, block)
            case ProposalValidated(height, block, valid):
                if height == self.height:
                    self._proposals.record_verdict(block, valid)
            case CatchUpRequested(peer, height, round):
                self._on_catch_up(peer, height, round)
            case TransactionsWaiting(height):
                self._transactions_waiting |= height == self.height
        self._advance()
        out, self._out = self._out, []
        return out

    def next_timeout(self) -> Timeout | None:
        """The earliest pending timeout, for a node that keeps a single timer."""
        return min(self._timeouts.values(), default=None)

    @property
    def awaits_transactions(self) -> bool:
        """Whether the machine is in the pause after a commit and has not been told of
        transactions waiting for this height yet (`TransactionsWaiting`)."""
        return self.step is Step.NEW_HEIGHT and not self._transactions_waiting

    @property
    def signatures_refused(self) -> int:
        """Signatures the last-signed record made this validator skip."""
        return self._signer.refused

    @property
    def halted(self) -> str | None:
        """Why the machine halted, or None."""
        return self._halted

    def proposal(self, height: int, round: int) -> Proposal | None:
        """The (first) proposal received for (height, round), if it is the current height."""
        if height != self.height:
            return None
        return self._proposals.first(round)

    def votes(self, height: int, round: int, kind: VoteKind) -> tuple[Vote, ...]:
        """The votes counted for (height, round, kind), if it is the current height."""
        found = self._votes.find(round, kind) if height == self.height else None
        return found.votes() if found is not None else ()

    # --- height and round -----------------------------------------------------------------

    def _enter_height(self, height: int) -> None:
        validators = self.validator_sets(height)
        if validators is None:
            self._halt(f"the validator set of height {height} is not known")
        self.validators = validators
        self._signer.enter_height(height, self.address in validators)
        self.height = height
        self.round = 0
        self.step = Step.NEW_HEIGHT
        self.locked_value: bytes | None = None
        self.locked_round = -1
        self.valid_value: BlockValue | None = None
        self.valid_round = -1
        self._votes = HeightVotes(self.validators)
        self._proposals = HeightProposals()
        self._prevote_timeout_rounds: set[int] = set()
        self._precommit_timeout_rounds: set[int] = set()
        self._lock_rounds: set[int] = set()
        self._decidable: list[tuple[int, bytes]] = []
        self._timeouts: dict[tuple[int, TimeoutKind], Timeout] = {}
        self._transactions_waiting = False

    def _resume(self, wal: Iterable[WalRecord]) -> None:
        """Resume the current height from what this validator signed in it (`signing`):
        at the round and step its messages show, locked on its last non-nil precommit."""
        signer = self._signer
        round = signer.restore(wal)
        for vote in signer.votes.values():
            self._count_vote(vote)
        self.round = round if round is not None else self.round
        self._votes.set_round(self.round)
        if not signer.votes and not signer.proposals:
            return
        if (self.round, VoteKind.PRECOMMIT) in signer.votes:
            self.step = Step.PRECOMMIT
        elif (self.round, VoteKind.PREVOTE) in signer.votes:
            self.step = Step.PREVOTE
        else:
            self.step = Step.PROPOSE
        lock = signer.lock()
        if lock is not None:
            self.locked_value, self.locked_round = lock.block_hash, lock.round

    def _on_started(self) -> None:
        if self.step <= Step.PROPOSE:
            self._start_round(self.round)
            return
        own = self._signer.proposals.get(self.round)
        if own is not None:
            self._out.append(Broadcast(own))
        for kind in VoteKind:
            vote = self._signer.votes.get((self.round, kind))
            if vote is not None:
                self._out.append(Broadcast(vote))

    def _start_round(self, round: int) -> None:
        """StartRound (lines 11-21)."""
        self.round = round
        self.step = Step.PROPOSE
        self._votes.set_round(round)
        self._timeouts = {k: t for k, t in self._timeouts.items() if k[0] >= round}
        if self.address != self.validators.proposer(self.height, round) or not self._signer.signs:
            self._schedule(TimeoutKind.PROPOSE)
        elif (own := self._signer.proposals.get(round)) is not None:
            self._out.append(Broadcast(own))
        elif self.valid_value is not None:
            self._propose(self.valid_value, self.valid_round)
        else:
            self._out.append(PrepareBlock(self.height, round))

    def _schedule(self, kind: TimeoutKind) -> None:
        t = self.timeouts
        base, delta = {
            TimeoutKind.PROPOSE: (t.propose_ms, t.propose_delta_ms),
            TimeoutKind.PREVOTE: (t.prevote_ms, t.prevote_delta_ms),
            TimeoutKind.PRECOMMIT: (t.precommit_ms, t.precommit_delta_ms),
            TimeoutKind.COMMIT: (t.commit_ms, 0),
        }[kind]
        timeout = Timeout(
            self._now + (base + self.round * delta) / 1000, self.height, self.round, kind
        )
        self._timeouts[(self.round, kind)] = timeout
        self._out.append(ScheduleTimeout(timeout))

    # --- signing --------------------------------------------------------------------------

    def _propose(self, block: BlockValue, pol_round: int) -> None:
        proposal = self._signer.propose(self.round, pol_round, block)
        if proposal is None:  # the last-signed record forbids it
            self._schedule(TimeoutKind.PROPOSE)  # prevote nil when it fires
            return
        self._out += [PersistWal(proposal), Broadcast(proposal)]

    def _cast(self, kind: VoteKind, block_hash: bytes | None) -> None:
        """Sign and send this validator's vote of the current round, exactly once."""
        try:
            vote = self._signer.vote(self.round, kind, block_hash)
        except ConsensusHalted as exc:
            self._halt(str(exc))
        if vote is not None:
            self._out += [PersistWal(vote), Broadcast(vote)]

    def _halt(self, reason: str) -> NoReturn:
        self._halted = reason
        raise ConsensusHalted(reason)

    # --- incoming messages ----------------------------------------------------------------

    def _on_vote(self, vote: Vote) -> None:
        if vote.height == self.height - 1:
            self._on_last_precommit(vote)
            return
        if vote.height != self.height or vote.round > self.round + MAX_ROUNDS_AHEAD:
            following = self._next_set(vote.height)
            if following is not None:
                check_vote(vote, self.chain_id, following)
                self._keep_ahead(vote.validator, vote)
            return
        found = self._votes.find(vote.round, vote.kind)
        if found is not None and vote in found:
            return
        self._check_vote(vote)
        if self._admit(vote.round, vote.validator):
            self._count_vote(vote)

    def _on_last_precommit(self, vote: Vote) -> None:
        """A late precommit of the height just decided, in its decision round: counted
        while the pause after the commit lasts (see `_upon_all_precommits_and_work`)."""
        last = self._last_precommits
        if (
            last is None
            or self.step is not Step.NEW_HEIGHT
            or vote.kind is not VoteKind.PRECOMMIT
            or vote.round != last[0]
            or vote in last[2]
        ):
            return
        check_vote(vote, self.chain_id, last[1])
        last[2].add(vote)

    def _check_vote(self, vote: Vote) -> None:
        check_vote(vote, self.chain_id, self.validators)

    def _count_vote(self, vote: Vote) -> None:
        outcome = self._votes.add(vote)
        if outcome is Added.CONFLICT:
            first = self._votes.get(vote.round, vote.kind).first_vote(vote.validator)
            assert first is not None
            self._out.append(ReportEvidence(DuplicateVote(first, vote)))
        if (
            outcome in (Added.NEW, Added.CONFLICT)
            and vote.kind is VoteKind.PRECOMMIT
            and vote.block_hash is not None
            and self._votes.get(vote.round, vote.kind).has_quorum_for(vote.block_hash)
            and (vote.round, vote.block_hash) not in self._decidable
        ):
            for _, other in self._decidable:
                if other != vote.block_hash:
                    self._halt(
                        f"two blocks have precommit quorums at height {self.height}: "
                        f"{other.hex()} and {vote.block_hash.hex()}"
                    )
            self._decidable.append((vote.round, vote.block_hash))

    def _on_proposal(self, proposal: Proposal) -> None:
        p = proposal
        if p.height != self.height or p.round > self.round + MAX_ROUNDS_AHEAD:
            following = self._next_set(p.height)
            if following is not None:
                check_proposal(p, self.chain_id, following, self.check_value)
                self._keep_ahead(p.proposer, p)
            return
        if p in self._proposals:
            return
        self._check_proposal(p)
        if self._admit(p.round, p.proposer):
            self._accept_proposal(p)

    def _check_proposal(self, p: Proposal) -> None:
        check_proposal(p, self.chain_id, self.validators, self.check_value)

    def _admit(self, round: int, signer: bytes) -> bool:
        """Whether the round window keeps a message of `signer` in `round`; drops the
        signer's proposals of a round it had to forget."""
        admitted, forgotten = self._votes.admit(round, signer)
        if forgotten is not None:
            self._proposals.forget_round(forgotten, keep=self.valid_value)
        return admitted

    def _accept_proposal(self, p: Proposal) -> None:
        first = self._proposals.first(p.round)
        outcome = self._proposals.add(p)
        if outcome is Added.NEW:
            self._votes.note_participant(p.round, p.proposer)
        elif outcome is Added.CONFLICT and first is not None:
            self._out.append(ReportEvidence(DuplicateProposal(first, p)))
        else:
            return  # the same block again (other pol round), or beyond what we keep
        self._request_validation(p.block)

    def _next_set(self, height: int) -> ValidatorSet | None:
        """The set of `height` if it is the next height and its set is known."""
        return self.validator_sets(height) if height == self.height + 1 else None

    def _keep_ahead(self, signer: bytes, message: Proposal | Vote) -> None:
        kept = self._ahead.setdefault(signer, [])
        if len(kept) < MAX_AHEAD_PER_SIGNER and message not in kept:
            kept.append(message)

    def _request_validation(self, block: BlockValue) -> None:
        if self._proposals.needs_verdict(block):
            self._out.append(ValidateBlock(self.height, block))

    def _on_commit(self, commit: Commit) -> None:
        certificate = commit.certificate
        if certificate.height == self.height - 1:
            previous = self.validator_sets(certificate.height)
            if previous is not None and self.last_block_hash not in (None, certificate.block_hash):
                verify_certificate(certificate, previous, self.chain_id)
                self._halt(f"a valid certificate for another block at height {self.height - 1}")
            return
        if certificate.height != self.height:
            return
        if commit.block.hash != certificate.block_hash:
            raise InvalidMessage("commit block does not match its certificate")
        verify_certificate(certificate, self.validators, self.chain_id)
        if self.check_value is not None:
            self.check_value(commit.block)
        for vote in certificate.votes():
            if vote not in self._votes.get(vote.round, vote.kind):
                self._count_vote(vote)
        if self._proposals.certify(commit.block):
            self._request_validation(commit.block)

    def _on_timeout(self, timeout: Timeout) -> None:
        """OnTimeoutPropose, OnTimeoutPrevote, OnTimeoutPrecommit (lines 57-67)."""
        if timeout.height != self.height:
            return
        self._timeouts.pop((timeout.round, timeout.kind), None)
        if timeout.round != self.round:
            return
        if timeout.kind is TimeoutKind.PROPOSE and self.step is Step.PROPOSE:
            if self._checking_proposal():
                self._schedule(TimeoutKind.PROPOSE)
                return
            self._cast(VoteKind.PREVOTE, None)
            self.step = Step.PREVOTE
        elif timeout.kind is TimeoutKind.PREVOTE and self.step is Step.PREVOTE:
            self._cast(VoteKind.PRECOMMIT, None)
            self.step = Step.PRECOMMIT
        elif timeout.kind is TimeoutKind.PRECOMMIT:
            self._start_round(self.round + 1)
        elif timeout.kind is TimeoutKind.COMMIT and self.step is Step.NEW_HEIGHT:
            self._start_round(0)

    def _checking_proposal(self) -> bool:
        """Whether the round's proposal waits only for the application's verdict."""
        proposal = self._proposals.first(self.round)
        if proposal is None or self._proposals.verdict(proposal.block) is not None:
            return False
        if proposal.pol_round < 0:
            return True
        prevotes = self._votes.find(proposal.pol_round, VoteKind.PREVOTE)
        return prevotes is not None and prevotes.has_quorum_for(proposal.block.hash)

    def _on_block_prepared(self, height: int, round: int, block: BlockValue) -> None:
        """getValue() answered (line 18)."""
        if (
            (height, round) == (self.height, self.round)
            and self.step is Step.PROPOSE
            and round not in self._signer.proposals
            and self._signer.signs
            and self.address == self.validators.proposer(height, round)
        ):
            self._proposals.built(block)
            self._propose(block, -1)

    def _on_catch_up(self, peer: bytes, height: int, round: int) -> None:
        """The peer's round and ours with the proof-of-lock rounds their proposals cite;
        the precommits that ended our previous round: a peer rounds behind (after a
        partition, say) skips to that round with them and reaches ours after one
        precommit timeout instead of passing through every round in between (the
        proposer of our round may be that peer, and nobody else speaks in it before its
        propose timeout); and the proposal and prevotes that made our valid value, so
        that a peer which missed some of them can make it its own (see
        `_upon_earlier_polka`) and propose what we may be locked on."""
        if height != self.height:
            return
        rounds = {round, self.round}
        for r in sorted(rounds):
            rounds.update(p.pol_round for p in self._proposals.of_round(r))
        rounds.discard(-1)
        messages: list[ConsensusMessage] = []
        for r in sorted(rounds):
            messages += self._proposals.of_round(r)
            messages += self.votes(height, r, VoteKind.PREVOTE)
            messages += self.votes(height, r, VoteKind.PRECOMMIT)
        if self.round - 1 > round and self.round - 1 not in rounds:
            messages += self.votes(height, self.round - 1, VoteKind.PRECOMMIT)
        valid = self.valid_value
        if valid is not None and self.valid_round not in rounds:
            proposal = self._proposals.get(self.valid_round, valid.hash)
            messages += [proposal] if proposal is not None else []
            prevotes = self._votes.find(self.valid_round, VoteKind.PREVOTE)
            messages += prevotes.votes_for(valid.hash) if prevotes is not None else ()
        self._out += [SendTo(peer, m) for m in messages]

    # --- the upon rules -------------------------------------------------------------------

    def _advance(self) -> None:
        while (
            self._upon_proposal_in_pause()
            or self._upon_own_votes_before_decision()
            or self._upon_decision()
            or self._upon_all_precommits_and_work()
            or self._upon_round_skip()
            or self._upon_proposal_in_propose()
            or self._upon_prevotes_any()
            or self._upon_proposal_and_prevotes()
            or self._upon_earlier_polka()
            or self._upon_nil_prevotes()
            or self._upon_precommits_any()
        ):
            pass

    def _upon_proposal_in_pause(self) -> bool:
        """A proposal of round 0 ends the pause after a commit (module docstring)."""
        if self.step is not Step.NEW_HEIGHT or self._proposals.first(0) is None:
            return False
        self._end_pause()
        return True

    def _upon_own_votes_before_decision(self) -> bool:
        """When the current round is decidable, its prevote and precommit rules (lines
        22-43) fire before the decision (the paper leaves the order of enabled rules
        open): a validator that was slow to check the block still signs its precommit,
        so that the others see the whole set's and may end the pause early."""
        if all(round != self.round for round, _ in self._decidable):
            return False
        return self._upon_proposal_in_propose() or self._upon_proposal_and_prevotes()

    def _upon_decision(self) -> bool:
        """Lines 49-54: a proposal of round r and 2f+1 precommits for it in r: decide."""
        for round, block_hash in self._decidable:
            proposals = self._proposals
            for block in (proposals.block(round, block_hash), proposals.certified(block_hash)):
                if block is None:
                    continue
                valid = self._proposals.verdict(block)
                if valid is None:
                    self._request_validation(block)
                elif valid:
                    self._decide(round, block)
                    return True
        return False

    def _decide(self, round: int, block: BlockValue) -> None:
        precommits = self._votes.get(round, VoteKind.PRECOMMIT)
        certificate = certificate_from_votes(precommits.votes_for(block.hash))
        self._out.append(CommitBlock(self.height, block, certificate))
        self.last_block_hash = block.hash
        ahead = [m for kept in self._ahead.values() for m in kept]
        self._ahead = {}
        decided_by = self.validators
        self._enter_height(self.height + 1)
        self._last_precommits = (round, decided_by, precommits)
        if self.timeouts.commit_ms > 0:
            self._schedule(TimeoutKind.COMMIT)
        else:
            self._start_round(0)
        for message in ahead:
            if isinstance(message, Vote):
                if self._admit(message.round, message.validator):
                    self._count_vote(message)
            elif self._admit(message.round, message.proposer):
                self._accept_proposal(message)

    def _upon_all_precommits_and_work(self) -> bool:
        """The pause after a commit ends early: every validator's precommit of the
        decision round is in and transactions wait for this height (module docstring)."""
        last = self._last_precommits
        if (
            self.step is not Step.NEW_HEIGHT
            or not self._transactions_waiting
            or last is None
            or not last[2].has_all()
        ):
            return False
        self._end_pause()
        return True

    def _end_pause(self) -> None:
        """Start round 0 before the commit timeout fires, and drop that timeout."""
        self._timeouts.pop((0, TimeoutKind.COMMIT), None)
        self._start_round(0)

    def _upon_round_skip(self) -> bool:
        """Lines 55-56: f+1 messages of a higher round: start that round."""
        target = self._votes.skip_target(self.round)
        if target is None:
            return False
        self._start_round(target)
        return True

    def _upon_proposal_in_propose(self) -> bool:
        """Lines 22-27 (no proof of lock) and 28-33 (with one from round vr)."""
        proposal = self._proposals.first(self.round)
        if self.step is not Step.PROPOSE or proposal is None:
            return False
        v, vr = proposal.block, proposal.pol_round
        if vr >= 0:
            prevotes = self._votes.find(vr, VoteKind.PREVOTE)
            if prevotes is None or not prevotes.has_quorum_for(v.hash):
                return False
        valid = self._proposals.verdict(v)
        if valid is None:
            return False
        unlocked = self.locked_round <= vr if vr >= 0 else self.locked_round == -1
        good = valid and (unlocked or self.locked_value == v.hash)
        self._cast(VoteKind.PREVOTE, v.hash if good else None)
        self.step = Step.PREVOTE
        return True

    def _upon_prevotes_any(self) -> bool:
        """Lines 34-35: 2f+1 prevotes for anything, the first time: timeoutPrevote."""
        if self.step is not Step.PREVOTE or self.round in self._prevote_timeout_rounds:
            return False
        prevotes = self._votes.find(self.round, VoteKind.PREVOTE)
        if prevotes is None or not prevotes.has_quorum_any():
            return False
        self._prevote_timeout_rounds.add(self.round)
        self._schedule(TimeoutKind.PREVOTE)
        return True

    def _upon_proposal_and_prevotes(self) -> bool:
        """Lines 36-43: a valid proposal and 2f+1 prevotes for it, the first time: lock
        and precommit it if still prevoting; it becomes the valid value either way."""
        if self.step < Step.PREVOTE or self.round in self._lock_rounds:
            return False
        block = self._polka_block()
        if block is None:
            return False
        self._lock_rounds.add(self.round)
        if self.step is Step.PREVOTE:
            self.locked_value, self.locked_round = block.hash, self.round
            self._cast(VoteKind.PRECOMMIT, block.hash)
            self.step = Step.PRECOMMIT
        self.valid_value, self.valid_round = block, self.round
        return True

    def _upon_earlier_polka(self) -> bool:
        """A valid proposal of an earlier round r > validRound with 2f+1 prevotes for it
        in r, seen only now (its last prevotes came late): it becomes the valid value.
        Lines 36-43 do this only in the current round; doing it for a finished round
        changes no vote (what a proposer proposes is its free choice, receivers check
        the polka) and lets this node re-propose the value that a validator which
        lagged behind locked on in r, the only one it will prevote for."""
        for round in self._proposals.rounds():
            if round >= self.round:
                continue
            if round <= self.valid_round:
                return False
            prevotes = self._votes.find(round, VoteKind.PREVOTE)
            for block_hash in prevotes.quorums if prevotes is not None else ():
                block = self._proposals.block(round, block_hash) if block_hash else None
                if block is not None and self._proposals.verdict(block):
                    self.valid_value, self.valid_round = block, round
                    return True
        return False

    def _polka_block(self) -> BlockValue | None:
        """A valid block proposed in this round with 2f+1 prevotes in it, if any."""
        prevotes = self._votes.find(self.round, VoteKind.PREVOTE)
        for block_hash in prevotes.quorums if prevotes is not None else ():
            block = self._proposals.block(self.round, block_hash) if block_hash else None
            if block is not None and self._proposals.verdict(block):
                return block
        return None

    def _upon_nil_prevotes(self) -> bool:
        """Lines 44-46: 2f+1 nil prevotes while prevoting: precommit nil."""
        if self.step is not Step.PREVOTE:
            return False
        prevotes = self._votes.find(self.round, VoteKind.PREVOTE)
        if prevotes is None or not prevotes.has_quorum_for(None):
            return False
        self._cast(VoteKind.PRECOMMIT, None)
        self.step = Step.PRECOMMIT
        return True

    def _upon_precommits_any(self) -> bool:
        """Lines 47-48: 2f+1 precommits for anything, the first time: timeoutPrecommit."""
        if self.round in self._precommit_timeout_rounds or self.step is Step.NEW_HEIGHT:
            return False
        precommits = self._votes.find(self.round, VoteKind.PRECOMMIT)
        if precommits is None or not precommits.has_quorum_any():
            return False
        self._precommit_timeout_rounds.add(self.round)
        self._schedule(TimeoutKind.PRECOMMIT)
        return True
