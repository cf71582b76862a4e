"""Reads of stored blocks, receipts, transaction locations and account state, served
from the blocks the engine kept since executing them where it can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from eth.abc import AccountDatabaseAPI, BlockAPI, BlockHeaderAPI
from eth.chains.base import Chain
from eth.exceptions import BlockNotFound, HeaderNotFound, TransactionNotFound
from eth_typing import Address, BlockNumber, Hash32

from peerchain.core.blocks import Block, Header, Receipt, TxLocation
from peerchain.core.crypto import keccak256
from peerchain.core.errors import PeerChainError
from peerchain.core.faults import corrupted
from peerchain.core.queries import AccountProof
from peerchain.core.rlp import encode_object
from peerchain.core.transactions import Transaction, decode_transaction
from peerchain.execution import proofs
from peerchain.execution.convert import encode_transaction, header_from_evm, prime_sender
from peerchain.execution.db import open_overlay
from peerchain.execution.receipts import receipts_from_evm
from peerchain.execution.session import EngineSession, InvalidBlock, missing_is_fault


class ChainReads(EngineSession):
    """Blocks, receipts, transaction locations and account state as stored."""

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

    @missing_is_fault
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

    @missing_is_fault
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

    def _block_receipts(
        self, chain: Chain, header: BlockHeaderAPI, block: Block
    ) -> tuple[Receipt, ...]:
        evm_receipts = chain.chaindb.get_receipts(header, self._vm.get_receipt_builder())
        return receipts_from_evm(evm_receipts, block.transactions, block.header)

    # --- state reads --------------------------------------------------------------
    def _accounts(self, header: Header) -> AccountDatabaseAPI:
        """The accounts under `header`'s state root, over a throwaway overlay."""
        db, _ = open_overlay(self._reader, self._states)
        account_db_class = self._vm.get_state_class().get_account_db_class()
        accounts: AccountDatabaseAPI = account_db_class(db, Hash32(header.state_root))
        return accounts

    @missing_is_fault
    def get_balance(self, address: bytes, header: Header) -> int:
        return self._accounts(header).get_balance(Address(address))

    @missing_is_fault
    def get_nonce(self, address: bytes, header: Header) -> int:
        return self._accounts(header).get_nonce(Address(address))

    @missing_is_fault
    def get_nonce_and_balance(self, address: bytes, header: Header) -> tuple[int, int]:
        """Both in one account lookup (what the mempool checks a sender against)."""
        accounts = self._accounts(header)
        return accounts.get_nonce(Address(address)), accounts.get_balance(Address(address))

    @missing_is_fault
    def get_code(self, address: bytes, header: Header) -> bytes:
        return bytes(self._accounts(header).get_code(Address(address)))

    @missing_is_fault
    def get_storage(self, address: bytes, slot: int, header: Header) -> bytes:
        """The 32-byte value of a storage slot."""
        return self._accounts(header).get_storage(Address(address), slot).to_bytes(32, "big")

    @missing_is_fault
    def get_proof(self, address: bytes, slots: Sequence[int], header: Header) -> AccountProof:
        """Account and storage-slot values at `header` with their Merkle proofs."""
        chain, _ = self._open()
        return proofs.account_proof(chain.chaindb.db, header.state_root, address, slots)
