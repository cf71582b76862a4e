"""What goes into the consensus machine (events, past tense) and what comes out
(outputs, imperative). Times are seconds on the node's clock, as `now` is."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from peerchain.core.consensus.certificate import Commit, CommitCertificate
from peerchain.core.consensus.messages import BlockValue, Proposal, Vote
from peerchain.core.consensus.votes import Evidence
from peerchain.core.consensus.wal import WalRecord
from peerchain.core.consensus.wire import ConsensusMessage


class TimeoutKind(IntEnum):
    """Which timeout: the paper's three, and the pause after a commit before round 0."""

    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3
    COMMIT = 4


@dataclass(frozen=True, slots=True, order=True)
class Timeout:
    """A timeout of (height, round) due at `deadline`."""

    deadline: float
    height: int
    round: int
    kind: TimeoutKind


# --- events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    """The node is up: begin (or, after a restart, resume) the current height."""


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    """A proposal arrived from the network, or this node's own one looped back."""

    proposal: Proposal


@dataclass(frozen=True, slots=True)
class VoteReceived:
    """A vote arrived from the network, or this node's own one looped back."""

    vote: Vote


@dataclass(frozen=True, slots=True)
class CommitReceived:
    """A peer sent a decided block with its certificate (catch-up)."""

    commit: Commit


@dataclass(frozen=True, slots=True)
class TimeoutFired:
    """A timeout announced by `ScheduleTimeout` (or `next_timeout()`) is due."""

    timeout: Timeout


@dataclass(frozen=True, slots=True)
class BlockPrepared:
    """The application's answer to `PrepareBlock`: a block it built and executed."""

    height: int
    round: int
    block: BlockValue


@dataclass(frozen=True, slots=True)
class ProposalValidated:
    """The application's answer to `ValidateBlock`: `block` executed (valid) or not."""

    height: int
    block: BlockValue
    valid: bool


@dataclass(frozen=True, slots=True)
class CatchUpRequested:
    """A peer is at (height, round), behind this node: send it what it needs."""

    peer: bytes
    height: int
    round: int


@dataclass(frozen=True, slots=True)
class TransactionsWaiting:
    """The node holds transactions for block `height` (sent once it knows, in the pause
    after the previous commit): the machine may end the pause early (see its docstring)."""

    height: int


Event = (
    Started
    | ProposalReceived
    | VoteReceived
    | CommitReceived
    | TimeoutFired
    | BlockPrepared
    | ProposalValidated
    | CatchUpRequested
    | TransactionsWaiting
)


# --- outputs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersistWal:
    """Append `record` to the WAL and make it durable before any later output runs."""

    record: WalRecord


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send to every validator, this node included: feed it back as ProposalReceived or
    VoteReceived (the machine does not count its own messages until they come back)."""

    message: Proposal | Vote


@dataclass(frozen=True, slots=True)
class SendTo:
    """Send to one peer (catch-up); the peer is the one named by `CatchUpRequested`."""

    peer: bytes
    message: ConsensusMessage


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Feed `TimeoutFired(timeout)` at `timeout.deadline`."""

    timeout: Timeout


@dataclass(frozen=True, slots=True)
class PrepareBlock:
    """Ask the application to build and execute a block; answer with `BlockPrepared`."""

    height: int
    round: int


@dataclass(frozen=True, slots=True)
class ValidateBlock:
    """Ask the application to execute a received block; answer with `ProposalValidated`."""

    height: int
    block: BlockValue


@dataclass(frozen=True, slots=True)
class CommitBlock:
    """`block` is decided at `height`: persist it with its certificate (application
    `commit`). The machine has already moved on to the next height."""

    height: int
    block: BlockValue
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    """A validator signed conflicting messages: keep the evidence and pass it on."""

    evidence: Evidence


Output = (
    PersistWal
    | Broadcast
    | SendTo
    | ScheduleTimeout
    | PrepareBlock
    | ValidateBlock
    | CommitBlock
    | ReportEvidence
)
