"""The node's chain on disk: the store opened for one genesis plus the execution engine.

`Ledger` refuses a data directory made for another genesis, persists each executed
block (its state changes and the node's own records) in one atomic store write, and
answers chain reads for the RPC view.
"""

from __future__ import annotations

from peerchain.core.blocks import Block, Header, Log, Receipt
from peerchain.core.bloom import bloom_matches, log_matches
from peerchain.core.faults import corrupted
from peerchain.core.fees import next_base_fee
from peerchain.core.genesis import Genesis
from peerchain.core.mempool import AccountState
from peerchain.execution.engine import ExecutedBlock, ExecutionEngine
from peerchain.node.ports import ChainStore, Changes, StorageError

GENESIS_KEY = b"genesis-hash"
CHAIN_ID_KEY = b"chain-id"


class GenesisMismatch(StorageError):
    """The data directory holds a chain with a different genesis."""


class Ledger:
    """A chain store bound to one genesis. Raises GenesisMismatch or StorageError on open."""

    def __init__(self, store: ChainStore, genesis: Genesis) -> None:
        self.store = store
        self.faults = store.faults
        self.genesis = genesis
        self.engine = ExecutionEngine(store, genesis, store.faults)
        chain_id = genesis.chain_id.to_bytes(32, "big")
        stored = store.get_meta(GENESIS_KEY)
        if stored is None:
            block, changes = self.engine.genesis_changes()
            store.write(changes, {GENESIS_KEY: block.hash, CHAIN_ID_KEY: chain_id})
        elif stored != self.engine.genesis_hash or store.get_meta(CHAIN_ID_KEY) != chain_id:
            stored_id = int.from_bytes(store.get_meta(CHAIN_ID_KEY) or b"", "big")
            raise GenesisMismatch(
                f"data directory belongs to another chain (chain id {stored_id}, genesis "
                f"0x{stored.hex()}; this genesis has chain id {genesis.chain_id}, genesis "
                f"0x{self.engine.genesis_hash.hex()}); use another --datadir or remove this one"
            )
        self._head = self.engine.head()

    @property
    def head(self) -> Header:
        return self._head

    @property
    def chain_id(self) -> int:
        return self.genesis.chain_id

    def next_base_fee(self) -> int:
        """Base fee of the block after the head."""
        head = self._head
        return next_base_fee(head.gas_used, head.gas_limit, head.base_fee_per_gas or 0)

    def account_state(self, address: bytes) -> AccountState:
        """Nonce and balance of an account at the head (what the mempool checks against)."""
        head = self._head
        return AccountState(
            nonce=self.engine.get_nonce(address, head),
            balance=self.engine.get_balance(address, head),
        )

    def commit(self, executed: ExecutedBlock, meta: Changes | None = None) -> None:
        """Persist an executed block and the node's records for it in one write."""
        self.store.write(executed.changes, meta)
        self._head = executed.block.header

    def rewind(self, number: int) -> None:
        """Make block `number` the head again (dev snapshots)."""
        self.store.write(self.engine.rewind_changes(number))
        self._head = self.engine.head()

    def block_by_number(self, number: int) -> Block | None:
        if number < 0 or number > self._head.number:
            return None
        block = self.engine.get_block_by_number(number)
        if block is None:
            raise self.faults.raise_fault(
                corrupted(f"canonical block {number} is missing (head is {self._head.number})")
            )
        return block

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        block = self.engine.get_block_by_hash(block_hash)
        if block is None or block.number > self._head.number:
            return None
        canonical = self.engine.get_block_by_number(block.number)
        return block if canonical is not None and canonical.hash == block.hash else None

    def receipts(self, block_hash: bytes) -> tuple[Receipt, ...]:
        return self.engine.get_receipts(block_hash)

    def logs(
        self,
        from_block: int,
        to_block: int,
        addresses: tuple[bytes, ...] = (),
        topics: tuple[tuple[bytes, ...] | None, ...] = (),
    ) -> list[Log]:
        """Logs of canonical blocks in [from_block, to_block] matching the filter."""
        found: list[Log] = []
        for number in range(max(from_block, 0), min(to_block, self._head.number) + 1):
            header = self.engine.get_header_by_number(number)
            if header is None or not bloom_matches(header.logs_bloom, addresses, topics):
                continue  # the header's bloom rules the block out without reading it
            found.extend(self.block_logs(header.hash, addresses, topics))
        return found

    def block_logs(
        self,
        block_hash: bytes,
        addresses: tuple[bytes, ...] = (),
        topics: tuple[tuple[bytes, ...] | None, ...] = (),
    ) -> list[Log]:
        """Logs of one block matching the filter, in order."""
        return [
            log
            for receipt in self.engine.get_receipts(block_hash)
            for log in receipt.logs
            if log_matches(log.address, log.topics, addresses, topics)
        ]
