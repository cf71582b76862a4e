"""The node's chain on disk: the store opened for one genesis plus the execution engine.

`Ledger` refuses a data directory made for another genesis, persists each executed
block (its state changes and the node's own records) in one atomic store write, and
answers chain reads for the RPC view.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace

from peerchain.core.blocks import Block, Header, Log, Receipt
from peerchain.core.bloom import bloom_matches, log_matches
from peerchain.core.faults import corrupted
from peerchain.core.fees import next_base_fee
from peerchain.core.genesis import Genesis
from peerchain.core.mempool import AccountState
from peerchain.core.queries import QueryLimitExceeded, StateOverrides
from peerchain.core.reserved import Reservation
from peerchain.execution.engine import ExecutedBlock, ExecutionEngine
from peerchain.node.ports import ChainStore, Changes, StorageError

GENESIS_KEY = b"genesis-hash"
# Accounts whose head state is kept between two blocks for the mempool's checks.
ACCOUNT_CACHE = 10_000
CHAIN_ID_KEY = b"chain-id"
# Dev nodes: the head's edited state (head hash + state root) and the reserved ranges.
HEAD_STATE_KEY = b"dev-head-state"
RESERVATIONS_KEY = b"dev-reservations"


class GenesisMismatch(StorageError):
    """The data directory holds a chain with a different genesis."""


class Ledger:
    """A chain store bound to one genesis. Raises GenesisMismatch or StorageError on open.

    A `dev` ledger also keeps what only dev nodes do: state edits of the head block
    (the head's state then differs from its header's root until the next block) and
    reserved ranges of empty blocks (`peerchain.core.reserved`)."""

    def __init__(self, store: ChainStore, genesis: Genesis, *, dev: bool = False) -> None:
        self.store = store
        self.faults = store.faults
        self.genesis = genesis
        self.engine = ExecutionEngine(store, genesis, store.faults, dev=dev)
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
        self._head_state = self._load_head_state()
        self._reservations = [
            Reservation.from_json(r) for r in json.loads(store.get_meta(RESERVATIONS_KEY) or "[]")
        ]
        self._accounts: dict[bytes, AccountState] = {}
        self._accounts_root = b""

    @property
    def head(self) -> Header:
        """The head block's header, over the head's current state (see `at_state`)."""
        return self.at_state(self._head)

    def at_state(self, header: Header) -> Header:
        """`header`, with the edited state root if it is the head's and was edited."""
        if self._head_state is None or header.hash != self._head.hash:
            return header
        return replace(header, state_root=self._head_state)

    def _load_head_state(self) -> bytes | None:
        record = self.store.get_meta(HEAD_STATE_KEY)
        if record is None or record[:32] != self._head.hash:
            return None
        return record[32:]

    def edit_head_state(self, overrides: StateOverrides) -> None:
        """Write `overrides` into the head's state (dev methods such as setBalance)."""
        root, changes = self.engine.apply_state_overrides(self.head.state_root, overrides)
        self.set_head_state(root, changes)

    def set_head_state(self, root: bytes, changes: Changes | None = None) -> None:
        """Make `root` (whose trie nodes are stored or in `changes`) the head's state."""
        self.store.write(changes or {}, {HEAD_STATE_KEY: self._head.hash + root})
        self._head_state = None if root == self._head.state_root else root

    @property
    def reservations(self) -> tuple[Reservation, ...]:
        return tuple(self._reservations)

    def reserve(self, reservation: Reservation) -> Header:
        """Declare `reservation`'s empty blocks and store the block after them as the
        head. Returns that head."""
        head, changes = self.engine.append_header(reservation.header(reservation.last + 1))
        kept = [*self._reservations, reservation]
        self.store.write(changes, {RESERVATIONS_KEY: _encode_reservations(kept)})
        self._reservations = kept
        self._head = head
        self._head_state = None
        return head

    @property
    def chain_id(self) -> int:
        return self.genesis.chain_id

    def next_base_fee(self) -> int:
        """Base fee of the block after the head."""
        head = self._head
        return next_base_fee(head.gas_used, head.gas_limit, head.base_fee_per_gas or 0)

    def account_state(self, address: bytes) -> AccountState:
        """Nonce and balance of an account at the head (what the mempool checks against),
        read once per head state: a sender's many transactions between two blocks share
        it."""
        head = self.head
        if head.state_root != self._accounts_root or len(self._accounts) >= ACCOUNT_CACHE:
            self._accounts.clear()
            self._accounts_root = head.state_root
        found = self._accounts.get(address)
        if found is None:
            nonce, balance = self.engine.get_nonce_and_balance(address, head)
            found = self._accounts[address] = AccountState(nonce=nonce, balance=balance)
        return found

    def commit(self, executed: ExecutedBlock, meta: Changes | None = None) -> None:
        """Persist an executed block and the node's records for it in one write."""
        self.store.write(executed.changes, meta)
        self.advance(executed)

    def advance(self, executed: ExecutedBlock) -> None:
        """Make an executed block that is now in the store the head (a node whose
        executor persisted it calls this)."""
        self._head = executed.block.header
        self._head_state = None

    def rewind(self, number: int, head_state: bytes | None = None) -> None:
        """Make block `number` the head again, over `head_state` if given (dev
        snapshots). Reserved ranges above it are dropped."""
        unstored = [r.numbers for r in self._reservations]
        kept = [r for r in self._reservations if r.last < number]
        changes = self.engine.rewind_changes(number, unstored)
        meta = {RESERVATIONS_KEY: _encode_reservations(kept)}
        self.store.write(changes, meta)
        self._reservations = kept
        self._head = self.engine.head()
        self._head_state = None
        if head_state is not None:
            self.set_head_state(head_state)

    def _reservation_of(self, number: int) -> Reservation | None:
        for reservation in self._reservations:
            if number in reservation.numbers:
                return reservation
        return None

    def block_by_number(self, number: int) -> Block | None:
        if number < 0 or number > self._head.number:
            return None
        reservation = self._reservation_of(number)
        if reservation is not None:
            return reservation.block(number)
        block = self.engine.get_block_by_number(number)
        if block is None:
            raise self.faults.raise_fault(
                corrupted(f"canonical block {number} is missing (head is {self._head.number})")
            )
        return block

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        for reservation in self._reservations:
            number = reservation.number_of(block_hash)
            if number is not None:
                return reservation.block(number)
        block = self.engine.get_block_by_hash(block_hash)
        if block is None or block.number > self._head.number:
            return None
        canonical = self.engine.get_block_by_number(block.number)
        return block if canonical is not None and canonical.hash == block.hash else None

    def receipts(self, block_hash: bytes) -> tuple[Receipt, ...]:
        return self.engine.get_receipts(block_hash)


def _encode_reservations(reservations: list[Reservation]) -> bytes:
    return json.dumps([r.to_json() for r in reservations]).encode()


def find_logs(
    engine: ExecutionEngine,
    first: int,
    last: int,
    addresses: tuple[bytes, ...],
    topics: tuple[tuple[bytes, ...] | None, ...],
    max_logs: int,
) -> list[Log]:
    """Logs of canonical blocks first..last matching the filter (a query: see
    `node.queries`). Raises QueryLimitExceeded past `max_logs` logs."""
    found: list[Log] = []
    for number in range(max(first, 0), last + 1):
        header = engine.get_header_by_number(number)
        if header is None or not bloom_matches(header.logs_bloom, addresses, topics):
            continue  # the header's bloom rules the block out without reading it
        found.extend(matching_logs(engine.get_receipts(header.hash), addresses, topics))
        if len(found) > max_logs:
            raise QueryLimitExceeded(
                f"query returned more than {max_logs} results; query a smaller block range"
            )
    return found


def block_logs(
    engine: ExecutionEngine,
    block_hash: bytes,
    addresses: tuple[bytes, ...],
    topics: tuple[tuple[bytes, ...] | None, ...],
) -> list[Log]:
    """Logs of one stored block matching the filter (a query)."""
    return matching_logs(engine.get_receipts(block_hash), addresses, topics)


def matching_logs(
    receipts: Iterable[Receipt],
    addresses: tuple[bytes, ...] = (),
    topics: tuple[tuple[bytes, ...] | None, ...] = (),
) -> list[Log]:
    """The logs of `receipts` matching the filter, in order."""
    return [
        log
        for receipt in receipts
        for log in receipt.logs
        if log_matches(log.address, log.topics, addresses, topics)
    ]
