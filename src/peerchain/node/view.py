"""The read-mostly face of a node for JSON-RPC and the explorer.

`NodeView` is the only thing `rpc/` and `explorer/` see of a node. Addresses and
hashes are raw bytes; block selectors are resolved by `resolve_block`. The heavy
queries (calls, gas estimates, logs, proofs) are coroutines: a node runs them away from
its event loop, under per-call limits (`QueryTimeout`, `QueryLimitExceeded`).
Methods raise `peerchain.core.errors.PeerChainError` subclasses for bad input
(`InvalidTransaction` for rejected transactions, `ExecutionReverted` for calls
that revert, `UnknownBlock` for selectors that match nothing), and `LocalFaultError`
when the node's own data or disk failed (a damaged record, a full disk): `fault()`
then reports what stopped the node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from peerchain.core.blocks import Block, Header, Log, Receipt, TxLocation
from peerchain.core.consensus.certificate import CommitCertificate

# Evidence of double signing (see core.consensus.evidence); re-exported here.
from peerchain.core.consensus.evidence import EvidenceRecord as EvidenceRecord
from peerchain.core.consensus.evidence import SignedValue as SignedValue
from peerchain.core.errors import PeerChainError

# A fault of the node's own disk or data (see core.faults); re-exported here.
from peerchain.core.faults import LocalFault as LocalFault
from peerchain.core.faults import LocalFaultError as LocalFaultError
from peerchain.core.governance import OpenProposal

# Defined in core (the execution layer raises and returns them); re-exported here.
from peerchain.core.queries import AccountOverride as AccountOverride
from peerchain.core.queries import AccountProof as AccountProof
from peerchain.core.queries import BlockOverrides as BlockOverrides
from peerchain.core.queries import CallRequest as CallRequest
from peerchain.core.queries import ExecutionFailed as ExecutionFailed
from peerchain.core.queries import ExecutionReverted as ExecutionReverted
from peerchain.core.queries import QueryLimitExceeded as QueryLimitExceeded
from peerchain.core.queries import QueryTimeout as QueryTimeout
from peerchain.core.queries import StateOverrides as StateOverrides
from peerchain.core.queries import StorageProof as StorageProof
from peerchain.core.simulate import PlannedBlock, SimulatedBlock, SimulateOptions
from peerchain.core.tracing import TraceConfig as TraceConfig
from peerchain.core.tracing import TraceFailed as TraceFailed
from peerchain.core.transactions import Transaction

BlockTag = Literal["latest", "earliest", "pending", "safe", "finalized"]
# An int is a block number, 32 bytes a block hash (EIP-1898 form), a str a tag.
BlockSelector = BlockTag | int | bytes
SubscriptionKind = Literal["newHeads", "logs", "newPendingTransactions"]


class UnknownBlock(PeerChainError):
    """A block selector names no block this node has."""


@dataclass(frozen=True, slots=True)
class LogFilter:
    """eth_getLogs / eth_newFilter criteria. `topics[i]` None matches anything."""

    from_block: int
    to_block: int
    addresses: tuple[bytes, ...] = ()
    topics: tuple[tuple[bytes, ...] | None, ...] = ()
    block_hash: bytes | None = None


@dataclass(frozen=True, slots=True)
class FeeHistory:
    oldest_block: int
    base_fee_per_gas: tuple[int, ...]
    gas_used_ratio: tuple[float, ...]
    reward: tuple[tuple[int, ...], ...] | None = None
    base_fee_per_blob_gas: tuple[int, ...] = ()
    blob_gas_used_ratio: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class AccessListResult:
    """eth_createAccessList's answer: the list, gas used with it, the error if it fails."""

    access_list: tuple[tuple[bytes, tuple[int, ...]], ...]
    gas_used: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TxPoolSnapshot:
    """Pending (executable) and queued (future nonce) transactions by sender."""

    pending: dict[bytes, tuple[Transaction, ...]] = field(default_factory=dict)
    queued: dict[bytes, tuple[Transaction, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SyncStatus:
    starting_block: int
    current_block: int
    highest_block: int


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """One peer as RPC shows it; `direction` None for a banned peer not connected."""

    node_id: str
    address: str | None
    direction: str | None
    score: float
    height: int | None
    banned_until: float | None

    @property
    def banned(self) -> bool:
        return self.banned_until is not None


@dataclass(frozen=True, slots=True)
class ConsensusState:
    """Where a node's consensus is, for `peerchain_consensusState`."""

    height: int
    round: int
    step: str
    locked_round: int
    valid_round: int
    proposer: bytes
    halted: str | None
    syncing: bool
    fault: LocalFault | None = None


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """What `/health` and `/ready` judge a node by.

    `highest_block` is the best height known (peers' reports, the block sync target; the
    head on a dev node); `fault` the reason a local fault halted the node (corrupt or
    unreadable data, a full disk, consensus halted), None while it is sound; `networked`
    False for a dev node, which needs no peers to be ready."""

    block_number: int
    highest_block: int
    peers: int
    syncing: bool
    fault: str | None
    networked: bool


class MetricsExporter(Protocol):
    """A node's metrics as JSON-RPC serves and feeds them (peerchain.node.metrics)."""

    async def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        ...

    def rpc_called(self, method: str, seconds: float, failed: bool) -> None: ...


class NetworkView(Protocol):
    """What a network node adds for the `peerchain_` and `admin_` methods."""

    def peers(self) -> list[PeerInfo]: ...
    async def validator_powers(self, height: int | None = None) -> list[tuple[bytes, int]]:
        """(address, voting power) of each validator of `height` (default: the height
        being decided); empty if that set is not known yet. Raises PeerChainError."""
        ...

    async def open_proposals(self, number: int | None = None) -> list[OpenProposal]:
        """The governance proposals open after block `number` (default: the head).
        Raises PeerChainError."""
        ...

    def consensus_state(self) -> ConsensusState: ...
    def commit_certificate(self, height: int) -> CommitCertificate | None: ...
    def evidence(self) -> list[EvidenceRecord]:
        """The evidence of double signing this node keeps, newest first."""
        ...

    def ban_peer(self, node_id: bytes, seconds: float | None) -> None: ...


class NodeView(Protocol):
    """What JSON-RPC and the explorer may ask of a node."""

    # --- identity -----------------------------------------------------------
    @property
    def chain_id(self) -> int: ...
    @property
    def client_version(self) -> str: ...
    def peer_count(self) -> int: ...
    def syncing(self) -> SyncStatus | None: ...
    def fault(self) -> LocalFault | None:
        """The local fault that stopped this node (it no longer signs, makes blocks or
        serves the damaged data; `LocalFault.line()` says what and what to do), or None
        while it is healthy. For health and readiness checks."""
        ...

    def health(self) -> NodeHealth:
        """Liveness and readiness facts for `/health` and `/ready`."""
        ...

    # --- blocks and transactions -------------------------------------------
    def block_number(self) -> int: ...
    def resolve_block(self, selector: BlockSelector) -> Header:
        """Header for a selector; raises UnknownBlock."""
        ...

    def get_block(self, block_hash: bytes) -> Block | None: ...
    def get_block_by_number(self, number: int) -> Block | None: ...
    def get_transaction(self, tx_hash: bytes) -> tuple[Transaction, TxLocation | None] | None:
        """A mined (with location) or pending (location None) transaction."""
        ...

    def get_receipt(self, tx_hash: bytes) -> Receipt | None: ...
    def get_block_receipts(self, block_hash: bytes) -> list[Receipt]: ...
    async def get_logs(self, log_filter: LogFilter) -> list[Log]:
        """Matching logs of a resolved range; QueryLimitExceeded past the node's limit."""
        ...

    # --- state --------------------------------------------------------------
    def get_balance(self, address: bytes, header: Header) -> int: ...
    def get_nonce(self, address: bytes, header: Header) -> int:
        """Nonce at `header`; for the pending tag callers pass the pending nonce."""
        ...

    def get_pending_nonce(self, address: bytes) -> int: ...
    def get_code(self, address: bytes, header: Header) -> bytes: ...
    def get_storage(self, address: bytes, slot: int, header: Header) -> bytes: ...
    async def get_proof(self, address: bytes, slots: list[int], header: Header) -> AccountProof: ...
    async def call(
        self,
        request: CallRequest,
        header: Header,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
    ) -> bytes:
        """Return output; raises ExecutionReverted, ExecutionFailed or QueryTimeout."""
        ...

    async def estimate_gas(
        self,
        request: CallRequest,
        header: Header,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
    ) -> int: ...

    async def create_access_list(self, request: CallRequest, header: Header) -> AccessListResult:
        """Accounts and slots `request` touches, with the gas it uses with them."""
        ...

    async def simulate(
        self, plan: tuple[PlannedBlock, ...], options: SimulateOptions, header: Header
    ) -> tuple[SimulatedBlock, ...]:
        """eth_simulateV1: the planned blocks of calls run on `header`'s state, thrown
        away. Raises SimulateError (with geth's code), QueryTimeout, QueryLimitExceeded."""
        ...

    # --- tracing (geth's JSON shapes; raise TraceFailed, UnknownBlock) ----------
    async def trace_transaction(self, tx_hash: bytes, config: TraceConfig) -> Any: ...
    async def trace_block(self, header: Header, config: TraceConfig) -> list[tuple[bytes, Any]]: ...
    async def trace_call(
        self,
        request: CallRequest,
        header: Header,
        config: TraceConfig,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
    ) -> Any: ...

    # --- fees ---------------------------------------------------------------
    def gas_price(self) -> int: ...
    def max_priority_fee(self) -> int: ...
    def fee_history(self, count: int, newest: Header, percentiles: list[float]) -> FeeHistory: ...

    # --- transactions in --------------------------------------------------------
    def send_raw_transaction(self, raw: bytes) -> bytes:
        """Admit a signed transaction to the mempool; return its hash.

        Raises DecodeError or InvalidTransaction with the geth message."""
        ...

    def txpool(self) -> TxPoolSnapshot: ...

    # --- events -------------------------------------------------------------
    def subscribe(
        self, kind: SubscriptionKind, callback: Callable[[Any], None]
    ) -> Callable[[], None]:
        """Call `callback` with each new Header, each list[Log] of a new block, or each
        pending Transaction; return a function that unsubscribes."""
        ...

    # --- dev mode (raise PeerChainError("not in dev mode") elsewhere) -------
    def accounts(self) -> list[bytes]: ...
    def sign(self, address: bytes, message: bytes) -> bytes:
        """EIP-191 personal-message signature (65 bytes) by a dev account."""
        ...

    async def send_transaction(self, request: CallRequest) -> bytes:
        """Fill, sign with a dev account and submit; return the tx hash."""
        ...

    def snapshot(self) -> int: ...
    def revert(self, snapshot_id: int) -> bool: ...
    def mine(self, timestamp: int | None = None) -> None: ...
    def increase_time(self, seconds: int) -> int: ...
    def set_next_block_timestamp(self, timestamp: int) -> None: ...
    def set_automine(self, enabled: bool) -> None: ...
    def set_interval_mining(self, interval_ms: int) -> None: ...


@runtime_checkable
class DevView(NodeView, Protocol):
    """What a dev node adds for the Hardhat and Anvil methods (`hardhat_*`, `anvil_*`)."""

    def mine_blocks(self, count: int, interval: int = 1) -> None: ...
    def edit_account(self, address: bytes, override: AccountOverride) -> None: ...
    def impersonate(self, address: bytes, enabled: bool) -> None: ...

    auto_impersonate: bool

    def drop_transaction(self, tx_hash: bytes) -> bool: ...
    def reset(self) -> None: ...
    def set_coinbase(self, address: bytes) -> None: ...
    def set_next_prev_randao(self, value: bytes) -> None: ...
    def set_next_block_base_fee(self, base_fee: int) -> None: ...
    def set_block_gas_limit(self, gas_limit: int) -> None: ...
    def get_automine(self) -> bool: ...
    def dump_state(self) -> dict[str, Any]:
        """The head state as a versioned JSON document."""
        ...

    def load_state(self, document: Any) -> None:
        """Load a state document into the head state; raises PeerChainError if invalid."""
        ...

    def is_mining(self) -> bool: ...

    coinbase: bytes

    async def sign_transaction(self, request: CallRequest) -> Transaction:
        """`request` filled and signed by a dev account, not sent."""
        ...

    def sign_digest(self, address: bytes, digest: bytes) -> bytes:
        """A dev account's 65-byte signature (v 27/28) of a 32-byte digest (EIP-712)."""
        ...
