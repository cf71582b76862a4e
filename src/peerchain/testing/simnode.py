"""A simulated node: the real consensus machine and a KV application on a KVDisk, wired to
a SimClock and SimNetwork the way the node runtime wires them to the real world.

It carries out the machine's outputs in order (WAL append before the broadcast that
follows it, own messages fed back, application calls answered as events), keeps the
catch-up gossip going (a node that committed nothing for a gossip interval broadcasts a
`Status`; a peer answers a lower height with up to `SYNC_BATCH` stored `Commit`s, which
the node applies in height order, and its own height with `CatchUpRequested`), and can
crash and restart from its disk.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from peerchain.core.consensus.certificate import Commit
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
    ValidateBlock,
    VoteReceived,
)
from peerchain.core.consensus.machine import ConsensusMachine
from peerchain.core.consensus.messages import InvalidMessage, Proposal, Vote
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.consensus.votes import Evidence
from peerchain.core.consensus.wal import decode_wal, encode_wal_record
from peerchain.core.errors import ConsensusHalted
from peerchain.core.genesis import ConsensusTimeouts
from peerchain.testing.byzantine import ByzantinePlan
from peerchain.testing.clock import SimClock
from peerchain.testing.kvstore import KVApplication, KVDisk
from peerchain.testing.network import SimNetwork


@dataclass(frozen=True, slots=True)
class Status:
    """Gossip: the sender is at (height, round) and has not committed for a while."""

    height: int
    round: int


@dataclass(slots=True)
class SimContext:
    """What the nodes of one cluster share."""

    clock: SimClock
    network: SimNetwork
    validators: ValidatorSet
    timeouts: ConsensusTimeouts
    chain_id: int
    addresses: list[bytes]
    index_of: dict[bytes, int]
    proposed: dict[bytes, Proposal]
    first_proposal_at: dict[int, float]
    rng: random.Random
    on_proposer_crash: Callable[[SimNode], None]
    gossip_interval: float = 1.0


SYNC_BATCH = 16


class _Crashed(Exception):
    """Raised inside output processing to stop the node where a crash hits."""


class SimNode:
    """One validator of a simulated cluster."""

    def __init__(
        self,
        index: int,
        key: bytes,
        address: bytes,
        context: SimContext,
        plan: ByzantinePlan | None = None,
    ) -> None:
        self.index = index
        self.key = key
        self.address = address
        self.chain_id = context.chain_id
        self.context = context
        self.plan = plan
        self.disk = KVDisk()
        self.machine: ConsensusMachine | None = None
        self.app: KVApplication | None = None
        self.evidence: list[Evidence] = []
        self.halted: str | None = None
        self.invalid_messages = 0
        self.commit_times: list[float] = []
        self.restarts = 0
        self.torn_bytes_dropped = 0
        self.crash_after_proposal: tuple[int, int] | None = None  # (height, peers reached)
        self._synced: dict[int, Commit] = {}
        self._epoch = 0
        self._last_mark = -1
        self._peers = [i for i in range(len(context.addresses)) if i != index]

    @property
    def alive(self) -> bool:
        return self.machine is not None

    @property
    def height(self) -> int:
        """The last committed height."""
        return len(self.disk.chain)

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start, or restart from the disk: WAL (torn tail dropped) and chain."""
        ctx = self.context
        wal = decode_wal(bytes(self.disk.wal))
        if wal.discarded:
            self.torn_bytes_dropped += wal.discarded
            del self.disk.wal[wal.valid_length :]
        self.app = KVApplication(self.disk, self.address)
        self.machine = ConsensusMachine(
            chain_id=ctx.chain_id,
            validators=ctx.validators,
            timeouts=ctx.timeouts,
            height=self.height + 1,
            private_key=self.key,
            wal=wal.records,
            last_block_hash=self.disk.chain[-1][0].hash if self.disk.chain else None,
        )
        self._epoch += 1
        self._last_mark = -1
        self._run(Started())
        ctx.clock.call_later(ctx.gossip_interval, self._tick, self._epoch)

    def crash(self, torn: bool) -> None:
        """Stop now; with `torn`, leave half a record at the end of the WAL."""
        if self.machine is None:
            return
        self.machine = None
        self.app = None
        self._epoch += 1
        if torn:  # a record being appended when the power went: cut anywhere
            rng = self.context.rng
            claimed = rng.randint(1, 300)
            frame = claimed.to_bytes(4, "big") + rng.randbytes(4 + claimed)
            self.disk.wal += frame[: rng.randint(1, len(frame) - 1)]

    # --- inputs -----------------------------------------------------------------------

    def receive(self, src: int, message: object) -> None:
        """A message from node `src` arrived."""
        if self.machine is None:
            return
        if isinstance(message, Status):
            self._on_status(src, message)
        elif isinstance(message, Proposal):
            self._run(ProposalReceived(message))
        elif isinstance(message, Vote):
            self._run(VoteReceived(message))
        elif isinstance(message, Commit):
            self._synced[message.certificate.height] = message
            while self.machine is not None and self.machine.height in self._synced:
                self._run(CommitReceived(self._synced.pop(self.machine.height)))

    def _on_timer(self, epoch: int, timeout: Timeout) -> None:
        if epoch == self._epoch and self.machine is not None:
            self._run(TimeoutFired(timeout))

    def _tick(self, epoch: int) -> None:
        if epoch != self._epoch or self.machine is None:
            return
        ctx = self.context
        if self.height == self._last_mark:
            status = Status(self.machine.height, self.machine.round)
            for peer in self._peers:
                self._send(peer, status)
        self._last_mark = self.height
        ctx.clock.call_later(ctx.gossip_interval, self._tick, epoch)

    def _on_status(self, src: int, status: Status) -> None:
        if status.height <= self.height:
            for block, certificate in self.disk.chain[status.height - 1 :][:SYNC_BATCH]:
                self._send(src, Commit(block, certificate))
        elif status.height == self.height + 1:
            peer = self.context.addresses[src]
            self._run(CatchUpRequested(peer, status.height, status.round))

    # --- running the machine ------------------------------------------------------------

    def _run(self, first: Event) -> None:
        """Feed `first` and every event its outputs cause here, in order."""
        queue: deque[Event] = deque([first])
        try:
            while queue and self.machine is not None:
                outputs = self.machine.handle(queue.popleft(), self.context.clock.now)
                for output in outputs:
                    self._carry_out(output, queue)
        except InvalidMessage:
            self.invalid_messages += 1
        except ConsensusHalted as exc:
            self.halted = str(exc)
            self.machine = None
            self._epoch += 1
        except _Crashed:
            self.crash(torn=False)
            self.context.on_proposer_crash(self)

    def _carry_out(self, output: Output, queue: deque[Event]) -> None:
        ctx = self.context
        app = self.app
        assert app is not None
        match output:
            case PersistWal(record):
                self.disk.wal += encode_wal_record(record)
            case Broadcast(message):
                self._broadcast(message)
                queue.append(
                    ProposalReceived(message)
                    if isinstance(message, Proposal)
                    else VoteReceived(message)
                )
            case SendTo(peer, message):
                self._send(ctx.index_of[peer], message)
            case ScheduleTimeout(timeout):
                ctx.clock.call_at(timeout.deadline, self._on_timer, self._epoch, timeout)
            case PrepareBlock(height, round):
                queue.append(BlockPrepared(height, round, app.prepare_proposal(height, round)))
            case ValidateBlock(height, block):
                queue.append(ProposalValidated(height, block, app.validate_proposal(height, block)))
            case CommitBlock(height, block, certificate):
                app.commit(height, block, certificate)
                self.commit_times.append(ctx.clock.now)
            case ReportEvidence(evidence):
                self.evidence.append(evidence)

    def _broadcast(self, message: Proposal | Vote) -> None:
        outgoing: Sequence[tuple[int, Proposal | Vote]]
        if self.plan is not None:
            outgoing = self.plan.rewrite(self, message, self._peers)
        else:
            outgoing = [(peer, message) for peer in self._peers]
        crash = self.crash_after_proposal
        if crash is not None and isinstance(message, Proposal) and message.height == crash[0]:
            self.crash_after_proposal = None
            for peer, m in outgoing[: crash[1]]:
                self._send(peer, m)
            raise _Crashed
        for peer, m in outgoing:
            self._send(peer, m)

    def _send(self, peer: int, message: object) -> None:
        if isinstance(message, Proposal):
            self.context.proposed.setdefault(message.block.hash, message)
            self.context.first_proposal_at.setdefault(message.height, self.context.clock.now)
        self.context.network.send(self.index, peer, message)
