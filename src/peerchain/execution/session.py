"""What the execution engine's parts share: the store reader, the genesis, the fork's
VMs and the engine's caches, and sessions of py-evm over the store.

Every operation runs py-evm on a fresh `OverlayDB` over the store's reader: py-evm's
ChainDB (headers, canonical chain, number -> hash, bodies, receipts, tx lookups) and
the state tries all live in that one key space. The decoded state tries outlive the
operation in the engine's `StateCache` (found by root hash), so consecutive blocks and
reads at the head do not decode the state again. The engine never writes; its writes
come back as store changes, which the node persists in one store transaction. Once
persisted, every later read sees them through the reader.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from eth.abc import BlockAPI, BlockHeaderAPI, ChainDatabaseAPI
from eth.chains.base import Chain
from eth.db.chain import ChainDB
from eth.db.schema import SchemaV1
from eth.exceptions import CanonicalHeadNotFound, HeaderNotFound
from eth.vm.chain_context import ChainContext
from eth.vm.interrupt import EVMMissingData
from eth_typing import BlockNumber, Hash32
from trie.exceptions import MissingTrieNode

from peerchain.core.blocks import FORK_HEADER_FIELDS, Block, Header, Receipt
from peerchain.core.errors import PeerChainError
from peerchain.core.faults import FaultLatch, corrupted
from peerchain.core.genesis import ZERO_HASH, Genesis
from peerchain.core.governance import GOVERNANCE_ADDRESS, genesis_account
from peerchain.core.kv import KeyValueReader
from peerchain.core.rlp import decode_rlp, encode_object
from peerchain.core.transactions import Transaction
from peerchain.execution.convert import header_from_evm
from peerchain.execution.db import open_overlay
from peerchain.execution.lru import Lru
from peerchain.execution.statecache import StateCache
from peerchain.execution.tracing.console import capturing as console_capturing
from peerchain.execution.trie import MissingNode
from peerchain.execution.vm import FORKS

_CACHE_SIZE = 256

R = TypeVar("R")
P = ParamSpec("P")
S = TypeVar("S", bound="EngineSession")


class InvalidBlock(PeerChainError):
    """A block cannot be built or fails validation on import; the message says why."""


class EmptyStore(PeerChainError):
    """The store has no chain in it (genesis was never written)."""


def missing_is_fault(
    method: Callable[Concatenate[S, P], R],
) -> Callable[Concatenate[S, P], R]:
    """Every block and state is kept, so a trie node or code missing under a stored root
    (py-evm's or our state layer's error) is damaged data: a local fault
    (LocalFaultError), not a missing answer."""

    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except (EVMMissingData, MissingTrieNode, MissingNode) as exc:
            detail = f"a record under a stored root is missing ({error_reason(exc, 160)})"
            raise self.faults.raise_fault(corrupted(detail)) from exc

    # Named as the method (functools.wraps), so that a query names it for a worker.
    return functools.wraps(method)(wrapper)


class EngineSession:
    """py-evm over the store, and what the engine keeps between operations. Reads through
    `reader`; never writes to it. Missing records under stored roots are reported to
    `faults` (LocalFaultError).

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


def error_reason(exc: Exception, limit: int = 300) -> str:
    """A library error's message on one line, cut to a readable length.

    py-evm's "locally executed block differs" error is reduced to the field names."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if text.startswith("Mismatch between locally executed block"):
        fields = re.findall(r"- ([\w.]+): \(locally executed block\)", text)
        return "result differs from the block's header: " + ", ".join(fields)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def evm_header_like(template: BlockHeaderAPI, header: Header) -> BlockHeaderAPI:
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
