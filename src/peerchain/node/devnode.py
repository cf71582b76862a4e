"""Dev mode: one node that makes blocks on demand (automine) or at an interval.

This is what dApp authors run all day: prefunded well-known accounts whose keys the
node holds, `eth_sendTransaction` and `eth_sign` for them, and the usual dev methods
(snapshots, time travel, mining on demand).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

from peerchain.core.blocks import Block, Header
from peerchain.core.crypto import keccak256, private_key_to_address, sign_hash
from peerchain.core.errors import InvalidTransaction, PeerChainError
from peerchain.core.faults import LocalFaultError
from peerchain.core.genesis import ZERO_ADDRESS
from peerchain.core.mempool import Mempool
from peerchain.core.queries import AccountOverride, ExecutionFailed, ExecutionReverted
from peerchain.core.reserved import Reservation, can_reserve_after, encode_empty_block
from peerchain.core.transactions import (
    IMPERSONATED_S,
    Transaction,
    UnsignedTransaction,
    impersonate_transaction,
    sign_transaction,
)
from peerchain.node.chainview import ChainView, console_log
from peerchain.node.events import EventHub
from peerchain.node.ledger import Ledger
from peerchain.node.ports import Clock
from peerchain.node.queries import QueryRunner
from peerchain.node.view import BlockSelector, CallRequest

# hardhat_mine runs up to this many blocks for real; longer runs are reserved.
MINE_FOR_REAL = 16

log = logging.getLogger(__name__)


class UnknownAccount(PeerChainError):
    """The address is not one of this node's dev accounts."""


@dataclass(slots=True)
class _Snapshot:
    head: int
    state_root: bytes
    time_offset: int
    next_timestamp: int | None


class DevNode(ChainView):
    """A single block-producing node for development. Implements `NodeView`."""

    shows_console = True

    def __init__(
        self,
        ledger: Ledger,
        clock: Clock,
        dev_keys: list[bytes],
        *,
        automine: bool = True,
        block_time_ms: int = 0,
        coinbase: bytes = ZERO_ADDRESS,
        mempool: Mempool | None = None,
        queries: QueryRunner | None = None,
    ) -> None:
        super().__init__(
            ledger, mempool or Mempool(chain_id=ledger.chain_id), EventHub(), queries=queries
        )
        self.clock = clock
        self.coinbase = coinbase
        self._keys = {private_key_to_address(k): k for k in dev_keys}
        self._automine = automine
        self._interval_ms = block_time_ms
        self._time_offset = 0
        self._next_timestamp: int | None = None
        self._snapshots: dict[int, _Snapshot] = {}
        self._next_snapshot = 1
        self._interval_changed = asyncio.Event()
        self.impersonated: set[bytes] = set()
        self.auto_impersonate = False
        self.client_version_override: str | None = None
        self._next_base_fee: int | None = None
        self._next_prev_randao: bytes | None = None
        self._gas_limit: int | None = None
        self._pending: Header | None = None

    @property
    def client_version(self) -> str:
        return self.client_version_override or super().client_version

    # --- block production ---------------------------------------------------------
    def _next_block_timestamp(self) -> int:
        """The timestamp the next block gets unless one is asked for."""
        if self._next_timestamp is not None:
            return self._next_timestamp
        return max(self.ledger.head.timestamp + 1, int(self.clock.now()) + self._time_offset)

    def _timestamp(self, requested: int | None) -> int:
        parent = self.ledger.head.timestamp
        if requested is None:
            requested, self._next_timestamp = self._next_timestamp, None
        if requested is not None:
            if requested <= parent:
                raise PeerChainError(
                    f"timestamp {requested} is not after the head block's {parent}"
                )
            self._time_offset = requested - int(self.clock.now())
            return requested
        return max(parent + 1, int(self.clock.now()) + self._time_offset)

    def next_base_fee(self) -> int:
        if self._next_base_fee is not None:
            return self._next_base_fee
        return super().next_base_fee()

    def _prev_randao(self, head: Header) -> bytes:
        return self._next_prev_randao or keccak256(head.hash)

    def pending_header(self) -> Header:
        """The next block as calls and reads of `pending` see it: number + 1, the
        timestamp and base fee it will get, the head's state."""
        head = self.ledger.head
        header = self.ledger.engine.pending_header(
            head,
            timestamp=self._next_block_timestamp(),
            coinbase=self.coinbase,
            prev_randao=self._prev_randao(head),
        )
        return replace(
            header,
            base_fee_per_gas=self.next_base_fee(),
            gas_limit=self._gas_limit or header.gas_limit,
        )

    def _resolve(self, selector: BlockSelector) -> Header:
        if selector == "pending":
            self._pending = self.pending_header()
            return self._pending
        return super()._resolve(selector)

    def get_block(self, block_hash: bytes) -> Block | None:
        pending = self._pending  # the pending block last resolved, found by its hash
        if pending is not None and block_hash == pending.hash:
            return Block(header=pending, transactions=(), rlp=encode_empty_block(pending))
        return super().get_block(block_hash)

    def mine_block(self, timestamp: int | None = None) -> Block:
        """Build a block from the mempool on the head, commit it and announce it.
        Raises LocalFaultError once a local fault stopped the node (or on this commit)."""
        self.check_running()
        head = self.ledger.head
        base_fee = self.next_base_fee()
        gas_limit = self._gas_limit or head.gas_limit
        candidates = self.mempool.reap(gas_limit, base_fee)
        executed = self.ledger.engine.build_block(
            head,
            candidates,
            timestamp=self._timestamp(timestamp),
            coinbase=self.coinbase,
            prev_randao=self._prev_randao(head),
            gas_limit=gas_limit,
            base_fee=self._next_base_fee,
        )
        self._next_base_fee = None
        self._next_prev_randao = None
        self.ledger.commit(executed)
        for tx, reason in executed.skipped:
            log.info("dropped transaction 0x%s: %s", tx.hash.hex(), reason)
        for line in executed.console:
            console_log.info("%s", line)
        self.mempool.remove([tx.hash for tx, _ in executed.skipped])
        self.mempool.on_new_block(
            [tx.hash for tx in executed.block.transactions], self.ledger.account_state
        )
        self.publish_block(executed.block)
        log.info(
            "mined block %d with %d transactions",
            executed.block.number,
            len(executed.block.transactions),
        )
        return executed.block

    def send_raw_transaction(self, raw: bytes) -> bytes:
        tx = self.decode_raw(raw)
        if tx.s == IMPERSONATED_S:
            raise InvalidTransaction(
                "a signature with s = 1 is reserved for impersonated transactions on dev nodes"
            )
        return self._submit(tx)

    def _submit(self, tx: Transaction) -> bytes:
        """Admit `tx`; with automine, mine it and answer a failure as Hardhat does: the
        transaction stays mined and the caller gets its revert error and data. Raises
        LocalFaultError once a local fault stopped the node."""
        self.check_running()
        self.admit(tx)
        if self._automine:
            parent = self.ledger.head
            block = self.mine_block()
            receipt = self.get_receipt(tx.hash)
            if receipt is not None and receipt.status == 0:
                raise self._failure(tx, replace(block.header, state_root=parent.state_root))
        else:
            self.journal_local(tx)  # an automined one is durable in its block at once
        return tx.hash

    def _failure(self, tx: Transaction, context: Header) -> PeerChainError:
        """The error of a mined transaction that failed: its revert (with the data) or
        other failure, found by running it again as a call on the state it started from."""
        request = CallRequest(
            sender=tx.sender, to=tx.to, gas=tx.gas_limit, value=tx.value, data=tx.data
        )
        try:
            self.ledger.engine.call(request, context)
        except ExecutionReverted as exc:
            return ExecutionReverted(str(exc), exc.data)
        except PeerChainError as exc:
            return ExecutionFailed(f"transaction 0x{tx.hash.hex()} failed: {exc}")
        return ExecutionFailed(f"transaction 0x{tx.hash.hex()} failed")

    async def run(self) -> None:
        """Mine at the configured interval until cancelled (no-op while it is 0)."""
        while True:
            self._interval_changed.clear()
            if self._interval_ms <= 0:
                await self._interval_changed.wait()
                continue
            try:
                await asyncio.wait_for(self._interval_changed.wait(), self._interval_ms / 1000)
            except TimeoutError:
                try:
                    self.mine_block()
                except LocalFaultError as exc:
                    log.critical("%s", exc.fault.line())  # fail-stop: no more blocks
                    return

    # --- dev accounts ---------------------------------------------------------------
    def accounts(self) -> list[bytes]:
        return list(self._keys)

    def _key(self, address: bytes) -> bytes:
        key = self._keys.get(address)
        if key is None:
            raise UnknownAccount(f"unknown account 0x{address.hex()}")
        return key

    def _can_impersonate(self, address: bytes) -> bool:
        return self.auto_impersonate or address in self.impersonated

    def sign(self, address: bytes, message: bytes) -> bytes:
        prefix = f"\x19Ethereum Signed Message:\n{len(message)}".encode()
        return self.sign_digest(address, keccak256(prefix + message))

    async def send_transaction(self, request: CallRequest) -> bytes:
        unsigned = await self.fill_transaction(request)
        assert request.sender is not None
        if request.sender not in self._keys and self._can_impersonate(request.sender):
            return self._submit(impersonate_transaction(unsigned, request.sender))
        return self._submit(sign_transaction(unsigned, self._key(request.sender)))

    async def sign_transaction(self, request: CallRequest) -> Transaction:
        """`request` filled and signed by a dev account (not sent)."""
        unsigned = await self.fill_transaction(request)
        assert request.sender is not None
        return sign_transaction(unsigned, self._key(request.sender))

    def sign_digest(self, address: bytes, digest: bytes) -> bytes:
        parity, r, s = sign_hash(digest, self._key(address))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + parity])

    async def fill_transaction(self, request: CallRequest) -> UnsignedTransaction:
        """`request` with nonce, gas and fees filled in as eth_sendTransaction does.
        Raises UnknownAccount for a sender the node can neither sign for nor
        impersonate."""
        if request.sender is None:
            raise PeerChainError("missing 'from' in transaction")
        if request.sender not in self._keys and not self._can_impersonate(request.sender):
            raise UnknownAccount(f"unknown account 0x{request.sender.hex()}")
        head = self.pending_header()
        nonce = (
            request.nonce if request.nonce is not None else self.get_pending_nonce(request.sender)
        )
        gas = request.gas
        if gas is None:  # the transaction prints its console.log lines once it is mined
            gas = await self._estimate(request, head, console=False)
        legacy = request.gas_price is not None and request.max_fee_per_gas is None
        tip = request.max_priority_fee_per_gas
        if tip is None:
            tip = self.max_priority_fee()
        max_fee = request.max_fee_per_gas
        if max_fee is None:
            max_fee = 2 * self.next_base_fee() + tip
        unsigned = UnsignedTransaction(
            type=0 if legacy else 2,
            chain_id=self.chain_id,
            nonce=nonce,
            gas_limit=gas,
            max_fee_per_gas=request.gas_price if legacy and request.gas_price else max_fee,
            max_priority_fee_per_gas=0 if legacy else min(tip, max_fee),
            to=request.to,
            value=request.value,
            data=request.data,
            access_list=() if legacy else request.access_list,
        )
        return unsigned

    # --- dev methods ----------------------------------------------------------------
    def snapshot(self) -> int:
        snapshot_id = self._next_snapshot
        self._next_snapshot += 1
        head = self.ledger.head
        self._snapshots[snapshot_id] = _Snapshot(
            head.number, head.state_root, self._time_offset, self._next_timestamp
        )
        return snapshot_id

    def revert(self, snapshot_id: int) -> bool:
        snap = self._snapshots.get(snapshot_id)
        if snap is None:
            return False
        self._snapshots = {k: v for k, v in self._snapshots.items() if k < snapshot_id}
        self.ledger.rewind(snap.head, snap.state_root)
        self._time_offset = snap.time_offset
        self._next_timestamp = snap.next_timestamp
        self.mempool = Mempool(chain_id=self.chain_id)
        return True

    def mine(self, timestamp: int | None = None) -> None:
        self.mine_block(timestamp)

    def mine_blocks(self, count: int, interval: int = 1) -> None:
        """Mine `count` blocks, each `interval` seconds after the one before (the first
        at the usual time). Pending transactions go in the first blocks; a long run of
        empty blocks is reserved (`peerchain.core.reserved`), so that a million take
        no longer than a few."""
        if count <= 0:
            return
        if interval < 1:
            raise PeerChainError("interval must be at least 1 second")
        block = self.mine_block()
        left = count - 1
        while left > 0 and (len(self.mempool) or left <= MINE_FOR_REAL):
            block = self.mine_block(block.header.timestamp + interval)
            left -= 1
        if left == 0:
            return
        head = self.ledger.head
        if not can_reserve_after(head):
            for _ in range(left):
                block = self.mine_block(self.ledger.head.timestamp + interval)
            return
        reservation = Reservation(
            first=head.number + 1,
            last=head.number + left - 1,
            interval=interval,
            first_timestamp=head.timestamp + interval,
            parent=replace(head, coinbase=self.coinbase),
        )
        new_head = self.ledger.reserve(reservation)
        self._time_offset = max(self._time_offset, new_head.timestamp - int(self.clock.now()))
        self.events.publish("newHeads", new_head)
        log.info("mined blocks %d to %d (empty)", reservation.first, new_head.number)

    def increase_time(self, seconds: int) -> int:
        if seconds < 0:
            raise PeerChainError("cannot move time backwards")
        self._time_offset += seconds
        return self._time_offset

    def set_next_block_timestamp(self, timestamp: int) -> None:
        if timestamp <= self.ledger.head.timestamp:
            raise PeerChainError(
                f"timestamp {timestamp} is not after the head block's {self.ledger.head.timestamp}"
            )
        self._next_timestamp = timestamp

    def set_automine(self, enabled: bool) -> None:
        self._automine = enabled
        if enabled and len(self.mempool):
            self.mine_block()

    def set_interval_mining(self, interval_ms: int) -> None:
        if interval_ms < 0:
            raise PeerChainError("interval must not be negative")
        self._interval_ms = interval_ms
        self._interval_changed.set()

    def get_automine(self) -> bool:
        return self._automine

    def is_mining(self) -> bool:
        return self._automine or self._interval_ms > 0

    # --- Hardhat and Anvil dev methods ----------------------------------------------
    def edit_account(self, address: bytes, override: AccountOverride) -> None:
        """Set balance, nonce, code or storage of an account in the head state."""
        self.ledger.edit_head_state(((address, override),))

    def impersonate(self, address: bytes, enabled: bool) -> None:
        if enabled:
            self.impersonated.add(address)
        else:
            self.impersonated.discard(address)

    def drop_transaction(self, tx_hash: bytes) -> bool:
        return bool(self.mempool.remove([tx_hash]))

    def set_coinbase(self, address: bytes) -> None:
        self.coinbase = address

    def set_next_prev_randao(self, value: bytes) -> None:
        self._next_prev_randao = value

    def set_next_block_base_fee(self, base_fee: int) -> None:
        self._next_base_fee = base_fee

    def set_block_gas_limit(self, gas_limit: int) -> None:
        if gas_limit <= 0:
            raise PeerChainError("gas limit must be positive")
        self._gas_limit = gas_limit

    def dump_state(self) -> dict[str, Any]:
        """The head state as a versioned document (`peerchain.execution.statedump`)."""
        known = {*self._keys, *(a for a, _ in self.ledger.genesis.alloc), self.coinbase}
        known |= self.impersonated
        return self.ledger.engine.dump_state(self.ledger.head.state_root, sorted(known))

    def load_state(self, document: Any) -> None:
        """Load a state document's accounts into the head state."""
        root, changes = self.ledger.engine.load_state(self.ledger.head.state_root, document)
        self.ledger.set_head_state(root, changes)

    def reset(self) -> None:
        """Back to the genesis block: chain, time, mempool and dev settings."""
        self.ledger.rewind(0)
        self.mempool = Mempool(chain_id=self.chain_id)
        self._snapshots.clear()
        self._time_offset = 0
        self._next_timestamp = None
        self._next_base_fee = None
        self._next_prev_randao = None
        self._gas_limit = None
        self.impersonated.clear()
        self.auto_impersonate = False
