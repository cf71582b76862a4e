"""What this validator signs in the height being decided: each proposal and vote once.

The machine emits every own message as `PersistWal` before its `Broadcast`. A signer
restored from those WAL records (`restore`) holds the votes and proposal they show and
refuses to sign a different vote for a (round, kind) it has signed (`ConsensusHalted`).
Without the WAL the last-signed record (`signguard`) still holds: its vote is restored
as if from the WAL, its round is where the machine resumes, and nothing that conflicts
with it or goes back behind it is signed (`refused` counts what was skipped).
"""

from __future__ import annotations

from collections.abc import Iterable

from peerchain.core.consensus.messages import (
    BlockValue,
    Proposal,
    Vote,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from peerchain.core.consensus.signguard import LastSigned, SignStep, last_signed_of, sign_conflict
from peerchain.core.consensus.wal import WalRecord
from peerchain.core.crypto import private_key_to_address
from peerchain.core.errors import ConsensusHalted


class HeightSigner:
    """Own messages of one validator (none without `private_key`), height by height."""

    def __init__(
        self, chain_id: int, private_key: bytes | None, last_signed: LastSigned | None
    ) -> None:
        self.chain_id = chain_id
        self.address = private_key_to_address(private_key) if private_key else None
        self._private_key = private_key
        self._key: bytes | None = None
        self.last_signed = last_signed if private_key is not None else None
        self.refused = 0
        self.height = 0
        self.votes: dict[tuple[int, VoteKind], Vote] = {}
        self.proposals: dict[int, Proposal] = {}

    @property
    def signs(self) -> bool:
        """Whether this validator signs at the current height (its set holds the key)."""
        return self._key is not None

    def enter_height(self, height: int, in_set: bool) -> None:
        """A new height; `in_set`: the height's validator set holds this key."""
        self.height = height
        self._key = self._private_key if in_set else None
        self.votes = {}
        self.proposals = {}

    def restore(self, records: Iterable[WalRecord]) -> int | None:
        """Take back the own messages of the current height from the WAL, and the
        last-signed vote if the WAL lost it; return the round to resume in (None: nothing
        was signed in this height). Raises ConsensusHalted for a record that is not this
        validator's or two conflicting votes."""
        records = self._with_last_signed([r for r in records if r.height == self.height])
        for record in records:
            signer = record.proposer if isinstance(record, Proposal) else record.validator
            if signer != self.address or self._key is None:
                raise ConsensusHalted("the WAL holds messages of another validator")
            if isinstance(record, Proposal):
                self.proposals[record.round] = record
                continue
            prior = self.votes.get((record.round, record.kind))
            if prior is not None and prior.block_hash != record.block_hash:
                raise ConsensusHalted(f"the WAL holds conflicting own votes: {prior} and {record}")
            self.votes[(record.round, record.kind)] = record
        last = self.last_signed
        rounds = [r.round for r in records]
        if last is not None and last.height == self.height:
            rounds.append(last.round)  # a proposal the WAL lost: resume in its round
        return max(rounds) if rounds else None

    def _with_last_signed(self, records: list[WalRecord]) -> list[WalRecord]:
        last = self.last_signed
        if last is None or last.height != self.height or self.address is None:
            return records
        vote = last.as_vote(self.address)
        if vote is not None and not any(
            isinstance(r, Vote) and (r.round, r.kind) == (vote.round, vote.kind) for r in records
        ):
            records = [*records, vote]
        return records

    def lock(self) -> Vote | None:
        """The own non-nil precommit of the highest round, if any (what it is locked on)."""
        locks = [
            v
            for (_, kind), v in self.votes.items()
            if kind is VoteKind.PRECOMMIT and v.block_hash is not None
        ]
        return max(locks, key=lambda v: v.round) if locks else None

    def propose(self, round: int, pol_round: int, block: BlockValue) -> Proposal | None:
        """Sign the proposal of `round`, unless the last-signed record forbids it."""
        assert self._key is not None
        if not self._may_sign(round, SignStep.PROPOSAL, block.hash, pol_round):
            return None
        proposal = sign_proposal(
            self._key, self.chain_id, self.height, round, pol_round, block,
            proposer=self.address,
        )  # fmt: skip
        self.proposals[round] = proposal
        self.last_signed = last_signed_of(proposal)
        return proposal

    def vote(self, round: int, kind: VoteKind, block_hash: bytes | None) -> Vote | None:
        """Sign this validator's vote of (round, kind), the first time it is asked; None
        if it already did or may not sign. Raises ConsensusHalted if asked for a vote
        that differs from the one it signed."""
        if self._key is None:
            return None
        prior = self.votes.get((round, kind))
        if prior is not None:
            if prior.block_hash != block_hash:
                raise ConsensusHalted(f"asked to sign {kind.name} {block_hash!r} after {prior}")
            return None
        step = SignStep.PREVOTE if kind is VoteKind.PREVOTE else SignStep.PRECOMMIT
        if not self._may_sign(round, step, block_hash):
            return None
        vote = sign_vote(
            self._key, self.chain_id, kind, self.height, round, block_hash,
            validator=self.address,
        )  # fmt: skip
        self.votes[(round, kind)] = vote
        self.last_signed = last_signed_of(vote)
        return vote

    def _may_sign(
        self, round: int, step: SignStep, block_hash: bytes | None, pol_round: int = -1
    ) -> bool:
        """Whether the last-signed record allows signing this."""
        candidate = LastSigned(self.height, round, step, block_hash, pol_round, b"")
        if sign_conflict(self.last_signed, candidate) is None:
            return True
        self.refused += 1
        return False
