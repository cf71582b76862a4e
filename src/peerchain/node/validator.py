"""A network node: the consensus reactor, the peer-to-peer network and the chain, wired.

`ConsensusNode` is the asyncio shell of `core.consensus.reactor.Reactor`, the policy it
shares with the simulator: it feeds the reactor network messages (from a bounded inbox,
a bounded share per peer), timer expiries and application answers one at a time, and
carries out its commands in order (WAL append and fsync before a message leaves,
timers, commits sent to peers that are behind, block sync). Block building, validation
and commit go to `ChainApplication`, whose executor thread runs them while consensus goes
on: their answers come back as events, and a block is persisted while consensus on the
next height begins. Consensus gossip is relayed only after the
reactor's check (authentic, block body of the signed hash, height h or h+1);
transactions only once the mempool admitted them. In the pause after a commit it tells
the reactor when transactions wait for the next block (`TransactionsWaiting`), so that
a busy chain does not idle; every check of a proposal is answered, since consensus
waits for the verdict. It is a `NodeView` for JSON-RPC; a node without a validator key
follows the chain as an observer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from peerchain.core.consensus.certificate import Commit, CommitCertificate
from peerchain.core.consensus.events import BlockPrepared as BlockPreparedEvent
from peerchain.core.consensus.events import (
    Broadcast,
    CommitBlock,
    Event,
    PersistWal,
    PrepareBlock,
    ProposalValidated,
    ReportEvidence,
    ScheduleTimeout,
    SendTo,
    TimeoutFired,
    TransactionsWaiting,
    ValidateBlock,
)
from peerchain.core.consensus.evidence import EvidenceRecord
from peerchain.core.consensus.machine import ConsensusMachine
from peerchain.core.consensus.messages import BlockValue, InvalidMessage
from peerchain.core.consensus.reactor import (
    Command,
    Penalize,
    Reactor,
    SendCommit,
    StartSync,
)
from peerchain.core.consensus.signguard import LastSigned
from peerchain.core.consensus.wire import ConsensusMessage, decode_message, encode_message
from peerchain.core.crypto import private_key_to_address
from peerchain.core.errors import DecodeError, InvalidTransaction, PeerChainError
from peerchain.core.faults import LocalFault, LocalFaultError
from peerchain.core.genesis import ZERO_ADDRESS, ConsensusTimeouts
from peerchain.core.governance import OpenProposal
from peerchain.core.mempool import Mempool
from peerchain.core.p2p.gossip import Relay
from peerchain.core.p2p.messages import Channel
from peerchain.core.p2p.scoring import Offence
from peerchain.core.transactions import decode_transaction
from peerchain.execution.engine import ExecutedBlock
from peerchain.node.blocksync import sync_blocks
from peerchain.node.chainapp import ChainApplication, highest_possible
from peerchain.node.chainview import ChainView
from peerchain.node.events import EventHub
from peerchain.node.evidence import EvidencePool
from peerchain.node.evidencereport import EvidenceReporter
from peerchain.node.executor import BlockExecutor
from peerchain.node.ledger import Ledger
from peerchain.node.metrics import NodeMetrics, NodeSample
from peerchain.node.network import Network, PeerEvent
from peerchain.node.ports import Clock, ConsensusWal, SignerState
from peerchain.node.queries import QueryRunner
from peerchain.node.validatorsets import ChainValidatorSets, read_open_proposals
from peerchain.node.view import ConsensusState, NodeHealth, PeerInfo, SyncStatus

T = TypeVar("T")
log = logging.getLogger("peerchain.consensus")

# The share of the propose timeout a proposer may spend executing its block: a bigger block
# arrives after the others' timeout and the round is lost (measured in benchmarks/devnet_load).
BUILD_SHARE = 0.8
# How often the reactor's tick runs (stall resend, commits to peers behind), seconds.
TICK_INTERVAL = 0.5
# Peer messages waiting for the reactor, in all and from any one peer; more are dropped.
INBOX_MESSAGES = 20_000
INBOX_PER_PEER = 2_000
# Events handled before the loop lets the network and RPC run.
BATCH = 64


class ConsensusNode(ChainView):
    """A validator (with `private_key`) or observer on a BFT network. Implements NodeView."""

    def __init__(
        self,
        ledger: Ledger,
        clock: Clock,
        network: Network,
        wal: ConsensusWal,
        timeouts: ConsensusTimeouts,
        private_key: bytes | None = None,
        signer: SignerState | None = None,
        metrics: NodeMetrics | None = None,
        queries: QueryRunner | None = None,
    ) -> None:
        super().__init__(ledger, Mempool(chain_id=ledger.chain_id), EventHub(), metrics, queries)
        self.clock = clock
        self.network = network
        self.wal = wal
        self.validator_sets = ChainValidatorSets()
        self.timeouts = timeouts
        self.signer = signer
        self.address = private_key_to_address(private_key) if private_key else None
        self.app = ChainApplication(
            ledger,
            self.mempool,
            self.validator_sets,
            clock,
            coinbase=self.address or ZERO_ADDRESS,
            on_commit=self._on_commit,
            executor=BlockExecutor(ledger.engine, ledger.store),
            build_budget=timeouts.propose_ms / 1000 * BUILD_SHARE,
        )
        self.reactor = Reactor(
            chain_id=ledger.chain_id,
            validators=self.validator_sets,
            timeouts=timeouts,
            check_value=self.app.check_value,
            private_key=private_key,
        )
        self.evidence_pool = EvidencePool(ledger.store)
        self.reporter = EvidenceReporter(private_key, ledger.chain_id) if private_key else None
        self._local: deque[Event] = deque()
        self._inbox: deque[tuple[bytes, ConsensusMessage]] = deque()
        self._inbox_counts: dict[bytes, int] = {}
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sync_task: asyncio.Task[None] | None = None
        self._sync_status: SyncStatus | None = None
        self._checked: tuple[bytes, ConsensusMessage] | None = None
        self._halt_logged = False
        self._told_waiting = 0  # the height TransactionsWaiting was last posted for
        self.on_sync_progress: Callable[[int, int], None] | None = None
        self.ledger.faults.on_fault(self._on_fault)

    @property
    def machine(self) -> ConsensusMachine:
        """The consensus machine of the height being decided."""
        assert self.reactor.machine is not None, "start() the node first"
        return self.reactor.machine

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Join the network, catch up with peers, then run consensus until `stop`."""
        self.network.on_message(self._on_network_message)
        self.network.on_height(self._on_peer_height)
        self.network.on_peer(self._on_peer_event)
        self.network.set_validator(Channel.CONSENSUS, self._check_consensus_gossip)
        self.network.set_validator(Channel.TRANSACTIONS, self._admit_gossiped_transaction)
        self.network.set_block_source(self._block_source)
        self.network.update_height(self.ledger.head.number)
        await self.app.start()
        await self.network.start()
        self._execute(
            self.reactor.start(*self._resume_point(), self.clock.now(), self._last_signed())
        )
        self._wake.set()
        self._spawn(self._run())
        self._spawn(self._tick())

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.app.settled()
        await asyncio.to_thread(self.app.executor.close)
        await self.network.stop()
        self.wal.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _last_signed(self) -> LastSigned | None:
        return self.signer.last if self.signer is not None else None

    def _resume_point(self) -> tuple[int, bytes, list[Any]]:
        """Where consensus resumes: the height after our head, with the WAL's records."""
        head = self.ledger.head
        self.wal.prune(head.number + 1)
        return head.number + 1, head.hash, list(self.wal.records())

    def _on_fault(self, fault: LocalFault) -> None:
        """Fail-stop: a local fault ends signing, block making and block sync at once;
        JSON-RPC keeps answering what is not damaged and reports the fault."""
        log.critical("%s", fault.line())
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- the event loop -------------------------------------------------------------------
    def _post(self, event: Event) -> None:
        self._local.append(event)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.ledger.faults.current is not None:  # stopped: nothing is handled
                self._local.clear()
                self._inbox.clear()
                self._inbox_counts.clear()
                continue
            for _ in range(BATCH):
                if self._local:
                    commands = self.reactor.on_local(self._local.popleft(), self.clock.now())
                elif self._inbox:
                    peer, message = self._inbox.popleft()
                    self._inbox_counts[peer] -= 1
                    if not self._inbox_counts[peer]:
                        del self._inbox_counts[peer]
                    commands = self.reactor.on_message(peer, message, self.clock.now())
                else:
                    break
                self._execute(commands)
            if self._local or self._inbox:
                self._wake.set()
            self._arm_timer()
            await asyncio.sleep(0)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            self._execute(self.reactor.tick(self.network.peer_ids(), self.clock.now()))

    def _execute(self, commands: list[Command]) -> None:
        if self.ledger.faults.current is not None:
            return
        try:
            for command in commands:
                self._carry_out(command)
        except LocalFaultError as exc:
            self.ledger.faults.report(exc.fault)  # our own fault: stop, say so
        except Exception:
            # A command that could not be carried out (a failed WAL write, a build error)
            # was cut short before anything after it left; the loop must live on, and
            # timeouts or a block sync bring the node back in step.
            log.exception("consensus could not carry out %s", type(command).__name__)
        if self.reactor.halted is not None and not self._halt_logged:
            self._halt_logged = True
            log.critical("consensus halted, no more votes will be signed: %s", self.reactor.halted)

    def _carry_out(self, command: Command) -> None:
        match command:
            case PersistWal(record):
                if self.signer is not None:
                    self.signer.save(record)  # refuses a conflicting message
                self.wal.append(record)
            case Broadcast(message):
                self.network.broadcast(Channel.CONSENSUS, encode_message(message))
            case SendTo(peer, message):
                self.network.send(peer, Channel.CONSENSUS, encode_message(message))
            case ScheduleTimeout():
                pass  # one timer follows the machine's next_timeout(); see _arm_timer
            case PrepareBlock(height, round):
                self._spawn(self._prepare(height, round))
            case ValidateBlock(height, block):
                self._spawn(self._validate(height, block))
            case CommitBlock(height, block, certificate):
                self._spawn(self._commit(height, self.app.commit(height, block, certificate)))
            case ReportEvidence(evidence):
                kept = self.evidence_pool.report(evidence, self.reactor.height)
                if kept is not None:
                    self._report(kept)
            case SendCommit(peer, height):
                commit = self._commit_of(height)
                if commit is not None:
                    self.network.send(peer, Channel.BLOCKS, encode_message(commit))
            case StartSync(target):
                self._sync_task = asyncio.get_running_loop().create_task(self._sync(target))
            case Penalize(peer, reason):
                log.info("invalid consensus message from %s: %s", peer.hex()[:12], reason)
                self.network.penalize(peer, Offence.INVALID_MESSAGE)

    def _report(self, record: EvidenceRecord) -> None:
        """Send new evidence to the governance contract (validators only)."""
        if self.reporter is None:
            return
        nonce = self.mempool.pending_nonce(
            self.reporter.address, self.ledger.account_state(self.reporter.address).nonce
        )
        tx = self.reporter.report(record, nonce, self.next_base_fee())
        if tx is None:
            return
        try:
            self.admit(tx)
        except InvalidTransaction as exc:
            log.warning("could not report double signing on chain: %s", exc)
            return
        self.network.broadcast(Channel.TRANSACTIONS, tx.raw)
        log.warning("reported double signing on chain in transaction 0x%s", tx.hash.hex())

    # --- execution (on the executor; answers come back as events) ---------------------------
    async def _prepare(self, height: int, round: int) -> None:
        value = await self._answer(
            self.app.prepare_proposal(height, round), f"build block {height} round {round}"
        )
        if value is not None:
            self._post(BlockPreparedEvent(height, round, value))

    async def _validate(self, height: int, block: BlockValue) -> None:
        """Every check is answered (consensus waits for the verdict): one that could not
        be made counts as invalid, unless a local fault stopped the node."""
        valid = await self._answer(self.app.validate_proposal(height, block), f"check {height}")
        if self.ledger.faults.current is None:
            self._post(ProposalValidated(height, block, bool(valid)))

    async def _commit(self, height: int, persisted: asyncio.Task[None]) -> None:
        if await self._answer(_done(persisted), f"persist block {height}"):
            self.wal.prune(height + 1)
            self.network.update_height(height)
            self._tell_transactions_waiting()

    def _tell_transactions_waiting(self) -> None:
        """In the pause after a commit, once that commit is stored: tell consensus when
        the mempool holds executable transactions for the next block, so that it may
        start the height early (reactor `awaits_transactions`). Block timestamps are
        whole seconds, each above its parent's: a chain faster than a block a second
        runs ahead of the clock (and validators refuse blocks more than
        MAX_CLOCK_DRIFT seconds ahead of theirs), so the next block starts early only
        while it would be dated at most a second ahead of our clock. Asked again when a
        transaction arrives (else the commit timeout starts the height): a block that
        starts as one arrives carries it at once, and under a steady stream the chain
        keeps in step with the arrivals, not with the seconds of the clock."""
        height = self.reactor.height
        head = self.ledger.head
        if (
            self._told_waiting == height
            or not self.reactor.awaits_transactions
            or head.number != height - 1
            or not self.mempool.has_executable(self.next_base_fee())
        ):
            return
        if head.timestamp > self.clock.now():
            return
        self._told_waiting = height
        self._post(TransactionsWaiting(height))

    async def _answer(self, work: Awaitable[T], what: str) -> T | None:
        """The application's answer, or None when it failed: a local fault stops the
        node (`_on_fault`); anything else is logged, and timeouts or a block sync bring
        the node back in step."""
        try:
            return await work
        except LocalFaultError as exc:
            self.ledger.faults.report(exc.fault)  # our own fault: stop, say so
        except Exception:
            log.exception("could not %s", what)
        return None

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        timeout = self.reactor.next_timeout()
        if timeout is None:
            return
        delay = max(0.0, timeout.deadline - self.clock.now())
        self._timer = asyncio.get_running_loop().call_later(
            delay, self._post, TimeoutFired(timeout)
        )

    def _on_commit(self, executed: ExecutedBlock) -> None:
        block = executed.block
        self.publish_block(block)
        self._measure_certificate(block.number - 1)  # its canonical one is in this block
        log.info(
            "committed block %d (%d txs) 0x%s",
            block.number,
            len(block.transactions),
            block.hash.hex()[:16],
        )

    def _measure_certificate(self, number: int) -> None:
        """Metrics: the rounds and missing signatures of block `number`'s certificate."""
        certificate = self.app.certificate(number) if number >= 1 else None
        if certificate is None:
            return
        try:
            signers = self.validator_sets(number)
        except PeerChainError:
            return  # a local fault, reported where consensus needs the set
        if signers is not None:
            self.metrics.certificate_final(certificate, (v.address for v in signers))

    # --- network input --------------------------------------------------------------------
    def _on_network_message(self, peer: bytes, channel: Channel, payload: bytes) -> None:
        if channel not in (Channel.CONSENSUS, Channel.BLOCKS):
            return
        checked, self._checked = self._checked, None
        if checked is not None and checked[0] == payload:
            message = checked[1]  # decoded by the relay check just before
        else:
            try:
                message = decode_message(payload)
            except DecodeError:
                self.network.penalize(peer, Offence.MALFORMED_FRAME)
                return
        count = self._inbox_counts.get(peer, 0)
        if count >= INBOX_PER_PEER or len(self._inbox) >= INBOX_MESSAGES:
            return
        self._inbox_counts[peer] = count + 1
        self._inbox.append((peer, message))
        self._wake.set()

    def _check_consensus_gossip(self, peer: bytes, payload: bytes) -> Relay:
        """Gossip check before a consensus message is delivered or relayed; a message that
        fails is neither, so an honest node never relays a forgery nor is blamed for one."""
        try:
            message = decode_message(payload)
        except DecodeError as exc:
            log.info("dropping consensus gossip from %s: %s", peer.hex()[:12], exc)
            return Relay.REJECT
        verdict = self.reactor.check_gossip(message)
        if verdict is Relay.REJECT:
            log.info("dropping forged consensus gossip from %s", peer.hex()[:12])
        else:
            self._checked = (payload, message)
        return verdict

    def _admit_gossiped_transaction(self, peer: bytes, raw: bytes) -> Relay:
        """A gossiped transaction is relayed only once our mempool admitted it."""
        try:
            tx = decode_transaction(raw, self.ledger.chain_id)
        except (DecodeError, InvalidTransaction):
            return Relay.REJECT  # undecodable, or signed wrongly: the sender's fault
        try:
            self.admit(tx)
        except InvalidTransaction:
            return Relay.DROP  # known, stale or unaffordable here: not ours to pass on
        log.debug("gossiped transaction 0x%s", tx.hash.hex())
        self._tell_transactions_waiting()
        return Relay.RELAY

    def send_raw_transaction(self, raw: bytes) -> bytes:
        tx = self.admit_transaction(raw)
        self.journal_local(tx)
        self.network.broadcast(Channel.TRANSACTIONS, tx.raw)
        self._tell_transactions_waiting()
        return tx.hash

    def _on_peer_height(self, peer: bytes, height: int) -> None:
        self._execute(self.reactor.on_peer_height(peer, height, self.clock.now()))

    def _on_peer_event(self, peer: bytes, event: PeerEvent) -> None:
        if event is not PeerEvent.CONNECTED:
            self.reactor.on_peer_gone(peer)
            return
        for raw in self.local_transactions():  # journaled before a restart, say
            self.network.send(peer, Channel.TRANSACTIONS, raw)

    # --- blocks for peers and block sync --------------------------------------------------
    def _commit_of(self, height: int) -> Commit | None:
        value = self.app.value_of(height)
        certificate = self.app.certificate(height)
        if value is None or certificate is None:
            return None
        return Commit(value, certificate)

    def _block_source(self, start: int, count: int) -> list[bytes]:
        found = []
        for height in range(start, min(start + count, self.ledger.head.number + 1)):
            commit = self._commit_of(height)
            if commit is None:
                break
            found.append(encode_message(commit))
        return found

    async def _sync(self, target: int) -> None:
        await self.app.settled()
        start = self.ledger.head.number
        self._sync_status = SyncStatus(start, start, max(start, target))
        log.info("block sync from %d towards %d", start, target)
        try:
            reached = await sync_blocks(self.network, self.clock, start, self._apply_synced)
            log.info("block sync reached %d", reached)
        except LocalFaultError as exc:
            self.ledger.faults.report(exc.fault)  # our fault: no peer is blamed
        except Exception:
            log.exception("block sync failed")
        finally:
            self._sync_status = None
            self._sync_task = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            commands = self.reactor.sync_finished(
                *self._resume_point(), self.clock.now(), self._last_signed()
            )
            self._execute(commands)
            self._arm_timer()
            self._wake.set()

    async def _apply_synced(self, height: int, data: bytes) -> bool:
        try:
            message = decode_message(data)
        except DecodeError:
            return False
        if not isinstance(message, Commit):
            return False
        try:
            self.app.check_value(message.block)
        except InvalidMessage:
            return False
        ok = await self.app.apply_synced(height, message.block, message.certificate)
        if ok and self._sync_status is not None:
            target = max(self._sync_status.highest_block, height)
            self._sync_status = SyncStatus(self._sync_status.starting_block, height, target)
            if self.on_sync_progress is not None:
                self.on_sync_progress(height, target)
        return ok

    # --- NodeView -------------------------------------------------------------------------
    def peer_count(self) -> int:
        return self.network.peer_count()

    def syncing(self) -> SyncStatus | None:
        return self._sync_status

    def health(self) -> NodeHealth:
        head = self.ledger.head.number
        sync = self._sync_status
        # Heights peers announce, bounded by what a real chain can have reached by now.
        limit = highest_possible(head, self.ledger.head.timestamp, self.clock.now())
        claims = [*self.network.peer_heights().values()]
        claims += [sync.highest_block] if sync is not None else []
        best = max([head, *(claim for claim in claims if claim <= limit)])
        halted = self.reactor.halted
        halt = f"consensus halted: {halted}" if halted is not None else None
        fault = self.fault_line() or halt
        return NodeHealth(head, best, self.peer_count(), self._sync_task is not None, fault, True)

    def metrics_sample(self) -> NodeSample:
        health = self.health()
        config = self.network.config
        machine = self.reactor.machine
        try:
            current = self.validator_sets(machine.height) if machine is not None else None
        except PeerChainError:
            current = None
        return NodeSample(
            height=health.block_number,
            best_known=health.highest_block,
            peers=health.peers,
            peer_limit=config.max_inbound + config.max_outbound,
            mempool_size=len(self.mempool),
            fault=health.fault is not None,
            consensus_height=machine.height if machine is not None else None,
            consensus_round=machine.round if machine is not None else None,
            validators=len(current) if current is not None else None,
            evidence=len(self.evidence()),
            banned_peers=len(self.network.scores.banned(self.clock.now())),
        )

    def consensus_state(self) -> ConsensusState:
        machine = self.machine
        fault = self.ledger.faults.current
        return ConsensusState(
            height=machine.height,
            round=machine.round,
            step=machine.step.name.lower(),
            locked_round=machine.locked_round,
            valid_round=machine.valid_round,
            proposer=machine.validators.proposer(machine.height, machine.round),
            halted=machine.halted or (fault.line() if fault is not None else None),
            syncing=self.reactor.syncing,
            fault=fault,
        )

    def commit_certificate(self, height: int) -> CommitCertificate | None:
        return self.app.certificate(height)

    def peers(self) -> list[PeerInfo]:
        return self.network.peers()

    async def validator_powers(self, height: int | None = None) -> list[tuple[bytes, int]]:
        height = self.machine.height if height is None else height
        found = await self.validator_sets.lookup(height, self.queries.run)
        return [] if found is None else [(v.address, v.power) for v in found]

    async def open_proposals(self, number: int | None = None) -> list[OpenProposal]:
        number = self.ledger.head.number if number is None else number
        return await self.queries.run(read_open_proposals, number)

    def evidence(self) -> list[EvidenceRecord]:
        return self.evidence_pool.records()

    def ban_peer(self, node_id: bytes, seconds: float | None) -> None:
        self.network.ban(node_id, seconds)


async def _done(task: asyncio.Task[None]) -> bool:
    await task
    return True
