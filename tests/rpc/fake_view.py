"""FakeNodeView: a test double of `NodeView` holding a tiny hand-made chain in memory.

It is not a node: no execution. It holds three blocks (genesis; a block with a legacy
contract creation and an EIP-1559 call that logs; a block with an access-list and a
set-code transaction), constant balances, and records the dev calls it receives. Tests
use it to drive the RPC handlers and check their shapes, and to get answers no node
gives on demand: `broken` (a node bug), `orphans` (blocks off the canonical chain),
raw bodies starting 0x01 refused as nonce too low, and stand-in bodies "0x02..." that
are not real transactions accepted as if they were.

It is checked against the protocol by mypy (`make typecheck`, through `_as_node_view`
below) and against a real dev node by tests/rpc/test_view_contract.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from peerchain.core.blocks import Block, Header, Log, Receipt, TxLocation
from peerchain.core.crypto import keccak256, private_key_to_address, sign_hash_bytes
from peerchain.core.errors import AlreadyKnown, DecodeError, NonceTooLow, PeerChainError
from peerchain.core.simulate import PlannedBlock, SimulatedBlock, SimulatedCall, SimulateOptions
from peerchain.core.tracing import TraceConfig, TraceFailed
from peerchain.core.transactions import Authorization, Transaction, decode_transaction
from peerchain.node.view import (
    AccessListResult,
    AccountProof,
    BlockSelector,
    CallRequest,
    ExecutionFailed,
    ExecutionReverted,
    FeeHistory,
    LocalFault,
    LogFilter,
    NodeHealth,
    NodeView,
    StorageProof,
    SubscriptionKind,
    SyncStatus,
    TxPoolSnapshot,
    UnknownBlock,
)
from peerchain.rpc.filters import log_matches

CHAIN_ID = 1337
DEV_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
DEV_ACCOUNT = private_key_to_address(DEV_KEY)
OTHER = bytes.fromhex("aa" * 20)
TOKEN = bytes.fromhex("7dcd17433742f4c0ca53122ab541d0ba67fc27df")
REVERTER = bytes.fromhex("0ee3ab1371c93e7c0c281cc0c2107cdebc8b1930")
FAILER = bytes.fromhex("fa" * 20)
TRANSFER_TOPIC = keccak256(b"Transfer(address,address,uint256)")
REVERT_DATA = bytes.fromhex(
    "08c379a0"
    "0000000000000000000000000000000000000000000000000000000000000020"
    "0000000000000000000000000000000000000000000000000000000000000004"
    "626f6f6d00000000000000000000000000000000000000000000000000000000"
)  # Error("boom")
EMPTY_BLOOM = b"\x00" * 256
DELEGATION = Authorization(chain_id=CHAIN_ID, address=TOKEN, nonce=4, y_parity=0, r=1, s=2)
BASE_FEE = 7


def _hash(label: str) -> bytes:
    return keccak256(label.encode())


def make_tx(
    raw: bytes,
    *,
    type: int = 2,
    nonce: int = 0,
    to: bytes | None = TOKEN,
    sender: bytes = DEV_ACCOUNT,
    data: bytes = b"",
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...] = (),
    authorizations: tuple[Authorization, ...] = (),
) -> Transaction:
    return Transaction(
        raw=raw,
        hash=keccak256(raw),
        type=type,
        chain_id=CHAIN_ID,
        nonce=nonce,
        gas_limit=100_000,
        max_fee_per_gas=20 if type >= 2 else 10,
        max_priority_fee_per_gas=2 if type >= 2 else 10,
        to=to,
        value=5,
        data=data,
        access_list=access_list,
        v=CHAIN_ID * 2 + 35 if type == 0 else 1,
        r=0x1234,
        s=0x5678,
        sender=sender,
        authorization_list=authorizations,
    )


def _header(number: int, parent: bytes, gas_used: int, timestamp: int) -> Header:
    return Header(
        hash=_hash(f"block{number}"),
        parent_hash=parent,
        uncles_hash=keccak256(b"\xc0"),
        coinbase=b"\x00" * 20,
        state_root=_hash(f"state{number}"),
        transactions_root=_hash(f"txs{number}"),
        receipts_root=_hash(f"receipts{number}"),
        logs_bloom=EMPTY_BLOOM,
        difficulty=0,
        number=number,
        gas_limit=30_000_000,
        gas_used=gas_used,
        timestamp=timestamp,
        extra_data=b"",
        mix_hash=b"\x00" * 32,
        nonce=b"\x00" * 8,
        base_fee_per_gas=BASE_FEE,
        withdrawals_root=_hash("withdrawals"),
        blob_gas_used=0,
        excess_blob_gas=0,
        parent_beacon_block_root=b"\x00" * 32,
        requests_hash=_hash("requests"),
    )


class FakeNodeView:
    """An in-memory stand-in for a node, implementing the `NodeView` protocol."""

    def __init__(self) -> None:
        self.local_fault: LocalFault | None = None
        self.blocks: list[Block] = []
        self.orphans: list[Block] = []  # blocks known by hash but not canonical
        self.receipts: dict[bytes, list[Receipt]] = {}
        self.pending: list[Transaction] = []
        self.subscribers: dict[str, list[Callable[[Any], None]]] = {}
        self.dev_calls: list[tuple[str, Any]] = []
        self.automine = True
        self.broken = False  # when set, eth_call hits an unexpected exception (a node bug)
        self._add_block([])
        self._add_block(
            [
                make_tx(b"\xf8create", type=0, nonce=0, to=None, data=b"\x60\x00"),
                make_tx(b"\x02call", nonce=1, data=b"\xa9\x05\x9c\xbb"),
            ]
        )
        self._add_block(
            [
                make_tx(b"\x01al", type=1, nonce=2, to=OTHER, access_list=((TOKEN, (0, 1)),)),
                make_tx(b"\x04sc", type=4, nonce=3, to=OTHER, authorizations=(DELEGATION,)),
            ]
        )

    # --- building --------------------------------------------------------------------
    def _add_block(self, txs: list[Transaction]) -> Block:
        number = len(self.blocks)
        parent = self.blocks[-1].hash if self.blocks else b"\x00" * 32
        header = _header(number, parent, 21_000 * len(txs), 1_700_000_000 + 12 * number)
        block = Block(header, tuple(txs), b"\xf9" + bytes(500 + 100 * len(txs)))
        self.blocks.append(block)
        receipts = []
        log_count = 0
        for index, tx in enumerate(txs):
            logs: tuple[Log, ...] = ()
            if tx.to == TOKEN:
                logs = (
                    Log(
                        address=TOKEN,
                        topics=(TRANSFER_TOPIC, b"\x00" * 12 + tx.sender, b"\x00" * 12 + OTHER),
                        data=(1000).to_bytes(32, "big"),
                        block_number=number,
                        block_hash=header.hash,
                        transaction_hash=tx.hash,
                        transaction_index=index,
                        log_index=log_count,
                    ),
                )
                log_count += 1
            receipts.append(
                Receipt(
                    transaction_hash=tx.hash,
                    transaction_index=index,
                    block_hash=header.hash,
                    block_number=number,
                    sender=tx.sender,
                    to=tx.to,
                    contract_address=keccak256(tx.sender)[12:] if tx.to is None else None,
                    cumulative_gas_used=21_000 * (index + 1),
                    gas_used=21_000,
                    effective_gas_price=tx.effective_gas_price(BASE_FEE),
                    status=1,
                    logs=logs,
                    logs_bloom=EMPTY_BLOOM,
                    type=tx.type,
                )
            )
        self.receipts[header.hash] = receipts
        return block

    def mine_pending(self) -> Block:
        """Put the pending transactions into a new block and publish its events."""
        txs, self.pending = self.pending, []
        block = self._add_block(txs)
        self.publish("newHeads", block.header)
        self.publish("logs", [log for r in self.receipts[block.hash] for log in r.logs])
        return block

    def publish(self, kind: str, value: Any) -> None:
        for callback in list(self.subscribers.get(kind, [])):
            callback(value)

    @property
    def head(self) -> Block:
        return self.blocks[-1]

    # --- identity ----------------------------------------------------------------------
    @property
    def chain_id(self) -> int:
        return CHAIN_ID

    @property
    def client_version(self) -> str:
        return "PeerChain/fake"

    def peer_count(self) -> int:
        return 0

    def syncing(self) -> SyncStatus | None:
        return None

    def fault(self) -> LocalFault | None:
        return self.local_fault

    def health(self) -> NodeHealth:
        line = None if self.local_fault is None else self.local_fault.line()
        return NodeHealth(self.head.number, self.head.number, 0, False, line, networked=False)

    # --- blocks and transactions -----------------------------------------------------
    def block_number(self) -> int:
        return self.head.number

    def resolve_block(self, selector: BlockSelector) -> Header:
        if isinstance(selector, bytes):
            block = self.get_block(selector)
            if block is None:
                raise UnknownBlock(f"block 0x{selector.hex()} not found")
            return block.header
        if isinstance(selector, int):
            if selector >= len(self.blocks):
                raise UnknownBlock("header not found")
            return self.blocks[selector].header
        return self.blocks[0 if selector == "earliest" else -1].header

    def get_block(self, block_hash: bytes) -> Block | None:
        return next((b for b in self.blocks + self.orphans if b.hash == block_hash), None)

    def get_block_by_number(self, number: int) -> Block | None:
        return self.blocks[number] if 0 <= number < len(self.blocks) else None

    def get_transaction(self, tx_hash: bytes) -> tuple[Transaction, TxLocation | None] | None:
        for block in self.blocks:
            for index, tx in enumerate(block.transactions):
                if tx.hash == tx_hash:
                    return tx, TxLocation(block.hash, block.number, index)
        return next(((tx, None) for tx in self.pending if tx.hash == tx_hash), None)

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        for receipts in self.receipts.values():
            for receipt in receipts:
                if receipt.transaction_hash == tx_hash:
                    return receipt
        return None

    def get_block_receipts(self, block_hash: bytes) -> list[Receipt]:
        return self.receipts.get(block_hash, [])

    async def get_logs(self, log_filter: LogFilter) -> list[Log]:
        found = []
        blocks = self.blocks[log_filter.from_block : log_filter.to_block + 1]
        if log_filter.block_hash is not None:
            block = self.get_block(log_filter.block_hash)
            if block is None:
                raise UnknownBlock(f"block 0x{log_filter.block_hash.hex()} not found")
            blocks = [block]
        for block in blocks:
            for receipt in self.receipts[block.hash]:
                found += [
                    log
                    for log in receipt.logs
                    if log_matches(log, log_filter.addresses, log_filter.topics)
                ]
        return found

    # --- state -------------------------------------------------------------------------
    def get_balance(self, address: bytes, header: Header) -> int:
        return 10**21 + header.number if address == DEV_ACCOUNT else 0

    def get_nonce(self, address: bytes, header: Header) -> int:
        return header.number if address == DEV_ACCOUNT else 0

    def get_pending_nonce(self, address: bytes) -> int:
        return self.get_nonce(address, self.head.header) + len(self.pending)

    def get_code(self, address: bytes, header: Header) -> bytes:
        return b"\x60\x80\x60\x40" if address == TOKEN else b""

    def get_storage(self, address: bytes, slot: int, header: Header) -> bytes:
        return b"\x2a" if address == TOKEN and slot == 0 else b""

    async def get_proof(self, address: bytes, slots: list[int], header: Header) -> AccountProof:
        return AccountProof(
            address=address,
            balance=self.get_balance(address, header),
            nonce=self.get_nonce(address, header),
            code_hash=keccak256(self.get_code(address, header)),
            storage_hash=_hash("storage"),
            account_proof=(b"\xf8\x51node", b"\xe2leaf"),
            storage_proof=tuple(
                StorageProof(key=s, value=42 if s == 0 else 0, proof=(b"\xe2leaf",)) for s in slots
            ),
        )

    async def call(self, request: CallRequest, header: Header, *overrides: object) -> bytes:
        if request.to == REVERTER:
            raise ExecutionReverted("execution reverted", REVERT_DATA)
        if request.to == FAILER:
            raise ExecutionFailed("invalid opcode: INVALID")
        if self.broken:
            raise RuntimeError("a bug inside the node")
        return (42).to_bytes(32, "big")

    async def simulate(
        self, plan: tuple[PlannedBlock, ...], options: SimulateOptions, header: Header
    ) -> tuple[SimulatedBlock, ...]:
        """One block per planned block (no transactions in its body); each call answered
        as `call` answers it."""
        blocks = []
        parent = header.hash
        for planned in plan:
            sealed = replace(
                _header(planned.number, parent, 21_000 * len(planned.calls), planned.timestamp),
                hash=_hash(f"simulated{planned.number}"),
            )
            results = []
            for request in planned.calls:
                try:
                    output = await self.call(request, sealed)
                    results.append(SimulatedCall(1, output, 21_000, 21_000, ()))
                except ExecutionReverted as exc:
                    results.append(SimulatedCall(0, b"", 21_000, 21_000, (), revert=exc.data))
                except ExecutionFailed as exc:
                    results.append(SimulatedCall(0, b"", 21_000, 21_000, (), failure=str(exc)))
            blocks.append(SimulatedBlock(Block(sealed, (), b"\xc0"), tuple(results)))
            parent = sealed.hash
        return tuple(blocks)

    async def estimate_gas(self, request: CallRequest, header: Header, *overrides: object) -> int:
        await self.call(request, header)
        return 21_000 if not request.data else 50_000

    async def create_access_list(self, request: CallRequest, header: Header) -> AccessListResult:
        try:
            gas = await self.estimate_gas(request, header)
        except ExecutionReverted as exc:
            return AccessListResult(((TOKEN, (0,)),), 30_000, str(exc))
        return AccessListResult(((TOKEN, (0, 1)),), gas)

    # Tracing needs an EVM: the fake answers what a node answers for what it lacks.
    async def trace_transaction(self, tx_hash: bytes, config: TraceConfig) -> Any:
        raise TraceFailed("transaction not found")

    async def trace_block(self, header: Header, config: TraceConfig) -> list[tuple[bytes, Any]]:
        if header.number == 0:
            raise TraceFailed("genesis is not traceable")
        raise TraceFailed("the fake node cannot re-execute blocks")

    async def trace_call(
        self, request: CallRequest, header: Header, config: TraceConfig, *overrides: object
    ) -> Any:
        raise TraceFailed("the fake node cannot execute calls")

    # --- fees --------------------------------------------------------------------------
    def gas_price(self) -> int:
        return BASE_FEE + 1

    def max_priority_fee(self) -> int:
        return 1

    def fee_history(self, count: int, newest: Header, percentiles: list[float]) -> FeeHistory:
        oldest = max(0, newest.number - count + 1)
        blocks = self.blocks[oldest : newest.number + 1]
        return FeeHistory(
            oldest_block=oldest,
            base_fee_per_gas=tuple([BASE_FEE] * (len(blocks) + 1)),
            gas_used_ratio=tuple(b.header.gas_used / b.header.gas_limit for b in blocks),
            reward=tuple(tuple(2 for _ in percentiles) for _ in blocks) if percentiles else None,
            base_fee_per_blob_gas=tuple([1] * (len(blocks) + 1)),
            blob_gas_used_ratio=tuple(0.0 for _ in blocks),
        )

    # --- transactions in ---------------------------------------------------------------
    def send_raw_transaction(self, raw: bytes) -> bytes:
        if raw[:1] == b"\x01":
            raise NonceTooLow("0x" + DEV_ACCOUNT.hex(), 0, 3)
        try:
            tx = decode_transaction(raw, CHAIN_ID)
        except DecodeError:
            if raw[:1] != b"\x02" or len(raw) < 2:
                raise
            tx = make_tx(raw, nonce=self.get_pending_nonce(DEV_ACCOUNT))  # a stand-in body
        if any(t.raw == raw for t in self.pending):
            raise AlreadyKnown()
        self.pending.append(tx)
        self.publish("newPendingTransactions", tx)
        return tx.hash

    def txpool(self) -> TxPoolSnapshot:
        queued = make_tx(b"\x02queued", nonce=99)
        pending = {DEV_ACCOUNT: tuple(self.pending)} if self.pending else {}
        return TxPoolSnapshot(pending=pending, queued={DEV_ACCOUNT: (queued,)})

    # --- events ------------------------------------------------------------------------
    def subscribe(
        self, kind: SubscriptionKind, callback: Callable[[Any], None]
    ) -> Callable[[], None]:
        self.subscribers.setdefault(kind, []).append(callback)
        return lambda: self.subscribers[kind].remove(callback)

    # --- dev mode ----------------------------------------------------------------------
    def accounts(self) -> list[bytes]:
        return [DEV_ACCOUNT]

    def sign(self, address: bytes, message: bytes) -> bytes:
        if address != DEV_ACCOUNT:
            raise PeerChainError("unknown account")
        prefix = b"\x19Ethereum Signed Message:\n" + str(len(message)).encode()
        signature = sign_hash_bytes(keccak256(prefix + message), DEV_KEY)
        return signature[:64] + bytes([signature[64] + 27])

    async def send_transaction(self, request: CallRequest) -> bytes:
        if request.sender not in self.accounts():
            raise PeerChainError("unknown account")
        raw = b"\x02sent" + len(self.pending).to_bytes(4, "big")
        tx = replace(make_tx(raw, to=request.to, data=request.data), value=request.value)
        self.pending.append(tx)
        if self.automine:
            self.mine_pending()
        return tx.hash

    def snapshot(self) -> int:
        self.dev_calls.append(("snapshot", None))
        return 1

    def revert(self, snapshot_id: int) -> bool:
        self.dev_calls.append(("revert", snapshot_id))
        return snapshot_id == 1

    def mine(self, timestamp: int | None = None) -> None:
        self.dev_calls.append(("mine", timestamp))
        self.mine_pending()

    def increase_time(self, seconds: int) -> int:
        self.dev_calls.append(("increase_time", seconds))
        return seconds

    def set_next_block_timestamp(self, timestamp: int) -> None:
        self.dev_calls.append(("set_next_block_timestamp", timestamp))

    def set_automine(self, enabled: bool) -> None:
        self.dev_calls.append(("set_automine", enabled))
        self.automine = enabled

    def set_interval_mining(self, interval_ms: int) -> None:
        self.dev_calls.append(("set_interval_mining", interval_ms))


def _as_node_view(fake: FakeNodeView) -> NodeView:
    """Where mypy checks that the fake implements every method of `NodeView`."""
    return fake
