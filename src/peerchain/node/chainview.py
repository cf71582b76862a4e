"""The chain-reading half of `NodeView`, shared by every kind of node.

`ChainView` answers blocks, transactions, receipts, logs, state and fee queries from
a `Ledger`, a mempool and an event hub. Calls, gas estimates, access lists, logs, proofs
and traces are heavy queries: they run where `queries` runs them (worker processes in a
node process), under its limits. Node kinds (dev, validator) extend it with how
transactions are admitted and blocks are made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from peerchain import __version__
from peerchain.core.blocks import Block, Header, Log, Receipt, TxLocation
from peerchain.core.errors import DecodeError, InvalidTransaction, PeerChainError
from peerchain.core.fees import next_base_fee, reward_percentiles
from peerchain.core.mempool import Mempool
from peerchain.core.simulate import PlannedBlock, SimulatedBlock, SimulateOptions
from peerchain.core.transactions import Transaction, decode_transaction
from peerchain.execution.engine import ExecutionEngine
from peerchain.execution.tracing.console import Printed, printing
from peerchain.node.events import EventHub
from peerchain.node.ledger import Ledger, block_logs, find_logs, matching_logs
from peerchain.node.metrics import NodeMetrics, NodeSample
from peerchain.node.ports import TxJournal
from peerchain.node.queries import InlineQueries, QueryRunner
from peerchain.node.view import (
    AccessListResult,
    AccountProof,
    BlockOverrides,
    BlockSelector,
    CallRequest,
    FeeHistory,
    LocalFault,
    LocalFaultError,
    LogFilter,
    NodeHealth,
    StateOverrides,
    SubscriptionKind,
    SyncStatus,
    TraceConfig,
    TraceFailed,
    TxPoolSnapshot,
    UnknownBlock,
)

T = TypeVar("T")
log = logging.getLogger(__name__)
# console.log output of contracts, printed as Hardhat and Anvil print it (dev nodes)
console_log = logging.getLogger("peerchain.console")

GWEI = 10**9
DEFAULT_TIP = GWEI
FEE_HISTORY_MAX_BLOCKS = 1024


class NotSupported(PeerChainError):
    """The method is not available on this kind of node."""


class ChainView:
    """Reads over a ledger and mempool; publishes chain events through `events`; counts
    what happens in `metrics` (its own registry unless one is given)."""

    # Whether eth_call, eth_estimateGas and debug_traceCall log the lines contracts print
    # with Hardhat's console.log (dev nodes do, as Hardhat and Anvil do).
    shows_console = False

    def __init__(
        self,
        ledger: Ledger,
        mempool: Mempool,
        events: EventHub,
        metrics: NodeMetrics | None = None,
        queries: QueryRunner | None = None,
    ) -> None:
        self.ledger = ledger
        self.mempool = mempool
        self.events = events
        self.queries: QueryRunner = queries or InlineQueries(ledger.engine)
        self._journal: TxJournal | None = None
        self._journaled: dict[bytes, bytes] = {}  # local transactions still waiting
        self.metrics = metrics if metrics is not None else NodeMetrics()
        self.metrics.sample_from(self.metrics_sample)

    # --- identity -------------------------------------------------------------
    @property
    def chain_id(self) -> int:
        return self.ledger.chain_id

    @property
    def client_version(self) -> str:
        return f"PeerChain/v{__version__}/python"

    def peer_count(self) -> int:
        return 0

    def syncing(self) -> SyncStatus | None:
        return None

    def fault(self) -> LocalFault | None:
        return self.ledger.faults.current

    def health(self) -> NodeHealth:
        head = self.ledger.head.number
        return NodeHealth(head, head, 0, False, self.fault_line(), networked=False)

    def fault_line(self) -> str | None:
        """The local fault that stopped the node in one line (what, and what to do)."""
        fault = self.fault()
        return None if fault is None else fault.line()

    def metrics_sample(self) -> NodeSample:
        """What the metrics read from the node at each scrape."""
        health = self.health()
        return NodeSample(
            height=health.block_number,
            best_known=health.highest_block,
            peers=health.peers,
            peer_limit=0,
            mempool_size=len(self.mempool),
            fault=health.fault is not None,
        )

    # --- blocks ---------------------------------------------------------------
    def block_number(self) -> int:
        return self.ledger.head.number

    def resolve_block(self, selector: BlockSelector) -> Header:
        return self.ledger.at_state(self._resolve(selector))

    def _resolve(self, selector: BlockSelector) -> Header:
        if isinstance(selector, bytes):
            block = self.ledger.block_by_hash(selector)
            if block is None:
                raise UnknownBlock(f"block 0x{selector.hex()} not found")
            return block.header
        if isinstance(selector, int):
            by_number = self.ledger.block_by_number(selector)
            if by_number is None:
                raise UnknownBlock(f"block {selector} not found")
            return by_number.header
        if selector == "earliest":
            genesis = self.ledger.block_by_number(0)
            assert genesis is not None
            return genesis.header
        # latest, pending, safe and finalized: a committed block is final here.
        return self.ledger.head

    def get_block(self, block_hash: bytes) -> Block | None:
        return self.ledger.block_by_hash(block_hash)

    def get_block_by_number(self, number: int) -> Block | None:
        return self.ledger.block_by_number(number)

    def get_transaction(self, tx_hash: bytes) -> tuple[Transaction, TxLocation | None] | None:
        location = self.ledger.engine.get_transaction_location(tx_hash)
        if location is not None and location.block_number <= self.ledger.head.number:
            block = self.ledger.block_by_number(location.block_number)
            if block is not None and block.hash == location.block_hash:
                return block.transactions[location.index], location
        pending = self.mempool.get(tx_hash)
        return (pending, None) if pending is not None else None

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        found = self.get_transaction(tx_hash)
        if found is None or found[1] is None:
            return None
        location = found[1]
        receipts = self.ledger.receipts(location.block_hash)
        return receipts[location.index] if location.index < len(receipts) else None

    def get_block_receipts(self, block_hash: bytes) -> list[Receipt]:
        return list(self.ledger.receipts(block_hash))

    async def get_logs(self, log_filter: LogFilter) -> list[Log]:
        addresses, topics = log_filter.addresses, log_filter.topics
        if log_filter.block_hash is not None:
            block = self.ledger.block_by_hash(log_filter.block_hash)
            if block is None:
                raise UnknownBlock(f"block 0x{log_filter.block_hash.hex()} not found")
            return await self._query(block_logs, block.hash, addresses, topics)
        last = min(log_filter.to_block, self.ledger.head.number)
        max_logs = self.queries.limits.max_logs
        return await self._query(
            find_logs, log_filter.from_block, last, addresses, topics, max_logs
        )

    # --- state ----------------------------------------------------------------
    def get_balance(self, address: bytes, header: Header) -> int:
        return self.ledger.engine.get_balance(address, header)

    def get_nonce(self, address: bytes, header: Header) -> int:
        return self.ledger.engine.get_nonce(address, header)

    def get_pending_nonce(self, address: bytes) -> int:
        state_nonce = self.ledger.account_state(address).nonce
        return self.mempool.pending_nonce(address, state_nonce)

    def get_code(self, address: bytes, header: Header) -> bytes:
        return self.ledger.engine.get_code(address, header)

    def get_storage(self, address: bytes, slot: int, header: Header) -> bytes:
        return self.ledger.engine.get_storage(address, slot, header)

    async def get_proof(self, address: bytes, slots: list[int], header: Header) -> AccountProof:
        return await self._query(ExecutionEngine.get_proof, address, slots, header)

    async def call(
        self,
        request: CallRequest,
        header: Header,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
    ) -> bytes:
        gas_cap = self.queries.limits.gas_cap
        return await self._run_execution(
            self.shows_console,
            ExecutionEngine.call,
            request,
            header,
            state_overrides,
            block_overrides,
            gas_cap,
        )

    async def estimate_gas(
        self,
        request: CallRequest,
        header: Header,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
    ) -> int:
        return await self._estimate(
            request, header, state_overrides, block_overrides, console=self.shows_console
        )

    async def _estimate(
        self,
        request: CallRequest,
        header: Header,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
        *,
        console: bool,
    ) -> int:
        gas_cap = self.queries.limits.gas_cap
        estimate = await self._run_execution(
            console,
            ExecutionEngine.estimate_gas,
            request,
            header,
            state_overrides,
            block_overrides,
            gas_cap,
        )
        log.debug("estimated %d gas in %d executions", estimate.gas, estimate.executions)
        return estimate.gas

    async def create_access_list(self, request: CallRequest, header: Header) -> AccessListResult:
        gas_cap = self.queries.limits.gas_cap
        found = await self._query(ExecutionEngine.create_access_list, request, header, gas_cap)
        return AccessListResult(*found)

    async def simulate(
        self, plan: tuple[PlannedBlock, ...], options: SimulateOptions, header: Header
    ) -> tuple[SimulatedBlock, ...]:
        gas_cap = self.queries.limits.gas_cap
        return await self._run_execution(
            self.shows_console, ExecutionEngine.simulate, plan, options, header, gas_cap
        )

    # --- tracing --------------------------------------------------------------
    async def trace_transaction(self, tx_hash: bytes, config: TraceConfig) -> Any:
        found = self.get_transaction(tx_hash)
        if found is None or found[1] is None:
            raise TraceFailed("transaction not found")
        location = found[1]
        [(_, trace)] = await self._query(
            ExecutionEngine.trace_block, location.block_hash, config, location.index
        )
        return trace

    async def trace_block(self, header: Header, config: TraceConfig) -> list[tuple[bytes, Any]]:
        return await self._query(ExecutionEngine.trace_block, header.hash, config)

    async def trace_call(
        self,
        request: CallRequest,
        header: Header,
        config: TraceConfig,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
    ) -> Any:
        gas_cap = self.queries.limits.gas_cap
        return await self._run_execution(
            self.shows_console,
            ExecutionEngine.trace_call,
            request,
            header,
            config,
            state_overrides,
            block_overrides,
            gas_cap,
        )

    async def _run_execution(self, console: bool, method: Callable[..., T], *args: Any) -> T:
        """A call, estimate or traced call (`method` of the engine) as a heavy query;
        with `console`, the lines it printed through console.log are logged, also when
        it reverted or failed."""
        if not console:
            return await self._query(method, *args)
        printed: Printed[T] = await self._query(printing, method, *args)
        for line in printed.lines:
            console_log.info("%s", line)
        return printed.result()

    async def _query(self, function: Callable[..., T], *args: Any) -> T:
        """A heavy query where `queries` runs it; a damaged record it met is this node's
        fault (reported, so the node stops, and raised)."""
        try:
            return await self.queries.run(function, *args)
        except LocalFaultError as exc:
            self.ledger.faults.report(exc.fault)
            raise

    # --- fees -----------------------------------------------------------------
    def next_base_fee(self) -> int:
        return self.ledger.next_base_fee()

    def max_priority_fee(self) -> int:
        return DEFAULT_TIP

    def gas_price(self) -> int:
        return self.next_base_fee() + self.max_priority_fee()

    def fee_history(self, count: int, newest: Header, percentiles: list[float]) -> FeeHistory:
        count = max(1, min(count, FEE_HISTORY_MAX_BLOCKS, newest.number + 1))
        oldest = newest.number - count + 1
        base_fees: list[int] = []
        ratios: list[float] = []
        rewards: list[tuple[int, ...]] = []
        last: Header = newest
        for number in range(oldest, newest.number + 1):
            block = self.ledger.block_by_number(number)
            if block is None:
                raise UnknownBlock(f"block {number} not found")
            last = block.header
            base_fee = last.base_fee_per_gas or 0
            base_fees.append(base_fee)
            ratios.append(last.gas_used / last.gas_limit if last.gas_limit else 0.0)
            if percentiles:
                receipts = self.ledger.receipts(block.hash)
                tips = [
                    (tx.effective_tip(base_fee), receipt.gas_used)
                    for tx, receipt in zip(block.transactions, receipts, strict=True)
                ]
                rewards.append(reward_percentiles(tips, percentiles))
        base_fees.append(next_base_fee(last.gas_used, last.gas_limit, last.base_fee_per_gas or 0))
        return FeeHistory(
            oldest_block=oldest,
            base_fee_per_gas=tuple(base_fees),
            gas_used_ratio=tuple(ratios),
            reward=tuple(rewards) if percentiles else None,
            base_fee_per_blob_gas=tuple(0 for _ in base_fees),
            blob_gas_used_ratio=tuple(0.0 for _ in ratios),
        )

    # --- transactions in ---------------------------------------------------------
    def admit_transaction(self, raw: bytes) -> Transaction:
        """Decode, check and add a client's transaction to the mempool; announce it.
        Raises LocalFaultError once a local fault stopped the node (it would never be
        included)."""
        self.check_running()
        return self.admit(self.decode_raw(raw))

    def decode_raw(self, raw: bytes) -> Transaction:
        """Decode a signed transaction of this chain (sender recovered); a refusal is
        counted in the metrics. Raises DecodeError or InvalidTransaction."""
        try:
            return decode_transaction(raw, self.chain_id)
        except (DecodeError, InvalidTransaction) as exc:
            self.metrics.transaction_rejected(exc)
            raise

    def check_running(self) -> None:
        """Raise LocalFaultError if a local fault stopped this node."""
        fault = self.ledger.faults.current
        if fault is not None:
            raise LocalFaultError(fault)

    def admit(self, tx: Transaction) -> Transaction:
        """Check a decoded transaction against the head and add it to the mempool; announce
        it. Raises InvalidTransaction."""
        try:
            self.mempool.add(
                tx,
                account=self.ledger.account_state(tx.sender),
                base_fee=self.next_base_fee(),
                block_gas_limit=self.ledger.head.gas_limit,
            )
        except InvalidTransaction as exc:
            self.metrics.transaction_rejected(exc)
            raise
        self.metrics.transaction_admitted()
        self.events.publish("newPendingTransactions", tx)
        return tx

    def send_raw_transaction(self, raw: bytes) -> bytes:
        tx = self.admit_transaction(raw)
        self.journal_local(tx)
        return tx.hash

    # --- the mempool journal -----------------------------------------------------------
    def restore_journal(self, journal: TxJournal) -> int:
        """Journal the transactions local clients send from now on in `journal`, and
        re-admit those it holds from before a restart (skipping what was mined or became
        invalid meanwhile). Returns how many came back."""
        self._journal = journal
        for raw in journal.load():
            try:
                tx = self.admit_transaction(raw)
            except (InvalidTransaction, DecodeError):
                continue
            self._journaled[tx.hash] = tx.raw
        self._write_journal(lambda: journal.rewrite(self._journaled.values()))
        return len(self._journaled)

    def journal_local(self, tx: Transaction) -> None:
        """Journal a transaction a client of this node sent (before it gets the hash)."""
        journal = self._journal
        if journal is not None:
            self._journaled[tx.hash] = tx.raw
            self._write_journal(lambda: journal.append(tx.raw))

    def local_transactions(self) -> list[bytes]:
        """The journaled transactions still waiting in the mempool."""
        return list(self._journaled.values())

    def _rotate_journal(self) -> None:
        """Drop what left the mempool (mined, replaced, evicted) from the journal."""
        journal = self._journal
        if journal is None or not self._journaled:
            return
        waiting = {h: raw for h, raw in self._journaled.items() if self.mempool.get(h) is not None}
        if len(waiting) != len(self._journaled):
            self._journaled = waiting
            self._write_journal(lambda: journal.rewrite(waiting.values()))

    def _write_journal(self, write: Callable[[], None]) -> None:
        try:
            write()
        except LocalFaultError as exc:
            raise self.ledger.faults.raise_fault(exc.fault) from exc

    def txpool(self) -> TxPoolSnapshot:
        pending, queued = self.mempool.content()
        return TxPoolSnapshot(pending=pending, queued=queued)

    # --- events -----------------------------------------------------------------
    def subscribe(
        self, kind: SubscriptionKind, callback: Callable[[Any], None]
    ) -> Callable[[], None]:
        return self.events.subscribe(kind, callback)

    def publish_block(self, block: Block) -> None:
        """Announce a newly committed block to subscribers and the metrics (and keep the
        mempool journal to what still waits)."""
        self.metrics.block_committed(block.header)
        self._rotate_journal()
        self.events.publish("newHeads", block.header)
        logs = matching_logs(self.ledger.receipts(block.hash))  # kept since execution
        if logs:
            self.events.publish("logs", logs)

    # --- dev mode: not available by default --------------------------------------
    def accounts(self) -> list[bytes]:
        return []

    def sign(self, address: bytes, message: bytes) -> bytes:
        raise NotSupported("eth_sign is only available for dev accounts in dev mode")

    async def send_transaction(self, request: CallRequest) -> bytes:
        raise NotSupported("eth_sendTransaction is only available in dev mode")

    def snapshot(self) -> int:
        raise NotSupported("snapshots are only available in dev mode")

    def revert(self, snapshot_id: int) -> bool:
        raise NotSupported("snapshots are only available in dev mode")

    def mine(self, timestamp: int | None = None) -> None:
        raise NotSupported("mining on demand is only available in dev mode")

    def increase_time(self, seconds: int) -> int:
        raise NotSupported("time travel is only available in dev mode")

    def set_next_block_timestamp(self, timestamp: int) -> None:
        raise NotSupported("time travel is only available in dev mode")

    def set_automine(self, enabled: bool) -> None:
        raise NotSupported("automine is only available in dev mode")

    def set_interval_mining(self, interval_ms: int) -> None:
        raise NotSupported("interval mining is only available in dev mode")
