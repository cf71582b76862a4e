"""Vote bookkeeping of one height: tallies by voting power, round participation, evidence.

Votes are counted as the paper counts messages: a validator's power goes to each value
it voted for in a (round, kind), so an equivocating validator counts for both of its
values (at most `MAX_VALUES_PER_VALIDATOR` of them, to bound memory), and once towards
"any value". Conflicting votes of one validator become `DuplicateVote` evidence.

Memory is bounded by a window of rounds: every round up to the current one plus one is
kept (the current round only grows by this node's own timeouts or a round skip), and
above that each signer may hold messages in at most `MAX_AHEAD_ROUNDS` rounds. A signer
that moves on to a higher round loses its lowest one (unless a quorum was reached
there), so that the window follows honest validators that are ahead of us while a
Byzantine one that signs for thousands of future rounds occupies two of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from peerchain.core.consensus.messages import Proposal, Vote, VoteKind
from peerchain.core.consensus.validators import ValidatorSet

MAX_VALUES_PER_VALIDATOR = 2
MAX_AHEAD_ROUNDS = 2


@dataclass(frozen=True, slots=True)
class DuplicateVote:
    """Two votes by one validator for different values in the same height, round and kind."""

    first: Vote
    second: Vote


@dataclass(frozen=True, slots=True)
class DuplicateProposal:
    """Two proposals by one proposer for different blocks in the same height and round."""

    first: Proposal
    second: Proposal


Evidence = DuplicateVote | DuplicateProposal


class Added(Enum):
    """What `VoteSet.add` did with a vote."""

    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"  # counted, and it contradicts the validator's first vote
    DROPPED = "dropped"  # the validator already has its maximum of distinct values


class VoteSet:
    """The votes of one kind in one round of one height, tallied by voting power.

    The caller checks signatures and membership before `add`.
    """

    __slots__ = ("_by_validator", "_power_any", "_power_for", "_quorums", "_validators")

    def __init__(self, validators: ValidatorSet) -> None:
        self._validators = validators
        self._by_validator: dict[bytes, dict[bytes | None, Vote]] = {}
        self._power_for: dict[bytes | None, int] = {}
        self._power_any = 0
        self._quorums: list[bytes | None] = []

    def __contains__(self, vote: Vote) -> bool:
        """Whether this exact vote (same signature) is already counted."""
        return self._by_validator.get(vote.validator, {}).get(vote.block_hash) == vote

    def add(self, vote: Vote) -> Added:
        """Count `vote`; see `Added` for the outcomes."""
        values = self._by_validator.get(vote.validator)
        power = self._validators.power_of(vote.validator)
        if values is None:
            self._by_validator[vote.validator] = {vote.block_hash: vote}
            self._power_any += power
            outcome = Added.NEW
        elif vote.block_hash in values:
            return Added.DUPLICATE
        elif len(values) >= MAX_VALUES_PER_VALIDATOR:
            return Added.DROPPED
        else:
            values[vote.block_hash] = vote
            outcome = Added.CONFLICT
        before = self._power_for.get(vote.block_hash, 0)
        self._power_for[vote.block_hash] = before + power
        if not self._validators.is_quorum(before) and self._validators.is_quorum(before + power):
            self._quorums.append(vote.block_hash)
        return outcome

    def remove(self, validator: bytes) -> None:
        """Forget every vote of `validator` (its round left the window)."""
        values = self._by_validator.pop(validator, None)
        if values is None:
            return
        power = self._validators.power_of(validator)
        self._power_any -= power
        for block_hash in values:
            self._power_for[block_hash] -= power
            if not self._validators.is_quorum(self._power_for[block_hash]):
                with_quorum = [q for q in self._quorums if q != block_hash]
                self._quorums = with_quorum

    def __len__(self) -> int:
        return len(self._by_validator)

    def first_vote(self, validator: bytes) -> Vote | None:
        """The first vote counted from `validator`, if any."""
        values = self._by_validator.get(validator)
        return next(iter(values.values())) if values else None

    def power_for(self, block_hash: bytes | None) -> int:
        """Voting power of the votes for `block_hash` (None: nil)."""
        return self._power_for.get(block_hash, 0)

    def has_quorum_for(self, block_hash: bytes | None) -> bool:
        """More than 2/3 of the power voted for `block_hash` (the paper's 2f+1 <id(v)>)."""
        return self._validators.is_quorum(self._power_for.get(block_hash, 0))

    def has_quorum_any(self) -> bool:
        """More than 2/3 of the power voted, for anything (the paper's 2f+1 <*>)."""
        return self._validators.is_quorum(self._power_any)

    def has_all(self) -> bool:
        """Every validator of the set voted (for anything)."""
        return self._power_any == self._validators.total_power

    @property
    def quorums(self) -> tuple[bytes | None, ...]:
        """The values (None: nil) with more than 2/3 of the power, in the order reached."""
        return tuple(self._quorums)

    def votes(self) -> tuple[Vote, ...]:
        """Every vote counted, ordered by validator address."""
        return tuple(
            vote
            for validator in sorted(self._by_validator)
            for vote in self._by_validator[validator].values()
        )

    def votes_for(self, block_hash: bytes | None) -> tuple[Vote, ...]:
        """The votes for `block_hash`, ordered by validator address."""
        return tuple(
            values[block_hash]
            for validator, values in sorted(self._by_validator.items())
            if block_hash in values
        )


class HeightVotes:
    """All votes of one height by round and kind, and who took part in each round.

    Participation (any proposal or vote of a round) drives the paper's round skip: once
    more than 1/3 of the power has sent something for a round above ours, we join it.
    """

    __slots__ = (
        "_ahead",
        "_participants",
        "_participation",
        "_round",
        "_sets",
        "_skippable",
        "_validators",
    )

    def __init__(self, validators: ValidatorSet) -> None:
        self._validators = validators
        self._sets: dict[tuple[int, VoteKind], VoteSet] = {}
        self._participants: dict[int, set[bytes]] = {}
        self._participation: dict[int, int] = {}
        self._skippable: set[int] = set()
        self._round = 0
        self._ahead: dict[bytes, set[int]] = {}

    def set_round(self, round: int) -> None:
        """The machine is now in `round`: rounds up to `round + 1` are always kept."""
        self._round = round
        for signer, rounds in list(self._ahead.items()):
            rounds -= {r for r in rounds if r <= round + 1}
            if not rounds:
                del self._ahead[signer]

    def admit(self, round: int, signer: bytes) -> tuple[bool, int | None]:
        """Whether a message of `signer` in `round` fits the window, and which round of
        that signer was forgotten to make room for it (its messages of that round must be
        dropped by the caller too), if any."""
        if round <= self._round + 1:
            return True, None
        rounds = self._ahead.setdefault(signer, set())
        if round in rounds:
            return True, None
        if len(rounds) < MAX_AHEAD_ROUNDS:
            rounds.add(round)
            return True, None
        lowest = min(rounds)
        if round < lowest or self._has_quorum(lowest):
            return False, None
        self._forget(signer, lowest)
        rounds.discard(lowest)
        rounds.add(round)
        return True, lowest

    def _has_quorum(self, round: int) -> bool:
        return any(
            found.quorums
            for kind in VoteKind
            if (found := self._sets.get((round, kind))) is not None
        )

    def _forget(self, signer: bytes, round: int) -> None:
        for kind in VoteKind:
            found = self._sets.get((round, kind))
            if found is not None:
                found.remove(signer)
                if not len(found):
                    del self._sets[(round, kind)]
        members = self._participants.get(round)
        if members is not None and signer in members:
            members.discard(signer)
            power = self._participation[round] - self._validators.power_of(signer)
            self._participation[round] = power
            if not self._validators.is_one_third(power):
                self._skippable.discard(round)

    def get(self, round: int, kind: VoteKind) -> VoteSet:
        """The vote set of (round, kind), created empty on first use."""
        key = (round, kind)
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = VoteSet(self._validators)
        return found

    def find(self, round: int, kind: VoteKind) -> VoteSet | None:
        """The vote set of (round, kind) if any vote of it was counted."""
        return self._sets.get((round, kind))

    def add(self, vote: Vote) -> Added:
        """Count a checked vote and note its signer as taking part in its round."""
        outcome = self.get(vote.round, vote.kind).add(vote)
        if outcome is Added.NEW:
            self.note_participant(vote.round, vote.validator)
        return outcome

    def note_participant(self, round: int, validator: bytes) -> None:
        """Record that `validator` sent a message of `round`."""
        members = self._participants.setdefault(round, set())
        if validator in members:
            return
        members.add(validator)
        power = self._participation.get(round, 0) + self._validators.power_of(validator)
        self._participation[round] = power
        if self._validators.is_one_third(power):
            self._skippable.add(round)

    def skip_target(self, current_round: int) -> int | None:
        """The highest round above `current_round` with more than 1/3 participation."""
        ahead = [r for r in self._skippable if r > current_round]
        return max(ahead) if ahead else None
