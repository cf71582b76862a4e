"""Chain and state edits that are not blocks: a declared empty header, a rewind to an
earlier head, state overrides, state dumps and loads (dev nodes). Each returns the store
writes that make it, as the engine never writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth.db.chain_gaps import reopen_gap
from eth.db.schema import SchemaV1
from eth.exceptions import HeaderNotFound
from eth_typing import BlockNumber, Hash32

from peerchain.core.blocks import Header
from peerchain.core.queries import StateOverrides
from peerchain.core.rlp import decode_uint, encode_object, encode_rlp, encode_uint
from peerchain.execution import calls, statedump
from peerchain.execution.chainrecords import encode_gaps
from peerchain.execution.convert import header_from_evm
from peerchain.execution.db import open_overlay
from peerchain.execution.session import EngineSession, InvalidBlock, evm_header_like


class ChainEdits(EngineSession):
    """Store writes for a dev node's edits of its chain and state."""

    def append_header(self, header: Header) -> tuple[Header, dict[bytes, bytes | None]]:
        """Writes that make `header`, an empty block declared rather than executed, the
        canonical head (the last block of a dev node's reserved range; its parent
        need not be stored). Returns the header with its hash."""
        chain, changes = self._open()
        head = chain.get_canonical_head()
        evm_header = evm_header_like(head, header)
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
