"""A simulated node: the node's real consensus policy (`core.consensus.reactor.Reactor`,
which the network node drives too) with a KV application (its chain, state and WAL bytes
on a `KVDisk`, what survives a crash), on in-memory twins of the node's ports
(`MemoryWal`, `MemorySigner`, `SimNetwork` as the transport) and a SimClock. The twin of
the chain store port itself, for the EVM ledger, is `testing.memstore.MemoryChainStore`.

It carries out the reactor's commands the way `node.validator.ConsensusNode` does (WAL
append before the broadcast that follows it, application answers fed back as events
after the current commands, commits sent to peers that are behind, block sync), tells
its peers its height when it commits (and every `status_interval`, as a reconnect's
Hello would), ticks the reactor every `tick_interval`, and can crash and restart from
its disk.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from peerchain.core.consensus.certificate import Commit, verify_certificate
from peerchain.core.consensus.events import (
    BlockPrepared,
    Broadcast,
    CommitBlock,
    Event,
    PersistWal,
    PrepareBlock,
    ProposalValidated,
    ReportEvidence,
    ScheduleTimeout,
    SendTo,
    Timeout,
    TimeoutFired,
    TransactionsWaiting,
    ValidateBlock,
)
from peerchain.core.consensus.evidence import evidence_record
from peerchain.core.consensus.machine import ConsensusMachine
from peerchain.core.consensus.messages import BlockValue, InvalidMessage, Proposal, Vote
from peerchain.core.consensus.reactor import Command, Penalize, Reactor, SendCommit, StartSync
from peerchain.core.consensus.signguard import LastSigned, last_signed_of
from peerchain.core.consensus.validators import SetHistory, ValidatorSet
from peerchain.core.consensus.votes import Evidence
from peerchain.core.consensus.wal import WalCorrupted, WalRecord
from peerchain.core.crypto import keccak256
from peerchain.core.errors import ConsensusHalted
from peerchain.core.genesis import ConsensusTimeouts
from peerchain.testing.byzantine import ByzantinePlan
from peerchain.testing.clock import SimClock
from peerchain.testing.kvstore import KVApplication, KVDisk
from peerchain.testing.memwal import MemorySigner, MemoryWal, WalDamage
from peerchain.testing.network import SimNetwork


@dataclass(frozen=True, slots=True)
class Status:
    """The sender's committed height (the network's Hello and Status)."""

    height: int


@dataclass(frozen=True, slots=True)
class GetCommits:
    """Block sync: the blocks from `start` on, with their certificates."""

    start: int


@dataclass(frozen=True, slots=True)
class Commits:
    """Answer to GetCommits (up to SYNC_BATCH, maybe none)."""

    start: int
    commits: tuple[Commit, ...]


@dataclass(slots=True)
class SimContext:
    """What the nodes of one cluster share; `validators` is the genesis set and
    `planned` the validator set changes proposers put in the block of a height."""

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
    tick_interval: float = 0.5
    status_interval: float = 2.0
    sync_timeout: float = 1.0
    planned: Mapping[int, Sequence[tuple[bytes, int]]] = field(default_factory=dict)
    jail: bool = False  # proposers remove double signers they saw from the set
    # The chance, per node and height, that transactions wait for the next block: the
    # node says so (TransactionsWaiting) at the commit or at a seeded moment of the pause.
    transactions_waiting: float = 0.0
    # The longest a proposal's check takes (virtual seconds, seeded per check; 0: at once).
    check_time: float = 0.0


SYNC_BATCH = 16


def check_kv_value(block: BlockValue) -> None:
    """The KV application's binding of bytes to hash: the hash is keccak of the bytes."""
    if keccak256(block.data) != block.hash:
        raise InvalidMessage("block bytes do not hash to the block hash")


class _Crashed(Exception):
    """Raised inside command processing to stop the node where a crash hits."""


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
        self.disk = KVDisk(sets=SetHistory(context.validators))
        self.wal = MemoryWal(self.disk.wal)
        self.signer = MemorySigner()
        self.keep_last_signed = True  # False: a node without its last-signed record
        self.wal_refusals = 0  # starts that found the WAL damaged (then moved it aside)
        # Restarts in an undecided height whose last signature the WAL no longer held.
        self.restarts_beyond_wal = 0
        self.reactor = Reactor(
            chain_id=context.chain_id,
            validators=self.disk.sets.at,
            timeouts=context.timeouts,
            check_value=check_kv_value,
            private_key=key,
        )
        self.app: KVApplication | None = None
        self.evidence: list[Evidence] = []
        self.halted: str | None = None
        self.invalid_messages = 0
        self.commits_sent = 0
        self.commit_times: list[float] = []
        self.restarts = 0
        self.crash_after_proposal: tuple[int, int] | None = None  # (height, peers reached)
        self._alive = False
        self._epoch = 0
        self._sync_epoch = 0
        self._peer_heights: dict[int, int] = {}
        self._peers = [i for i in range(len(context.addresses)) if i != index]

    @property
    def alive(self) -> bool:
        return self._alive

    @property
    def machine(self) -> ConsensusMachine | None:
        return self.reactor.machine if self._alive else None

    @property
    def syncing(self) -> bool:
        return self.reactor.syncing

    @property
    def height(self) -> int:
        """The last committed height."""
        return len(self.disk.chain)

    @property
    def torn_bytes_dropped(self) -> int:
        return self.wal.torn_bytes_dropped

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start, or restart from the disk: WAL (torn tail dropped), last-signed record and
        chain. A WAL damaged in the middle is refused and moved aside, as an operator
        would: the last-signed record still keeps the node from signing twice."""
        ctx = self.context
        self.app = KVApplication(self.disk, self.address, ctx.planned)
        self._alive = True
        self._epoch += 1
        self.reactor.syncing = False
        try:
            records = self.wal.records()
        except WalCorrupted:
            self.wal_refusals += 1
            self.wal.data.clear()
            records = []
        last = self._last_signed()
        at_height = last is not None and last.height == self.height + 1
        if at_height and all(last_signed_of(r) != last for r in records):
            self.restarts_beyond_wal += 1
        self._announce()
        self._run(
            self.reactor.start(self.height + 1, self._head_hash(), records, ctx.clock.now, last)
        )
        ctx.clock.call_later(ctx.tick_interval, self._tick, self._epoch, ctx.clock.now)

    def crash(self, torn: bool, damage: WalDamage | None = None) -> None:
        """Stop now; with `torn`, leave half a record at the end of the WAL; `damage`
        deletes the WAL, cuts it or flips a byte of its first record."""
        if not self._alive:
            return
        self._alive = False
        self.app = None
        self._epoch += 1
        if torn:
            self.wal.tear(self.context.rng)
        if damage is not None:
            self.wal.damage(damage, self.context.rng)

    def _last_signed(self) -> LastSigned | None:
        return self.signer.last if self.keep_last_signed else None

    def _head_hash(self) -> bytes | None:
        return self.disk.chain[-1][0].hash if self.disk.chain else None

    # --- inputs -----------------------------------------------------------------------

    def receive(self, src: int, message: object) -> None:
        """A message from node `src` arrived."""
        if not self._alive:
            return
        now = self.context.clock.now
        peer = self.context.addresses[src]
        if isinstance(message, Status):
            self._peer_heights[src] = message.height
            self._run(self.reactor.on_peer_height(peer, message.height, now))
        elif isinstance(message, GetCommits):
            chain = self.disk.chain[message.start - 1 :][:SYNC_BATCH]
            self._send(src, Commits(message.start, tuple(Commit(b, c) for b, c in chain)))
        elif isinstance(message, Commits):
            self._on_commits(message)
        elif isinstance(message, Proposal | Vote | Commit):
            self._run(self.reactor.on_message(peer, message, now))

    def _on_timer(self, epoch: int, timeout: Timeout) -> None:
        if epoch == self._epoch and self._alive:
            self._run(self.reactor.on_local(TimeoutFired(timeout), self.context.clock.now))

    def _plan_transactions(self, height: int) -> None:
        """Transactions for `height` arrive (or not) at a seeded moment of the pause."""
        ctx = self.context
        if not ctx.transactions_waiting or ctx.rng.random() >= ctx.transactions_waiting:
            return
        pause = ctx.timeouts.commit_ms / 1000
        delay = ctx.rng.choice((0.0, ctx.rng.uniform(0.0, pause)))
        ctx.clock.call_later(delay, self._on_transactions, self._epoch, height)

    def _on_verdict(self, epoch: int, verdict: ProposalValidated) -> None:
        if epoch == self._epoch and self._alive:
            self._run(self.reactor.on_local(verdict, self.context.clock.now))

    def _on_transactions(self, epoch: int, height: int) -> None:
        if epoch == self._epoch and self._alive and self.reactor.awaits_transactions:
            now = self.context.clock.now
            self._run(self.reactor.on_local(TransactionsWaiting(height), now))

    def _tick(self, epoch: int, announced: float) -> None:
        if epoch != self._epoch or not self._alive:
            return
        ctx = self.context
        if ctx.clock.now - announced >= ctx.status_interval:
            self._announce()
            announced = ctx.clock.now
        peers = [ctx.addresses[i] for i in self._peers]
        self._run(self.reactor.tick(peers, ctx.clock.now))
        ctx.clock.call_later(ctx.tick_interval, self._tick, epoch, announced)

    def _announce(self) -> None:
        for peer in self._peers:
            self._send(peer, Status(self.height))

    # --- carrying out commands ----------------------------------------------------------

    def _run(self, commands: list[Command]) -> None:
        """Carry out `commands`, then feed the application's answers they produced."""
        answers: deque[Event] = deque()
        try:
            while self._alive:
                for command in commands:
                    self._carry_out(command, answers)
                if not answers:
                    break
                commands = self.reactor.on_local(answers.popleft(), self.context.clock.now)
        except _Crashed:
            self.crash(torn=False)
            self.context.on_proposer_crash(self)
        except ConsensusHalted as exc:  # the signer refused a record
            self.reactor.halted = str(exc)
        if self.reactor.halted is not None and self.halted is None:
            self.halted = self.reactor.halted
            self._alive = False
            self._epoch += 1

    def _carry_out(self, command: Command, answers: deque[Event]) -> None:
        ctx = self.context
        app = self.app
        assert app is not None
        match command:
            case PersistWal(record):
                self._save_signed(record)
                self.wal.append(record)
            case Broadcast(message):
                self._broadcast(message)
            case SendTo(peer, message):
                self._send(ctx.index_of[peer], message)
            case ScheduleTimeout(timeout):
                ctx.clock.call_at(timeout.deadline, self._on_timer, self._epoch, timeout)
            case PrepareBlock(height, round):
                answers.append(BlockPrepared(height, round, app.prepare_proposal(height, round)))
            case ValidateBlock(height, block):
                verdict = ProposalValidated(height, block, app.validate_proposal(height, block))
                if ctx.check_time:
                    delay = ctx.rng.uniform(0.0, ctx.check_time)
                    ctx.clock.call_later(delay, self._on_verdict, self._epoch, verdict)
                else:
                    answers.append(verdict)
            case CommitBlock(height, block, certificate):
                app.commit(height, block, certificate)
                self.commit_times.append(ctx.clock.now)
                self._announce()
                self._plan_transactions(height + 1)
            case ReportEvidence(evidence):
                self.evidence.append(evidence)
                if ctx.jail:
                    app.offenders.append(evidence_record(evidence, self.height).validator)
            case SendCommit(peer, height):
                if 1 <= height <= self.height:
                    self.commits_sent += 1
                    self._send(ctx.index_of[peer], Commit(*self.disk.chain[height - 1]))
            case StartSync():
                self._ask_commits()
            case Penalize():
                self.invalid_messages += 1

    def _save_signed(self, record: WalRecord) -> None:
        if self.keep_last_signed:
            self.signer.save(record)

    # --- block sync -------------------------------------------------------------------

    def _ask_commits(self) -> None:
        """Ask the peer announcing the highest height for the blocks after ours; give up
        (and let the reactor go on) if no answer comes within `sync_timeout`."""
        ctx = self.context
        ahead = [p for p in self._peers if self._peer_heights.get(p, 0) > self.height]
        self._sync_epoch += 1
        if not ahead:
            self._finish_sync()
            return
        best = max(ahead, key=lambda p: (self._peer_heights[p], -p))
        self._send(best, GetCommits(self.height + 1))
        ctx.clock.call_later(ctx.sync_timeout, self._sync_expired, self._epoch, self._sync_epoch)

    def _sync_expired(self, epoch: int, sync_epoch: int) -> None:
        if epoch == self._epoch and sync_epoch == self._sync_epoch and self.reactor.syncing:
            self._finish_sync()

    def _on_commits(self, answer: Commits) -> None:
        if not self.reactor.syncing or answer.start != self.height + 1:
            return
        app = self.app
        assert app is not None
        applied = 0
        for commit in answer.commits:
            height, certificate = self.height + 1, commit.certificate
            validators = self.disk.sets.at(height)
            try:
                if validators is None or certificate.block_hash != commit.block.hash:
                    break
                if certificate.height != height:
                    break
                verify_certificate(certificate, validators, self.chain_id)
                check_kv_value(commit.block)
            except InvalidMessage:
                break
            if not app.validate_proposal(height, commit.block):
                break
            app.commit(height, commit.block, certificate)
            self.commit_times.append(self.context.clock.now)
            applied += 1
        if applied == SYNC_BATCH:
            self._ask_commits()
        else:
            self._finish_sync()

    def _finish_sync(self) -> None:
        self._sync_epoch += 1
        self._announce()
        now = self.context.clock.now
        wal = self.wal.records()
        last = self._last_signed()
        self._run(self.reactor.sync_finished(self.height + 1, self._head_hash(), wal, now, last))

    # --- sending ----------------------------------------------------------------------

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
