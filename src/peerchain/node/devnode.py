"""Dev mode: one node that makes blocks on demand (automine) or at an interval.

This is what dApp authors run all day: prefunded well-known accounts whose keys the
node holds, `eth_sendTransaction` and `eth_sign` for them, and the usual dev methods
(snapshots, time travel, mining on demand).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from peerchain.core.blocks import Block
from peerchain.core.crypto import keccak256, private_key_to_address, sign_hash
from peerchain.core.errors import PeerChainError
from peerchain.core.genesis import ZERO_ADDRESS
from peerchain.core.mempool import Mempool
from peerchain.core.transactions import UnsignedTransaction, sign_transaction
from peerchain.node.chainview import ChainView
from peerchain.node.events import EventHub
from peerchain.node.ledger import Ledger
from peerchain.node.ports import Clock
from peerchain.node.view import CallRequest

log = logging.getLogger(__name__)
# console.log output of contracts, printed as Hardhat and Anvil print it
console_log = logging.getLogger("peerchain.console")


class UnknownAccount(PeerChainError):
    """The address is not one of this node's dev accounts."""


@dataclass(slots=True)
class _Snapshot:
    head: int
    time_offset: int
    next_timestamp: int | None


class DevNode(ChainView):
    """A single block-producing node for development. Implements `NodeView`."""

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
    ) -> None:
        super().__init__(ledger, mempool or Mempool(chain_id=ledger.chain_id), EventHub())
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

    # --- block production ---------------------------------------------------------
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

    def mine_block(self, timestamp: int | None = None) -> Block:
        """Build a block from the mempool on the head, commit it and announce it."""
        head = self.ledger.head
        base_fee = self.next_base_fee()
        candidates = self.mempool.reap(head.gas_limit, base_fee)
        executed = self.ledger.engine.build_block(
            head,
            candidates,
            timestamp=self._timestamp(timestamp),
            coinbase=self.coinbase,
            prev_randao=keccak256(head.hash),
        )
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
        tx = self.admit_transaction(raw)
        if self._automine:
            self.mine_block()
        return tx.hash

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
                self.mine_block()

    # --- dev accounts ---------------------------------------------------------------
    def accounts(self) -> list[bytes]:
        return list(self._keys)

    def _key(self, address: bytes) -> bytes:
        key = self._keys.get(address)
        if key is None:
            raise UnknownAccount(f"unknown account 0x{address.hex()}")
        return key

    def sign(self, address: bytes, message: bytes) -> bytes:
        prefix = f"\x19Ethereum Signed Message:\n{len(message)}".encode()
        parity, r, s = sign_hash(keccak256(prefix + message), self._key(address))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + parity])

    def send_transaction(self, request: CallRequest) -> bytes:
        if request.sender is None:
            raise PeerChainError("missing 'from' in transaction")
        key = self._key(request.sender)
        head = self.ledger.head
        nonce = (
            request.nonce if request.nonce is not None else self.get_pending_nonce(request.sender)
        )
        gas = request.gas if request.gas is not None else self.estimate_gas(request, head)
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
        tx = sign_transaction(unsigned, key)
        return self.send_raw_transaction(tx.raw)

    # --- dev methods ----------------------------------------------------------------
    def snapshot(self) -> int:
        snapshot_id = self._next_snapshot
        self._next_snapshot += 1
        self._snapshots[snapshot_id] = _Snapshot(
            self.ledger.head.number, self._time_offset, self._next_timestamp
        )
        return snapshot_id

    def revert(self, snapshot_id: int) -> bool:
        snap = self._snapshots.get(snapshot_id)
        if snap is None:
            return False
        self._snapshots = {k: v for k, v in self._snapshots.items() if k < snapshot_id}
        self.ledger.rewind(snap.head)
        self._time_offset = snap.time_offset
        self._next_timestamp = snap.next_timestamp
        self.mempool = Mempool(chain_id=self.chain_id)
        return True

    def mine(self, timestamp: int | None = None) -> None:
        self.mine_block(timestamp)

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
