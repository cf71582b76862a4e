"""The execution engine: builds, executes and reads blocks with py-evm over the node's store.

Every operation runs py-evm on a fresh `OverlayDB` over the store's reader: py-evm's
ChainDB (headers, canonical chain, number -> hash, bodies, receipts, tx lookups) and
the state tries all live in that one key space. The decoded state tries outlive the
operation in the engine's `StateCache` (found by root hash), so consecutive blocks and
reads at the head do not decode the state again. The engine never writes; a block's
writes come back as `ExecutedBlock.changes`, which the node persists in one store
transaction. Once persisted, every later read sees them through the reader.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, Concatenate, ParamSpec, TypeVar

from eth.abc import (
    AccountDatabaseAPI,
    BlockAPI,
    BlockHeaderAPI,
    ChainDatabaseAPI,
    StateAPI,
)
from eth.chains.base import Chain
from eth.db.chain import ChainDB
from eth.db.chain_gaps import reopen_gap
from eth.db.schema import SchemaV1
from eth.exceptions import (
    BlockNotFound,
    CanonicalHeadNotFound,
    HeaderNotFound,
    TransactionNotFound,
    UnrecognizedTransactionType,
)
from eth.vm.chain_context import ChainContext
from eth.vm.interrupt import EVMMissingData
from eth_typing import Address, BlockNumber, Hash32
from eth_utils.exceptions import ValidationError
from trie.exceptions import MissingTrieNode

from peerchain.core.blocks import FORK_HEADER_FIELDS, Block, Header, Receipt, TxLocation
from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError, PeerChainError
from peerchain.core.faults import FaultLatch, corrupted
from peerchain.core.genesis import ZERO_HASH, Genesis
from peerchain.core.governance import GOVERNANCE_ADDRESS, genesis_account
from peerchain.core.kv import KeyValueReader
from peerchain.core.queries import AccountProof, BlockOverrides, CallRequest, StateOverrides
from peerchain.core.rlp import (
    LIBRARY_ERRORS,
    decode_object,
    decode_rlp,
    decode_uint,
    encode_object,
    encode_rlp,
    encode_uint,
)
from peerchain.core.simulate import PlannedBlock, SimulatedBlock, SimulateOptions
from peerchain.core.tracing import TraceConfig
from peerchain.core.transactions import Transaction, decode_transaction
from peerchain.execution import calls, proofs, statedump, tracing
from peerchain.execution.bodies import (
    BodyHeader,
    InvalidBody,
    check_body,
    check_parts,
    encode_block,
    split_block,
)
from peerchain.execution.calls import GasEstimate
from peerchain.execution.chainrecords import encode_gaps, write_block_records
from peerchain.execution.convert import (
    encode_transaction,
    header_from_evm,
    prime_sender,
)
from peerchain.execution.db import open_overlay
from peerchain.execution.lru import Lru
from peerchain.execution.receipts import block_receipts, receipts_from_evm
from peerchain.execution.simulate import simulate_blocks
from peerchain.execution.statecache import StateCache
from peerchain.execution.tracing.console import ConsoleLines
from peerchain.execution.tracing.console import capturing as console_capturing
from peerchain.execution.tracing.console import sink_to as console_sink
from peerchain.execution.transition import AppliedBlock, apply_block
from peerchain.execution.trie import MissingNode
from peerchain.execution.vm import FORKS

MAX_EXTRA_DATA = 32
# What py-evm raises for bytes it cannot decode into a block or transaction.
_UNDECODABLE: tuple[type[Exception], ...] = (
    DecodeError,
    *LIBRARY_ERRORS,
    UnrecognizedTransactionType,
    ValueError,
)
_CACHE_SIZE = 256

R = TypeVar("R")
P = ParamSpec("P")


class InvalidBlock(PeerChainError):
    """A block cannot be built or fails validation on import; the message says why."""


class EmptyStore(PeerChainError):
    """The store has no chain in it (genesis was never written)."""


@dataclass(frozen=True, slots=True)
class ExecutedBlock:
    """A block with the outcome of executing it on its parent's state.

    `changes` holds every store write (state trie nodes, header, body, receipts,
    canonical-chain records, tx lookups; None deletes) that makes this block the
    canonical head. `skipped` lists candidate transactions left out by
    `build_block`, with the reason. `console` holds the lines its transactions printed
    through Hardhat's console.log (built blocks only).
    """

    block: Block
    receipts: tuple[Receipt, ...]
    skipped: tuple[tuple[Transaction, str], ...]
    changes: dict[bytes, bytes | None]
    console: tuple[str, ...] = ()


def _missing_is_fault(
    method: Callable[Concatenate[ExecutionEngine, P], R],
) -> Callable[Concatenate[ExecutionEngine, P], R]:
    """Every block and state is kept, so a trie node or code missing under a stored root
    (py-evm's or our state layer's error) is damaged data: a local fault
    (LocalFaultError), not a missing answer."""

    def wrapper(self: ExecutionEngine, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except (EVMMissingData, MissingTrieNode, MissingNode) as exc:
            detail = f"a record under a stored root is missing ({_reason(exc, 160)})"
            raise self.faults.raise_fault(corrupted(detail)) from exc

    # Named as the method (functools.wraps), so that a query names it for a worker.
    return functools.wraps(method)(wrapper)


class ExecutionEngine:
    """py-evm behind plain values. Reads through `reader`; never writes to it.
    Missing records under stored roots are reported to `faults` (LocalFaultError).

    `dev` (dev nodes only) reads impersonated transactions back with their sender and
    builds blocks with the gas limit and base fee it is given."""

    def __init__(
        self,
        reader: KeyValueReader,
        genesis: Genesis,
        faults: FaultLatch | None = None,
        *,
        dev: bool = False,
    ) -> None:
        self.faults = faults if faults is not None else FaultLatch()
        self._reader = reader
        self._genesis = genesis
        self._dev = dev
        self._machine = FORKS[genesis.fork]
        self._vm = self._machine.vm
        self._building_vm = self._machine.dev_vm if dev else self._machine.vm
        # The VMs that hand console.log texts to the sink set around an execution.
        self._console_vm = console_capturing(self._building_vm)
        self._console_call_vm = console_capturing(self._vm)
        self._chain_class = self._machine.chain_class(genesis.chain_id)
        self._chain_context = ChainContext(genesis.chain_id)
        self._states = StateCache()
        self._genesis_block, self._genesis_changes = self._make_genesis()
        # Forks from Shanghai on have a (here always empty) withdrawals list in blocks.
        has_withdrawals = len(self._vm.get_block_class()._meta.sedes) > 3
        self._no_withdrawals: tuple[bytes, ...] | None = () if has_withdrawals else None
        self._blocks: Lru[bytes, Block] = Lru(_CACHE_SIZE)
        self._receipts: Lru[bytes, tuple[Receipt, ...]] = Lru(_CACHE_SIZE)
        self._evm_headers: Lru[bytes, BlockHeaderAPI] = Lru(_CACHE_SIZE)

    # --- genesis ------------------------------------------------------------
    @property
    def chain_id(self) -> int:
        return self._genesis.chain_id

    @property
    def genesis_hash(self) -> bytes:
        return self._genesis_block.hash

    def genesis_changes(self) -> tuple[Block, dict[bytes, bytes | None]]:
        """Genesis block and the writes that initialise an empty store with it."""
        return self._genesis_block, dict(self._genesis_changes)

    def _make_genesis(self) -> tuple[Block, dict[bytes, bytes | None]]:
        empty: dict[bytes, bytes] = {}
        db, overlay = open_overlay(empty)
        g = self._genesis
        params: dict[str, Any] = {
            "difficulty": g.difficulty,
            "gas_limit": g.gas_limit,
            "timestamp": g.timestamp,
            "extra_data": g.extra_data,
            "mix_hash": g.mix_hash,
            "nonce": g.nonce,
            "coinbase": g.coinbase,
            "base_fee_per_gas": g.base_fee_per_gas,
            "parent_beacon_block_root": ZERO_HASH,
        }
        state: dict[Any, Any] = {
            address: {
                "balance": account.balance,
                "nonce": account.nonce,
                "code": account.code,
                "storage": dict(account.storage),
            }
            for address, account in g.alloc
        }
        if g.validators:
            contract = genesis_account(
                g.validators, g.governance.proposal_lifetime, g.governance.jail_double_signers
            )
            state[GOVERNANCE_ADDRESS] = {
                "balance": 0, "nonce": 1, "code": contract.code, "storage": dict(contract.storage)
            }  # fmt: skip
        chain = self._chain_class.from_genesis(db, params, state)
        header = chain.get_canonical_head()
        evm_block = self._vm.get_block_class()(header=header, transactions=[], uncles=[])
        return self._to_block(evm_block, ()), dict(overlay.changes)

    # --- sessions -------------------------------------------------------------
    def _open(self) -> tuple[Chain, dict[bytes, bytes | None]]:
        db, overlay = open_overlay(self._reader, self._states)
        return self._chain_class(db), overlay.changes

    def _chaindb(self) -> ChainDB:
        """py-evm's chain records over the store, for reads (cheaper than a Chain)."""
        return ChainDB(open_overlay(self._reader, self._states)[0])

    def _kept(self, block_hash: bytes | None) -> Block | None:
        """The block kept since its execution, once its header is in the store (py-evm
        keeps a header under its hash); else None."""
        if block_hash is None:
            return None
        block = self._blocks.peek(block_hash)
        if block is None or self._reader.get(block_hash) is None:
            return None
        return block

    def _canonical_hash(self, number: int) -> bytes | None:
        """The canonical block hash at `number` from its lookup record, or None."""
        key = SchemaV1.make_block_number_to_hash_lookup_key(BlockNumber(number))
        raw = self._reader.get(key)
        if raw is None:
            return None
        block_hash = decode_rlp(raw)
        return block_hash if isinstance(block_hash, bytes) else None

    def _evm_header(self, chaindb: ChainDatabaseAPI, block_hash: bytes) -> BlockHeaderAPI:
        """py-evm's header of a stored block: the one its execution made while kept, else
        decoded from `chaindb`. Raises InvalidBlock for an unknown block."""
        kept = self._evm_headers.peek(block_hash)
        if kept is not None and self._reader.get(block_hash) is not None:
            return kept
        try:
            return chaindb.get_block_header_by_hash(Hash32(block_hash))
        except HeaderNotFound:
            raise InvalidBlock(f"unknown block 0x{block_hash.hex()}") from None

    def head(self) -> Header:
        """The canonical head recorded in the store. Raises EmptyStore before genesis."""
        chain, _ = self._open()
        try:
            return header_from_evm(chain.get_canonical_head())
        except CanonicalHeadNotFound:
            raise EmptyStore(
                "the store holds no chain yet: write genesis_changes() first"
            ) from None

    # --- building and importing ---------------------------------------------------
    @_missing_is_fault
    def build_block(
        self,
        parent: Header,
        txs: Sequence[Transaction],
        *,
        timestamp: int,
        coinbase: bytes,
        extra_data: bytes = b"",
        prev_randao: bytes = ZERO_HASH,
        gas_limit: int | None = None,
        base_fee: int | None = None,
        parent_beacon_block_root: bytes = ZERO_HASH,
    ) -> ExecutedBlock:
        """Execute `txs` in order on `parent`'s state as a new block.

        Transactions invalid at their turn are skipped, with the reason. `parent`
        is normally the canonical head: the block becomes the head when its changes
        are persisted; its `state_root` is the state the block starts from (a dev
        node's edited head state). Raises InvalidBlock if the header settings
        themselves are invalid (timestamp not after the parent's, extra data over
        32 bytes, unknown parent, gas limit beyond the 1/1024 step from the
        parent's, a `base_fee` other than the parent's rule; dev engines take gas
        limit and base fee as given). A network's blocks carry the hash of the next
        validator set in `parent_beacon_block_root` (docs/architecture.md); dev
        blocks zero.
        """
        if timestamp <= parent.timestamp:
            raise InvalidBlock(
                f"timestamp {timestamp} is not after the parent's {parent.timestamp}"
            )
        if len(extra_data) > MAX_EXTRA_DATA:
            raise InvalidBlock(f"extra data is {len(extra_data)} bytes, at most 32")
        db, overlay = open_overlay(self._reader, self._states)
        evm_parent = self._evm_header(ChainDB(db), parent.hash)
        try:
            header = self._vm.create_header_from_parent(
                evm_parent,
                coinbase=coinbase,
                timestamp=timestamp,
                extra_data=extra_data,
                mix_hash=prev_randao,
                gas_limit=evm_parent.gas_limit if gas_limit is None else gas_limit,
                parent_beacon_block_root=parent_beacon_block_root,
                difficulty=0,
            )
            if parent.state_root != evm_parent.state_root:
                header = header.copy(state_root=parent.state_root)
            if base_fee is not None:
                header = header.copy(base_fee_per_gas=base_fee)
            # A dev builder waives the parent-based gas limit and base fee rules.
            self._building_vm.validate_header(header, evm_parent)
        except ValidationError as exc:
            raise InvalidBlock(_reason(exc)) from exc
        console: list[str] = []
        builder = self._vm.get_transaction_builder()
        candidates: list[Transaction] = []
        evm_txs = []
        undecodable: list[tuple[Transaction, str]] = []
        for tx in txs:
            try:
                evm_tx = builder.decode(tx.raw)
            except _UNDECODABLE as exc:
                undecodable.append((tx, f"transaction not supported by the VM: {_reason(exc)}"))
                continue
            prime_sender(evm_tx, tx.sender)
            candidates.append(tx)
            evm_txs.append(evm_tx)
        try:
            with console_sink(console.append):
                applied = apply_block(
                    self._console_vm,
                    db,
                    header,
                    evm_txs,
                    [tx.raw for tx in candidates],
                    self._no_withdrawals,
                    chain_id=self.chain_id,
                    skip_invalid=True,
                )
        except ValidationError as exc:
            raise InvalidBlock(_reason(exc)) from exc
        included = tuple(candidates[i] for i in applied.included)
        skipped = (*undecodable, *((candidates[i], reason) for i, reason in applied.skipped))
        block = self._store_block(
            db, applied, included, [evm_txs[i] for i in applied.included], self._no_withdrawals
        )
        receipts = block_receipts(applied.outcomes, included, block.header)
        self._remember(block, receipts)
        return ExecutedBlock(block, receipts, skipped, dict(overlay.changes), tuple(console))

    def check_body(self, block_rlp: bytes) -> BodyHeader:
        """Decode a block and check its body against its header, without executing it
        (see `bodies`). Raises InvalidBody."""
        return check_body(self._vm.get_block_class(), block_rlp)

    @_missing_is_fault
    def execute_block(
        self, block_rlp: bytes, known: Mapping[bytes, Transaction] | None = None
    ) -> ExecutedBlock:
        """Import a block received from elsewhere: decode, execute, validate.

        Checks the body against the header and the header against its parent (number,
        timestamp, gas limit, base fee, extra data, post-merge fields) before executing,
        then every transaction (signature, chain id, nonce, funds, gas) and the
        resulting state root, receipts root, bloom, gas used and requests. A transaction
        found in `known` by its hash (the mempool's, decoded at admission) is not
        decoded again nor its sender recovered. Raises InvalidBlock with the reason.
        """
        try:
            parts = split_block(self._vm.get_block_class(), block_rlp)
        except InvalidBody as exc:
            raise InvalidBlock(str(exc)) from exc
        given = parts.header
        number = given.block_number
        try:
            check_parts(parts)
        except InvalidBody as exc:
            raise InvalidBlock(f"block {number}: {exc}") from exc
        db, overlay = open_overlay(self._reader, self._states)
        try:
            evm_parent = self._evm_header(ChainDB(db), given.parent_hash)
        except InvalidBlock:
            raise InvalidBlock(
                f"unknown parent 0x{given.parent_hash.hex()} of block {number}"
            ) from None
        transactions = self._decode_raw_transactions(parts.transactions, known or {}, number)
        evm_txs = self._evm_transactions(transactions, number)
        try:
            header = self._vm.create_header_from_parent(
                evm_parent,
                coinbase=given.coinbase,
                timestamp=given.timestamp,
                extra_data=given.extra_data,
                mix_hash=given.mix_hash,
                gas_limit=given.gas_limit,
                parent_beacon_block_root=given.parent_beacon_block_root,
                difficulty=given.difficulty,
            ).copy(nonce=given.nonce, uncles_hash=given.uncles_hash)
            self._vm.validate_header(header, evm_parent)
            applied = apply_block(
                self._vm,
                db,
                header,
                evm_txs,
                parts.transactions,
                parts.withdrawals,
                chain_id=self.chain_id,
                skip_invalid=False,
            )
        except (ValidationError, ValueError) as exc:
            raise InvalidBlock(f"block {number}: {_reason(exc)}") from exc
        differing = _differing_fields(applied.header, given)
        if differing:
            raise InvalidBlock(
                f"block {number}: result differs from the block's header: {differing}"
            )
        block = self._store_block(db, applied, transactions, evm_txs, parts.withdrawals, block_rlp)
        receipts = block_receipts(applied.outcomes, transactions, block.header)
        self._remember(block, receipts)
        return ExecutedBlock(block, receipts, (), dict(overlay.changes))

    def _store_block(
        self,
        db: Any,
        applied: AppliedBlock,
        transactions: Sequence[Transaction],
        evm_txs: Sequence[Any],
        withdrawals: Sequence[bytes] | None,
        block_rlp: bytes | None = None,
    ) -> Block:
        """Write the records that make an applied block the head; the block as a value
        (encoded unless `block_rlp` is given)."""
        header = applied.header
        header_rlp = encode_object(header)
        self._evm_headers.put(header.hash, header)

        def evm_block() -> Any:
            block_class = self._vm.get_block_class()
            sedes = block_class._meta.sedes
            fields: dict[str, Any] = {"header": header, "transactions": evm_txs, "uncles": []}
            if withdrawals is not None:
                fields["withdrawals"] = [
                    decode_object(w, sedes[3].element_sedes) for w in withdrawals
                ]
            return block_class(**fields)

        write_block_records(
            db, header, header_rlp, [tx.hash for tx in transactions], withdrawals or (), evm_block
        )
        return Block(
            header=header_from_evm(header),
            transactions=tuple(transactions),
            rlp=block_rlp or encode_block(header_rlp, [tx.raw for tx in transactions], withdrawals),
        )

    def _remember(self, block: Block, receipts: tuple[Receipt, ...]) -> None:
        """Keep an executed block and its receipts for the reads that follow its commit
        (subscriptions, receipts), so that they are not read back and decoded again. Reads
        find them only once the block is stored: they look its header up first."""
        self._blocks.put(block.hash, block)
        self._receipts.put(block.hash, receipts)

    def append_header(self, header: Header) -> tuple[Header, dict[bytes, bytes | None]]:
        """Writes that make `header`, an empty block declared rather than executed, the
        canonical head (the last block of a dev node's reserved range; its parent
        need not be stored). Returns the header with its hash."""
        chain, changes = self._open()
        head = chain.get_canonical_head()
        evm_header = _evm_header_like(head, header)
        db = chain.chaindb.db
        score_key = SchemaV1.make_block_hash_to_score_lookup_key
        score = decode_uint(db[score_key(head.hash)])
        db[evm_header.hash] = encode_object(evm_header)
        db[score_key(evm_header.hash)] = encode_rlp(encode_uint(score + header.number))
        number_key = SchemaV1.make_block_number_to_hash_lookup_key(BlockNumber(header.number))
        db[number_key] = encode_rlp(evm_header.hash)
        tip = ((), BlockNumber(header.number + 1))
        db[SchemaV1.make_header_chain_gaps_lookup_key()] = encode_gaps(tip)
        db[SchemaV1.make_chain_gaps_lookup_key()] = encode_gaps(tip)
        db[SchemaV1.make_canonical_head_hash_lookup_key()] = evm_header.hash
        return header_from_evm(evm_header), dict(changes)

    def apply_state_overrides(
        self, state_root: bytes, overrides: StateOverrides
    ) -> tuple[bytes, dict[bytes, bytes | None]]:
        """The state root after writing `overrides` into the state at `state_root`,
        and the store writes (trie nodes) that hold it (dev nodes' state edits)."""
        db, overlay = open_overlay(self._reader)
        account_db_class = self._vm.get_state_class().get_account_db_class()
        accounts: Any = account_db_class(db, Hash32(state_root))
        calls.apply_state_overrides(accounts, overrides)
        accounts.persist()
        return bytes(accounts.state_root), dict(overlay.changes)

    def dump_state(self, state_root: bytes, addresses: Sequence[bytes]) -> dict[str, Any]:
        """The accounts under `state_root` as a state document (`statedump`)."""
        chain, _ = self._open()
        return statedump.dump_state(chain.chaindb.db, state_root, addresses)

    def load_state(
        self, state_root: bytes, document: Any
    ) -> tuple[bytes, dict[bytes, bytes | None]]:
        """The state root after loading a state document into the state at `state_root`,
        and the store writes that hold it. Raises statedump.InvalidStateDump."""
        db, overlay = open_overlay(self._reader)
        root = statedump.load_state(db, state_root, document)
        return root, dict(overlay.changes)

    def rewind_changes(
        self, number: int, unstored: Sequence[range] = ()
    ) -> dict[bytes, bytes | None]:
        """Writes that make canonical block `number` the head again (dev snapshots).

        Blocks above it stay stored by hash but leave the canonical chain, with their
        number and transaction lookups. `unstored` are the numbers of canonical blocks
        that were never stored (reserved ranges). Raises InvalidBlock for an unknown
        number.
        """
        chain, changes = self._open()
        chaindb: Any = chain.chaindb
        db = chaindb.db
        head = chain.get_canonical_head()
        try:
            target = chain.get_canonical_block_header_by_number(BlockNumber(number))
        except HeaderNotFound:
            raise InvalidBlock(f"no canonical block {number}") from None
        numbers = [
            BlockNumber(n)
            for n in range(head.block_number, number, -1)
            if not any(n in r for r in unstored)
        ]
        chaindb._decanonicalize_old_headers(db, numbers)
        header_gaps = chaindb.get_header_chain_gaps()
        block_gaps = chaindb.get_chain_gaps()
        for n in numbers:
            db.delete(SchemaV1.make_block_number_to_hash_lookup_key(n))
            header_gaps = reopen_gap(n, header_gaps)
            block_gaps = reopen_gap(n, block_gaps)
        if unstored:  # the chain up to `number` is whole: nothing above it is known
            header_gaps = block_gaps = ((), BlockNumber(number + 1))
        if numbers:
            db[SchemaV1.make_header_chain_gaps_lookup_key()] = encode_gaps(header_gaps)
            db[SchemaV1.make_chain_gaps_lookup_key()] = encode_gaps(block_gaps)
        db[SchemaV1.make_canonical_head_hash_lookup_key()] = target.hash
        return dict(changes)

    # --- chain reads ------------------------------------------------------------
    def get_block_by_hash(self, block_hash: bytes) -> Block | None:
        """A stored block (canonical or not), or None."""
        kept = self._kept(block_hash)
        if kept is not None:
            return kept
        chain, _ = self._open()
        try:
            header = chain.chaindb.get_block_header_by_hash(Hash32(block_hash))
        except HeaderNotFound:
            return None
        return self._blocks.get(header.hash, lambda: self._read_block(chain, header))

    def get_block_by_number(self, number: int) -> Block | None:
        """The canonical block at `number`, or None."""
        kept = self._kept(self._canonical_hash(number))
        if kept is not None:
            return kept
        chain, _ = self._open()
        try:
            header = chain.get_canonical_block_header_by_number(BlockNumber(number))
        except HeaderNotFound:
            return None
        return self._blocks.get(header.hash, lambda: self._read_block(chain, header))

    @_missing_is_fault
    def get_block_rlp_by_number(self, number: int) -> tuple[bytes, bytes] | None:
        """(hash, encoded block) of the canonical block at `number`, or None: what a peer
        that syncs is sent, without decoding the transactions or recovering senders."""
        chain, _ = self._open()
        try:
            header = chain.get_canonical_block_header_by_number(BlockNumber(number))
        except HeaderNotFound:
            return None
        cached = self._blocks.peek(header.hash)
        if cached is not None:
            return cached.hash, cached.rlp
        try:
            evm_block = chain.get_block_by_header(header)
        except BlockNotFound as exc:
            detail = f"the body of stored block {number} 0x{header.hash.hex()} is missing"
            raise self.faults.raise_fault(corrupted(detail)) from exc
        return bytes(header.hash), encode_object(evm_block)

    def get_header_by_number(self, number: int) -> Header | None:
        """The canonical header at `number` (no body read), or None."""
        kept = self._kept(self._canonical_hash(number))
        if kept is not None:
            return kept.header
        chain, _ = self._open()
        try:
            header = chain.get_canonical_block_header_by_number(BlockNumber(number))
        except HeaderNotFound:
            return None
        return header_from_evm(header)

    def get_receipts(self, block_hash: bytes) -> tuple[Receipt, ...]:
        """Receipts of a stored block in transaction order (empty if unknown)."""
        block = self.get_block_by_hash(block_hash)
        if block is None:
            return ()
        cached = self._receipts.peek(block_hash)
        if cached is not None:
            return cached
        chain, _ = self._open()
        header = chain.chaindb.get_block_header_by_hash(Hash32(block_hash))
        return self._receipts.get(block_hash, lambda: self._block_receipts(chain, header, block))

    def get_transaction_location(self, tx_hash: bytes) -> TxLocation | None:
        """Where a canonical transaction sits, or None."""
        chaindb = self._chaindb()
        try:
            number, index = chaindb.get_transaction_index(Hash32(tx_hash))
            block_hash = chaindb.get_canonical_block_hash(number)
        except (TransactionNotFound, HeaderNotFound):
            return None
        return TxLocation(block_hash=block_hash, block_number=number, index=index)

    @_missing_is_fault
    def _read_block(self, chain: Chain, header: BlockHeaderAPI) -> Block:
        try:
            evm_block = chain.get_block_by_header(header)
        except BlockNotFound as exc:
            number, block_hash = header.block_number, header.hash.hex()
            detail = f"the body of stored block {number} 0x{block_hash} is missing"
            raise self.faults.raise_fault(corrupted(detail)) from exc
        return self._to_block(evm_block, self._decode_transactions(evm_block, {}))

    def _decode_transactions(
        self, evm_block: BlockAPI, known: Mapping[bytes, Transaction]
    ) -> tuple[Transaction, ...]:
        """Core transactions of a py-evm block, each sender recovered once (or taken
        from `known`, by hash).

        The sender is handed to py-evm's transaction object too, so executing the
        block does not recover it again. Raises InvalidBlock."""
        decoded = []
        for index, evm_tx in enumerate(evm_block.transactions):
            raw = encode_transaction(evm_tx)
            tx = known.get(keccak256(raw)) if known else None
            if tx is None:
                try:
                    tx = decode_transaction(raw, self.chain_id, impersonation=self._dev)
                except PeerChainError as exc:
                    raise InvalidBlock(
                        f"block {evm_block.number}: transaction {index}: {exc}"
                    ) from exc
            prime_sender(evm_tx, tx.sender)
            decoded.append(tx)
        return tuple(decoded)

    def _decode_raw_transactions(
        self, raws: Sequence[bytes], known: Mapping[bytes, Transaction], number: int
    ) -> tuple[Transaction, ...]:
        """Core transactions of a received block, each sender recovered once (or taken
        from `known`, by hash). Raises InvalidBlock."""
        decoded = []
        for index, raw in enumerate(raws):
            tx = known.get(keccak256(raw)) if known else None
            if tx is None:
                try:
                    tx = decode_transaction(raw, self.chain_id, impersonation=self._dev)
                except PeerChainError as exc:
                    raise InvalidBlock(f"block {number}: transaction {index}: {exc}") from exc
            decoded.append(tx)
        return tuple(decoded)

    def _evm_transactions(self, transactions: Sequence[Transaction], number: int) -> list[Any]:
        """py-evm's transactions for executing core ones, their senders already known.
        Raises InvalidBlock."""
        builder = self._vm.get_transaction_builder()
        evm_txs = []
        for index, tx in enumerate(transactions):
            try:
                evm_tx = builder.decode(tx.raw)
            except _UNDECODABLE as exc:
                raise InvalidBlock(f"block {number}: transaction {index}: {_reason(exc)}") from exc
            prime_sender(evm_tx, tx.sender)
            evm_txs.append(evm_tx)
        return evm_txs

    def _block_receipts(
        self, chain: Chain, header: BlockHeaderAPI, block: Block
    ) -> tuple[Receipt, ...]:
        evm_receipts = chain.chaindb.get_receipts(header, self._vm.get_receipt_builder())
        return receipts_from_evm(evm_receipts, block.transactions, block.header)

    def _to_block(
        self,
        evm_block: BlockAPI,
        transactions: tuple[Transaction, ...],
        encoded: bytes | None = None,
    ) -> Block:
        return Block(
            header=header_from_evm(evm_block.header),
            transactions=transactions,
            rlp=encode_object(evm_block) if encoded is None else encoded,
        )

    # --- state reads --------------------------------------------------------------
    def _accounts(self, header: Header) -> AccountDatabaseAPI:
        """The accounts under `header`'s state root, over a throwaway overlay."""
        db, _ = open_overlay(self._reader, self._states)
        account_db_class = self._vm.get_state_class().get_account_db_class()
        accounts: AccountDatabaseAPI = account_db_class(db, Hash32(header.state_root))
        return accounts

    @_missing_is_fault
    def get_balance(self, address: bytes, header: Header) -> int:
        return self._accounts(header).get_balance(Address(address))

    @_missing_is_fault
    def get_nonce(self, address: bytes, header: Header) -> int:
        return self._accounts(header).get_nonce(Address(address))

    @_missing_is_fault
    def get_nonce_and_balance(self, address: bytes, header: Header) -> tuple[int, int]:
        """Both in one account lookup (what the mempool checks a sender against)."""
        accounts = self._accounts(header)
        return accounts.get_nonce(Address(address)), accounts.get_balance(Address(address))

    @_missing_is_fault
    def get_code(self, address: bytes, header: Header) -> bytes:
        return bytes(self._accounts(header).get_code(Address(address)))

    @_missing_is_fault
    def get_storage(self, address: bytes, slot: int, header: Header) -> bytes:
        """The 32-byte value of a storage slot."""
        return self._accounts(header).get_storage(Address(address), slot).to_bytes(32, "big")

    @_missing_is_fault
    def get_proof(self, address: bytes, slots: Sequence[int], header: Header) -> AccountProof:
        """Account and storage-slot values at `header` with their Merkle proofs."""
        chain, _ = self._open()
        return proofs.account_proof(chain.chaindb.db, header.state_root, address, slots)

    @_missing_is_fault
    def call(
        self,
        request: CallRequest,
        header: Header,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
        gas_cap: int | None = None,
        console: ConsoleLines | None = None,
    ) -> bytes:
        """Output of `request` run on `header`'s state, in `header`'s block context.

        `header` may be one that is not stored (a pending block). The request runs with
        its own gas or, without one, the block's gas limit; never with more than
        `gas_cap` (geth's RPC gas cap). Its console.log lines go to `console`. Raises
        ExecutionReverted (message and revert data) or ExecutionFailed."""
        state, request = self._call_state(
            request, header, state_overrides, block_overrides, gas_cap, console
        )
        with _printing_to(console):
            return calls.call(state, self._vm.get_transaction_builder(), request, _gas(request))

    @_missing_is_fault
    def estimate_gas(
        self,
        request: CallRequest,
        header: Header,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
        gas_cap: int | None = None,
        console: ConsoleLines | None = None,
    ) -> GasEstimate:
        """A gas limit with which `request` succeeds on `header`'s state (see
        `calls.estimate_gas`), searched below the gas `call` would give it, and at least
        its calldata floor from Prague on. The console.log lines of its run with all that
        gas go to `console`.

        Raises ExecutionReverted or ExecutionFailed if it fails with all that gas."""
        floor = calls.calldata_floor(request.data) if self._genesis.fork == "Prague" else 0
        state, request = self._call_state(
            request, header, state_overrides, block_overrides, gas_cap, console
        )
        builder = self._vm.get_transaction_builder()
        with _printing_to(console):
            return calls.estimate_gas(state, builder, request, _gas(request), floor, console)

    def create_access_list(
        self, request: CallRequest, header: Header, gas_cap: int | None = None
    ) -> tuple[tuple[tuple[bytes, tuple[int, ...]], ...], int, str | None]:
        """Access list of `request` on `header`'s state, the gas used with it and the
        error if it fails (see `calls.create_access_list`), with the gas `call` would
        give it."""
        state, request = self._call_state(request, header, (), None, gas_cap)
        builder = self._vm.get_transaction_builder()
        return calls.create_access_list(state, builder, request, _gas(request))

    # --- tracing ---------------------------------------------------------------
    def trace_block(
        self, block_hash: bytes, config: TraceConfig, only: int | None = None
    ) -> list[tuple[bytes, Any]]:
        """(tx hash, trace) for a stored block's transactions, or for the one at `only`.

        Raises InvalidBlock for an unknown block, TraceFailed for genesis."""
        chain, _ = self._open()
        evm_block = chain.get_block_by_header(self._evm_header(chain.chaindb, block_hash))
        return tracing.trace_block(
            self._vm,
            chain.chaindb,
            self._chain_context,
            chain.consensus_context,
            evm_block,
            config,
            only,
        )

    def trace_call(
        self,
        request: CallRequest,
        header: Header,
        config: TraceConfig,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
        gas_cap: int | None = None,
        console: ConsoleLines | None = None,
    ) -> Any:
        """Trace `request` run on `header`'s state (with the overrides, the gas and the
        console, as in `call`). Raises ExecutionFailed if it cannot run."""
        state, request = self._call_state(
            request, header, state_overrides, block_overrides, gas_cap, console
        )
        builder = self._vm.get_transaction_builder()
        with _printing_to(console):
            return tracing.trace_call(self._vm, state, builder, request, _gas(request), config)

    @_missing_is_fault
    def simulate(
        self,
        plan: Sequence[PlannedBlock],
        options: SimulateOptions,
        header: Header,
        gas_cap: int,
        console: ConsoleLines | None = None,
    ) -> tuple[SimulatedBlock, ...]:
        """eth_simulateV1: `plan` run on `header`'s state (see `simulate`), all its calls
        within `gas_cap` together, their console.log lines going to `console`. Raises
        SimulateError."""
        chain, _ = self._open()
        vm = self._call_vm(console)
        base = self._evm_header_of(chain, header)
        with _printing_to(console):
            return simulate_blocks(
                vm,
                chain.chaindb,
                self._chain_context,
                chain.consensus_context,
                base,
                plan,
                options,
                gas_cap,
            )

    def _call_vm(self, console: ConsoleLines | None) -> Any:
        """The VM class a query runs on: one that prints console.log texts if it has
        `console` to print them into."""
        return self._vm if console is None else self._console_call_vm

    def _evm_header_of(self, chain: Chain, header: Header) -> BlockHeaderAPI:
        """py-evm's header of `header`, also of one that is not stored (a pending block,
        a dev node's edited head state)."""
        try:
            evm_header = chain.chaindb.get_block_header_by_hash(Hash32(header.hash))
        except HeaderNotFound:
            evm_header = _evm_header_like(chain.get_canonical_head(), header)
        if evm_header.state_root != header.state_root:
            evm_header = evm_header.copy(state_root=header.state_root)
        return evm_header

    def _call_state(
        self,
        request: CallRequest,
        header: Header,
        state_overrides: StateOverrides,
        block_overrides: BlockOverrides | None,
        gas_cap: int | None,
        console: ConsoleLines | None = None,
    ) -> tuple[StateAPI, CallRequest]:
        """The state to run `request` on (its console.log lines going to `console`), and
        `request` with the gas it runs with."""
        chain, _ = self._open()
        evm_header = self._evm_header_of(chain, header)
        state = calls.call_state(
            self._call_vm(console),
            chain.chaindb,
            evm_header,
            self._chain_context,
            request,
            state_overrides,
            block_overrides,
        )
        gas = evm_header.gas_limit
        if block_overrides is not None and block_overrides.gas_limit is not None:
            gas = block_overrides.gas_limit
        if request.gas is not None:
            gas = request.gas
        return state, replace(request, gas=gas if gas_cap is None else min(gas, gas_cap))

    def pending_header(
        self, parent: Header, *, timestamp: int, coinbase: bytes, prev_randao: bytes
    ) -> Header:
        """The header the next block on `parent` would start with (no transactions),
        for calls and reads of the `pending` block."""
        chain, _ = self._open()
        evm_parent = self._evm_header(chain.chaindb, parent.hash)
        header = self._vm.create_header_from_parent(
            evm_parent,
            coinbase=coinbase,
            timestamp=max(timestamp, parent.timestamp + 1),
            mix_hash=prev_randao,
            gas_limit=evm_parent.gas_limit,
            parent_beacon_block_root=ZERO_HASH,
            difficulty=0,
        )
        return header_from_evm(header.copy(state_root=parent.state_root))


def _reason(exc: Exception, limit: int = 300) -> str:
    """A library error's message on one line, cut to a readable length.

    py-evm's "locally executed block differs" error is reduced to the field names."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if text.startswith("Mismatch between locally executed block"):
        fields = re.findall(r"- ([\w.]+): \(locally executed block\)", text)
        return "result differs from the block's header: " + ", ".join(fields)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _evm_header_like(template: BlockHeaderAPI, header: Header) -> BlockHeaderAPI:
    """A py-evm header of `template`'s fork carrying the fields of a core `header`."""
    fields: dict[str, Any] = {
        "parent_hash": header.parent_hash,
        "uncles_hash": header.uncles_hash,
        "coinbase": header.coinbase,
        "state_root": header.state_root,
        "transaction_root": header.transactions_root,
        "receipt_root": header.receipts_root,
        "bloom": int.from_bytes(header.logs_bloom, "big"),
        "difficulty": header.difficulty,
        "block_number": header.number,
        "gas_limit": header.gas_limit,
        "gas_used": header.gas_used,
        "timestamp": header.timestamp,
        "extra_data": header.extra_data,
        "mix_hash": header.mix_hash,
        "nonce": header.nonce,
    }
    for name in FORK_HEADER_FIELDS:
        value = getattr(header, name)
        if value is not None and hasattr(template, name):
            fields[name] = value
    return template.copy(**fields)


def _differing_fields(ours: BlockHeaderAPI, given: BlockHeaderAPI) -> str:
    """The names of the header fields in which two headers differ, comma-separated."""
    names = given._meta.field_names  # type: ignore[attr-defined]
    return ", ".join(n for n in names if getattr(ours, n) != getattr(given, n))


def _gas(request: CallRequest) -> int:
    assert request.gas is not None, "set by _call_state"
    return request.gas


def _printing_to(console: ConsoleLines | None) -> AbstractContextManager[None]:
    """Console.log texts of the executions inside go to `console` (nowhere if None)."""
    return console_sink(None if console is None else console.append)
