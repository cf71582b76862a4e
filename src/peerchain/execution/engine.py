"""The execution engine: builds and imports blocks with py-evm over the node's store.

`ExecutionEngine` is the one object the node holds; it also reads the chain and the
state (`reads`), runs calls, traces and simulations (`queries`) and makes a dev node's
chain edits (`chainedits`), all over the shared `session.EngineSession`. Building and
importing, here, return a block's writes as `ExecutedBlock.changes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth.abc import BlockHeaderAPI
from eth.db.chain import ChainDB
from eth.exceptions import UnrecognizedTransactionType
from eth_utils.exceptions import ValidationError

from peerchain.core.blocks import Block, Header, Receipt
from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError, PeerChainError
from peerchain.core.genesis import ZERO_HASH
from peerchain.core.rlp import LIBRARY_ERRORS, decode_object, encode_object
from peerchain.core.transactions import Transaction, decode_transaction
from peerchain.execution.bodies import (
    BodyHeader,
    InvalidBody,
    check_body,
    check_parts,
    encode_block,
    split_block,
)
from peerchain.execution.chainedits import ChainEdits
from peerchain.execution.chainrecords import write_block_records
from peerchain.execution.convert import evm_transaction, header_from_evm
from peerchain.execution.db import open_overlay
from peerchain.execution.queries import StateQueries
from peerchain.execution.reads import ChainReads
from peerchain.execution.receipts import block_receipts
from peerchain.execution.session import EmptyStore, InvalidBlock, error_reason, missing_is_fault
from peerchain.execution.tracing.console import ConsoleLines
from peerchain.execution.tracing.console import sink_to as console_sink
from peerchain.execution.transition import AppliedBlock, apply_block

__all__ = ["EmptyStore", "ExecutedBlock", "ExecutionEngine", "InvalidBlock"]

MAX_EXTRA_DATA = 32
# What py-evm raises for bytes it cannot decode into a block or transaction.
_UNDECODABLE: tuple[type[Exception], ...] = (
    DecodeError,
    *LIBRARY_ERRORS,
    UnrecognizedTransactionType,
    ValueError,
)


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


class ExecutionEngine(ChainReads, StateQueries, ChainEdits):
    """py-evm behind plain values: builds and imports blocks, reads the chain and the
    state, runs queries (see the modules of its bases). Reads through `reader`; never
    writes to it. Missing records under stored roots are reported to `faults`
    (LocalFaultError).

    `dev` (dev nodes only) reads impersonated transactions back with their sender and
    builds blocks with the gas limit and base fee it is given."""

    # --- building and importing ---------------------------------------------------
    @missing_is_fault
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
            raise InvalidBlock(error_reason(exc)) from exc
        console = ConsoleLines()
        builder = self._vm.get_transaction_builder()
        candidates: list[Transaction] = []
        evm_txs = []
        undecodable: list[tuple[Transaction, str]] = []
        for tx in txs:
            try:
                evm_tx = evm_transaction(builder, tx)
            except _UNDECODABLE as exc:
                undecodable.append(
                    (tx, f"transaction not supported by the VM: {error_reason(exc)}")
                )
                continue
            candidates.append(tx)
            evm_txs.append(evm_tx)
        try:
            with console_sink(console):
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
            raise InvalidBlock(error_reason(exc)) from exc
        included = tuple(candidates[i] for i in applied.included)
        skipped = (*undecodable, *((candidates[i], reason) for i, reason in applied.skipped))
        block = self._store_block(
            db, applied, included, [evm_txs[i] for i in applied.included], self._no_withdrawals
        )
        receipts = block_receipts(applied.outcomes, included, block.header)
        self._remember(block, receipts)
        return ExecutedBlock(block, receipts, skipped, dict(overlay.changes), console.lines())

    def check_body(self, block_rlp: bytes) -> BodyHeader:
        """Decode a block and check its body against its header, without executing it
        (see `bodies`). Raises InvalidBody."""
        return check_body(self._vm.get_block_class(), block_rlp)

    @missing_is_fault
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
        transaction_nodes: dict[bytes, bytes] = {}
        try:
            check_parts(parts, transaction_nodes)
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
                transactions_trie=(given.transaction_root, transaction_nodes),
            )
        except (ValidationError, ValueError) as exc:
            raise InvalidBlock(f"block {number}: {error_reason(exc)}") from exc
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
                evm_tx = evm_transaction(builder, tx)
            except _UNDECODABLE as exc:
                raise InvalidBlock(
                    f"block {number}: transaction {index}: {error_reason(exc)}"
                ) from exc
            evm_txs.append(evm_tx)
        return evm_txs


def _differing_fields(ours: BlockHeaderAPI, given: BlockHeaderAPI) -> str:
    """The names of the header fields in which two headers differ, comma-separated."""
    names = given._meta.field_names  # type: ignore[attr-defined]
    return ", ".join(n for n in names if getattr(ours, n) != getattr(given, n))
