"""A network node: the consensus machine, the peer-to-peer network and the chain, wired.

`ConsensusNode` feeds network messages and timer expiries into the Tendermint machine one
at a time, carries out its outputs in order (WAL append and fsync before a message leaves,
timers, block building, validation and commit through `ChainApplication`), gossips
transactions, serves blocks to peers, and catches up by block sync when peers report
heights above its own. Consensus gossip is relayed only once its signatures check out
(`check_authentic`); consensus that stalls resends its round's messages to every peer.
It is a `NodeView` for JSON-RPC; a node without a validator key follows the chain as an
observer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from peerchain.core.blocks import Block
from peerchain.core.consensus.certificate import Commit, CommitCertificate
from peerchain.core.consensus.checks import check_authentic
from peerchain.core.consensus.events import BlockPrepared as BlockPreparedEvent
from peerchain.core.consensus.events import (
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
    TimeoutFired,
    ValidateBlock,
    VoteReceived,
)
from peerchain.core.consensus.machine import ConsensusMachine
from peerchain.core.consensus.messages import (
    InvalidMessage,
    Proposal,
    Vote,
)
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.consensus.votes import Evidence
from peerchain.core.consensus.wire import ConsensusMessage, decode_message, encode_message
from peerchain.core.crypto import private_key_to_address
from peerchain.core.errors import ConsensusHalted, DecodeError, InvalidTransaction
from peerchain.core.genesis import ZERO_ADDRESS, ConsensusTimeouts
from peerchain.core.mempool import Mempool
from peerchain.core.p2p.messages import Channel
from peerchain.core.p2p.scoring import Offence
from peerchain.core.transactions import Transaction, decode_transaction
from peerchain.node.chainapp import ChainApplication
from peerchain.node.chainview import ChainView
from peerchain.node.events import EventHub
from peerchain.node.ledger import Ledger
from peerchain.node.network import Network
from peerchain.node.ports import Clock, ConsensusWal
from peerchain.node.view import ConsensusState, PeerInfo, SyncStatus

log = logging.getLogger("peerchain.consensus")

# A peer is sent catch-up material for one (height, round) at most this often (seconds).
CATCH_UP_INTERVAL = 1.0
# Peers must report a height this far above ours before we leave consensus to sync.
SYNC_LAG = 2
# Consensus events kept while a block sync runs.
HELD_EVENTS = 10_000
# The share of the propose timeout a proposer may spend executing its block: a bigger block
# arrives after the others' timeout and the round is lost (measured in benchmarks/devnet_load).
BUILD_SHARE = 0.8
# Consensus that has not moved (height, round, step) for this long resends the proposal
# and votes of its round to every peer, which answers with what it has (seconds).
STALL_INTERVAL = 2.0


class ConsensusNode(ChainView):
    """A validator (with `private_key`) or observer on a BFT network. Implements NodeView."""

    def __init__(
        self,
        ledger: Ledger,
        clock: Clock,
        network: Network,
        wal: ConsensusWal,
        validators: ValidatorSet,
        timeouts: ConsensusTimeouts,
        private_key: bytes | None = None,
    ) -> None:
        super().__init__(ledger, Mempool(chain_id=ledger.chain_id), EventHub())
        self.clock = clock
        self.network = network
        self.wal = wal
        self.validators = validators
        self.timeouts = timeouts
        self._key = private_key
        self.address = private_key_to_address(private_key) if private_key else None
        self.app = ChainApplication(
            ledger,
            self.mempool,
            validators,
            clock,
            coinbase=self.address or ZERO_ADDRESS,
            on_commit=self._on_commit,
            build_budget=timeouts.propose_ms / 1000 * BUILD_SHARE,
        )
        self.machine = self._new_machine()
        self.evidence: list[Evidence] = []
        self._queue: asyncio.Queue[tuple[bytes | None, Event]] = asyncio.Queue()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sync_task: asyncio.Task[None] | None = None
        self._held: deque[tuple[bytes | None, Event]] = deque(maxlen=HELD_EVENTS)
        self._sync_status: SyncStatus | None = None
        self._catch_up_sent: dict[tuple[bytes, int, int], float] = {}
        self._checked_tx: Transaction | None = None
        self._position = (0, 0, 0)
        self._moved_at = 0.0
        self.on_sync_progress: Callable[[int, int], None] | None = None

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Join the network, catch up with peers, then run consensus until `stop`."""
        self.network.on_message(self._on_network_message)
        self.network.on_height(self._on_peer_height)
        self.network.set_validator(Channel.CONSENSUS, self._is_authentic)
        self.network.set_validator(Channel.BLOCKS, self._is_authentic)
        self.network.set_validator(Channel.TRANSACTIONS, self._decodes_as_transaction)
        self.network.set_block_source(self._block_source)
        self.network.update_height(self.ledger.head.number)
        await self.network.start()
        self._spawn(self._run())
        self._spawn(self._watch_progress())
        self._queue.put_nowait((None, Started()))

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.network.stop()
        self.wal.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _new_machine(self) -> ConsensusMachine:
        head = self.ledger.head
        self.wal.prune(head.number + 1)
        return ConsensusMachine(
            chain_id=self.ledger.chain_id,
            validators=self.validators,
            timeouts=self.timeouts,
            height=head.number + 1,
            private_key=self._key,
            wal=self.wal.records(),
            last_block_hash=head.hash,
        )

    # --- the event loop -------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            peer, event = await self._queue.get()
            if self._sync_task is not None:
                # Consensus waits while block sync runs; what arrives meanwhile is kept
                # (bounded) for the case that the sync brings no new block.
                self._held.append((peer, event))
                continue
            try:
                self._handle(peer, event)
            except Exception:
                # An output that could not be carried out (a failed WAL write, a build
                # error) was cut short before anything after it left; the loop must live
                # on, and timeouts or a block sync bring the node back in step.
                log.exception("consensus could not carry out %s", type(event).__name__)

    def _handle(self, peer: bytes | None, event: Event) -> None:
        if self.machine.halted is not None:
            return
        try:
            outputs = self.machine.handle(event, self.clock.now())
        except InvalidMessage as exc:
            if peer is not None:
                log.info("invalid consensus message from %s: %s", peer.hex()[:12], exc)
                self.network.penalize(peer, Offence.INVALID_MESSAGE)
            return
        except ConsensusHalted as exc:
            log.critical("consensus halted, no more votes will be signed: %s", exc)
            return
        for output in outputs:
            self._carry_out(output)
        self._arm_timer()
        position = (self.machine.height, self.machine.round, int(self.machine.step))
        if position != self._position:
            self._position, self._moved_at = position, self.clock.now()

    async def _watch_progress(self) -> None:
        """Votes that a peer missed in the round both are in are never sent again by
        gossip (a restarted validator, a healed partition, a message dropped while a peer
        synced), and without them both may wait forever. When consensus has not moved for
        STALL_INTERVAL, send every peer the proposal and votes of our round; its answers
        (and its own catch-up) fill the gaps on both sides."""
        while True:
            await asyncio.sleep(STALL_INTERVAL / 2)
            now = self.clock.now()
            if self._sync_task is not None or now - self._moved_at < STALL_INTERVAL:
                continue
            self._moved_at = now
            height, round_ = self.machine.height, self.machine.round
            for peer in self.network.peer_ids():
                self._queue.put_nowait((None, CatchUpRequested(peer, height, round_)))

    def _carry_out(self, output: Output) -> None:
        match output:
            case PersistWal(record):
                self.wal.append(record)
            case Broadcast(message):
                self.network.broadcast(Channel.CONSENSUS, encode_message(message))
                self._queue.put_nowait((None, _received(message)))
            case SendTo(peer, message):
                self.network.send(peer, Channel.CONSENSUS, encode_message(message))
            case ScheduleTimeout():
                pass  # one timer follows machine.next_timeout(); see _arm_timer
            case PrepareBlock(height, round):
                value = self.app.prepare_proposal(height, round)
                self._queue.put_nowait((None, BlockPreparedEvent(height, round, value)))
            case ValidateBlock(height, block):
                valid = self.app.validate_proposal(height, block)
                self._queue.put_nowait((None, ProposalValidated(height, block, valid)))
            case CommitBlock(height, block, certificate):
                self.app.commit(height, block, certificate)
                self.wal.prune(height + 1)
                self.network.update_height(height)
                self.network.broadcast(Channel.BLOCKS, encode_message(Commit(block, certificate)))
            case ReportEvidence(evidence):
                log.warning("evidence of double signing: %s", evidence)
                self.evidence.append(evidence)

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        timeout = self.machine.next_timeout()
        if timeout is None:
            return
        delay = max(0.0, timeout.deadline - self.clock.now())
        self._timer = asyncio.get_running_loop().call_later(
            delay, self._queue.put_nowait, (None, TimeoutFired(timeout))
        )

    def _on_commit(self, block: Block) -> None:
        self.publish_block(block)
        log.info(
            "committed block %d (%d txs) 0x%s",
            block.number,
            len(block.transactions),
            block.hash.hex()[:16],
        )

    # --- network input --------------------------------------------------------------------
    def _on_network_message(self, peer: bytes, channel: Channel, payload: bytes) -> None:
        if channel == Channel.TRANSACTIONS:
            self._on_transaction(payload)
            return
        if channel not in (Channel.CONSENSUS, Channel.BLOCKS):
            return
        try:
            message = decode_message(payload)
        except DecodeError:
            self.network.penalize(peer, Offence.MALFORMED_FRAME)
            return
        if isinstance(message, Commit):
            self._on_commit_message(peer, message)
            return
        self._offer_catch_up(peer, message)
        self._queue.put_nowait((peer, _received(message)))

    def _on_commit_message(self, peer: bytes, commit: Commit) -> None:
        height = commit.certificate.height
        if height == self.machine.height:
            self._queue.put_nowait((peer, CommitReceived(commit)))
        elif height > self.machine.height:
            self._start_sync()

    def _offer_catch_up(self, peer: bytes, message: Proposal | Vote) -> None:
        """A peer showed where it is: if it is behind us, send it what it misses."""
        height, round_ = message.height, message.round
        if height > self.machine.height or (
            height == self.machine.height and round_ >= self.machine.round
        ):
            return
        now = self.clock.now()
        key = (peer, height, round_)
        if now - self._catch_up_sent.get(key, -CATCH_UP_INTERVAL) < CATCH_UP_INTERVAL:
            return
        if len(self._catch_up_sent) > 10_000:
            self._catch_up_sent.clear()
        self._catch_up_sent[key] = now
        if height == self.machine.height:
            self._queue.put_nowait((None, CatchUpRequested(peer, height, round_)))
            return
        commit = self._commit_of(height)
        if commit is not None:
            self.network.send(peer, Channel.BLOCKS, encode_message(commit))

    def _is_authentic(self, peer: bytes, payload: bytes) -> bool:
        """Gossip check before a consensus message is relayed: it decodes and is signed by
        whom it names. A message that fails is neither delivered nor forwarded, so an honest
        node never relays a forgery and is never blamed for one."""
        try:
            check_authentic(decode_message(payload), self.ledger.chain_id, self.validators)
        except (DecodeError, InvalidMessage) as exc:
            log.info("dropping consensus gossip from %s: %s", peer.hex()[:12], exc)
            return False
        return True

    def _on_transaction(self, raw: bytes) -> None:
        checked, self._checked_tx = self._checked_tx, None
        try:
            if checked is not None and checked.raw == raw:
                tx = self.admit(checked)  # decoded (sender recovered) by the relay check
            else:
                tx = self.admit_transaction(raw)
        except (InvalidTransaction, DecodeError):
            return  # known, stale or unaffordable here: not added to our pool
        log.debug("gossiped transaction 0x%s", tx.hash.hex())

    def _decodes_as_transaction(self, peer: bytes, payload: bytes) -> bool:
        """Gossip check before a transaction is relayed; the network delivers the same
        payload right after, so the decoded transaction is kept for `_on_transaction`."""
        try:
            self._checked_tx = decode_transaction(payload, self.ledger.chain_id)
        except (DecodeError, InvalidTransaction):
            self._checked_tx = None
            return False
        return True

    def send_raw_transaction(self, raw: bytes) -> bytes:
        tx = self.admit_transaction(raw)
        self.network.broadcast(Channel.TRANSACTIONS, tx.raw)
        return tx.hash

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

    def _on_peer_height(self, peer: bytes, height: int) -> None:
        if height >= self.ledger.head.number + SYNC_LAG:
            self._start_sync()

    def _start_sync(self) -> None:
        if self._sync_task is None:
            self._sync_task = asyncio.get_running_loop().create_task(self._sync())

    async def _sync(self) -> None:
        start = self.ledger.head.number
        target = max(self.network.peer_heights().values(), default=start)
        self._sync_status = SyncStatus(start, start, target)
        log.info("block sync from %d towards %d", start, target)
        try:
            reached = await self.network.sync(start, self._apply_synced)
            log.info("block sync reached %d", reached)
        except Exception:
            log.exception("block sync failed")
        finally:
            self._sync_status = None
            self._sync_task = None
            held, self._held = list(self._held), deque(maxlen=HELD_EVENTS)
            if self.ledger.head.number != start:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                self.machine = self._new_machine()
                self._queue.put_nowait((None, Started()))
            else:
                # Nothing new (peers claimed heights they could not serve): carry on with
                # the same machine and what arrived meanwhile.
                for item in held:
                    self._queue.put_nowait(item)
                self._arm_timer()

    async def _apply_synced(self, height: int, data: bytes) -> bool:
        try:
            message = decode_message(data)
        except DecodeError:
            return False
        if not isinstance(message, Commit):
            return False
        ok = self.app.apply_synced(height, message.block, message.certificate)
        if ok and self._sync_status is not None:
            target = max(self._sync_status.highest_block, height)
            self._sync_status = SyncStatus(self._sync_status.starting_block, height, target)
            if self.on_sync_progress is not None:
                self.on_sync_progress(height, target)
        await asyncio.sleep(0)  # let RPC and the network breathe between blocks
        return ok

    # --- NodeView -------------------------------------------------------------------------
    def peer_count(self) -> int:
        return self.network.peer_count()

    def syncing(self) -> SyncStatus | None:
        return self._sync_status

    def consensus_state(self) -> ConsensusState:
        machine = self.machine
        return ConsensusState(
            height=machine.height,
            round=machine.round,
            step=machine.step.name.lower(),
            locked_round=machine.locked_round,
            valid_round=machine.valid_round,
            proposer=self.validators.proposer(machine.height, machine.round),
            halted=machine.halted,
            syncing=self._sync_task is not None,
        )

    def commit_certificate(self, height: int) -> CommitCertificate | None:
        return self.app.certificate(height)

    def peers(self) -> list[PeerInfo]:
        return self.network.peers()

    def validator_powers(self) -> list[tuple[bytes, int]]:
        return [(v.address, v.power) for v in self.validators]

    def ban_peer(self, node_id: bytes, seconds: float | None) -> None:
        self.network.ban(node_id, seconds)


def _received(message: ConsensusMessage) -> Event:
    if isinstance(message, Proposal):
        return ProposalReceived(message)
    if isinstance(message, Vote):
        return VoteReceived(message)
    return CommitReceived(message)
