"""The execution layer as consensus sees it: builds, checks and commits blocks.

`ChainApplication` implements `core.application.Application` over a `Ledger` and a
mempool. The proposer builds and executes a block before proposing it; a validator
executes a received block before prevoting; `commit` persists the result computed then,
with the block's commit certificate, in one store write. The same checks admit blocks
that arrive by block sync, with a certificate instead of votes. Each certificate is
checked against the validator set of its height, and block H commits to the set of
H + 1 in its `parentBeaconBlockRoot` (`validator_set_hash`). With a `build_budget`,
a proposal holds no more transactions than this node executes in that many seconds at
its measured speed, so that under load it still reaches the other validators in time.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from peerchain.core.blocks import Block
from peerchain.core.chainvalue import (
    decode_chain_value,
    encode_chain_value,
    parent_link,
)
from peerchain.core.consensus.certificate import (
    CommitCertificate,
    decode_certificate,
    encode_certificate,
    verify_certificate,
)
from peerchain.core.consensus.messages import BlockValue, InvalidMessage
from peerchain.core.consensus.validators import (
    ValidatorSet,
    ValidatorSets,
    as_sets,
    validator_set_hash,
)
from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError, PeerChainError
from peerchain.core.faults import RESYNC, LocalFault
from peerchain.core.mempool import Mempool
from peerchain.execution.bodies import InvalidBody
from peerchain.execution.engine import ExecutedBlock, InvalidBlock
from peerchain.node.ledger import Ledger
from peerchain.node.ports import Clock

log = logging.getLogger(__name__)

# How far ahead of our clock a proposed block's timestamp may be.
MAX_CLOCK_DRIFT = 15
# A block built with no measured execution speed yet, or below it, holds at most this many.
MIN_BLOCK_TXS = 64
# Verdicts of `check_value` remembered (a proposal is checked on relay and when counted).
VALUE_VERDICTS = 64


def certificate_key(height: int) -> bytes:
    """Meta key of the commit certificate of block `height`."""
    return b"cert:" + height.to_bytes(8, "big")


class ChainApplication:
    """Block building, validation and commit for one node (an `Application`)."""

    def __init__(
        self,
        ledger: Ledger,
        mempool: Mempool,
        validators: ValidatorSet | ValidatorSets,
        clock: Clock,
        coinbase: bytes,
        on_commit: Callable[[Block], None],
        build_budget: float | None = None,
    ) -> None:
        self.ledger = ledger
        self.mempool = mempool
        self.validators = as_sets(validators)
        self.clock = clock
        self.coinbase = coinbase
        self.on_commit = on_commit
        self.build_budget = build_budget
        self._executed: dict[bytes, ExecutedBlock] = {}
        self._seconds_per_tx: float | None = None
        self._verdicts: OrderedDict[BlockValue, str | None] = OrderedDict()

    # --- certificates ---------------------------------------------------------------------
    def certificate(self, height: int) -> CommitCertificate | None:
        """The stored certificate of block `height` (the one the next block carries, once
        there is a next block)."""
        data = self.ledger.store.get_meta(certificate_key(height))
        return None if data is None else decode_certificate(data)

    def value_of(self, height: int) -> BlockValue | None:
        """The consensus value of committed block `height` (for catch-up and sync)."""
        block = self.ledger.block_by_number(height)
        if block is None or height < 1:
            return None
        parent = self.certificate(height - 1) if height > 1 else None
        return encode_chain_value(block.hash, parent, block.rlp)

    def check_value(self, block: BlockValue) -> None:
        """Check that a value's bytes are the block its hash names: the header hashes to
        it, the body matches the header's roots, and extraData commits to the parent
        certificate carried. No execution. Raises InvalidMessage (the sender's fault)."""
        verdict = self._verdicts.get(block, "")
        if verdict == "":
            verdict = self._body_mismatch(block)
            self._verdicts[block] = verdict
            if len(self._verdicts) > VALUE_VERDICTS:
                self._verdicts.popitem(last=False)
        if verdict is not None:
            raise InvalidMessage(f"block 0x{block.hash.hex()[:16]}: {verdict}")

    def _body_mismatch(self, block: BlockValue) -> str | None:
        try:
            value = decode_chain_value(block.data)
            header = self.ledger.engine.check_body(value.block_rlp)
        except (DecodeError, InvalidBody) as exc:
            return str(exc)
        if header.hash != block.hash:
            return "bytes of another block"
        if header.extra_data != parent_link(value.parent_certificate):
            return "extraData does not commit to the parent certificate carried"
        return None

    # --- Application ----------------------------------------------------------------------
    def prepare_proposal(self, height: int, round: int) -> BlockValue:
        head = self.ledger.head
        if head.number != height - 1:
            raise PeerChainError(f"asked to propose height {height} on head {head.number}")
        parent_certificate = self.certificate(head.number) if head.number > 0 else None
        link = parent_link(parent_certificate)
        base_fee = self.ledger.next_base_fee()
        started = self.clock.now()
        executed = self.ledger.engine.build_block(
            head,
            self.mempool.reap(head.gas_limit, base_fee, self._max_txs()),
            timestamp=max(head.timestamp + 1, int(started)),
            coinbase=self.coinbase,
            extra_data=link,
            prev_randao=keccak256(link or head.hash),
            parent_beacon_block_root=validator_set_hash(self._set_of(height + 1)),
        )
        self._measure(len(executed.block.transactions), self.clock.now() - started)
        if executed.skipped:
            self.mempool.remove([tx.hash for tx, _ in executed.skipped])
        self._executed[executed.block.hash] = executed
        return encode_chain_value(executed.block.hash, parent_certificate, executed.block.rlp)

    def _max_txs(self) -> int | None:
        """How many transactions this node can execute within `build_budget` seconds (by
        its recent speed), so that a proposal reaches the other validators before their
        propose timeout even when the mempool holds more than a block; None: no cap."""
        if self.build_budget is None:
            return None
        if self._seconds_per_tx is None:
            return MIN_BLOCK_TXS
        return max(MIN_BLOCK_TXS, int(self.build_budget / self._seconds_per_tx))

    def _measure(self, count: int, seconds: float) -> None:
        """Fold the speed of one block execution into the estimate (blocks of a few
        transactions say more about fixed costs than about speed and are skipped)."""
        if count < MIN_BLOCK_TXS // 2 or seconds <= 0:
            return
        sample = seconds / count
        previous = self._seconds_per_tx
        self._seconds_per_tx = sample if previous is None else 0.5 * previous + 0.5 * sample

    def validate_proposal(self, height: int, block: BlockValue) -> bool:
        try:
            self._check(height, block, certificate=None)
        except (InvalidBlock, InvalidMessage, DecodeError) as exc:
            log.warning("rejecting block 0x%s at height %d: %s", block.hash.hex(), height, exc)
            return False
        return True

    def commit(self, height: int, block: BlockValue, certificate: CommitCertificate) -> None:
        """Persist a decided block. Raises LocalFaultError if this node cannot execute it
        (more than 2/3 of the power decided it: our own state must be wrong)."""
        executed = self._executed.get(block.hash) or self._check_certified(height, block, None)
        value = decode_chain_value(block.data)
        meta = {certificate_key(height): encode_certificate(certificate)}
        if value.parent_certificate is not None:
            # The parent's certificate that the chain carries replaces our local one.
            meta[certificate_key(height - 1)] = encode_certificate(value.parent_certificate)
        self.ledger.commit(executed, meta)
        self._executed.clear()
        self.mempool.on_new_block(
            [tx.hash for tx in executed.block.transactions], self.ledger.account_state
        )
        self.on_commit(executed.block)

    # --- block sync ---------------------------------------------------------------------
    def apply_synced(self, height: int, block: BlockValue, certificate: CommitCertificate) -> bool:
        """Check a block fetched from a peer against its certificate and commit it.

        False if the certificate is invalid or the bytes are not the certified block (the
        peer's fault). A certified block that this node cannot execute is this node's
        fault, not the peer's: that raises LocalFaultError (see `_check_certified`)."""
        try:
            self.check_certificate(height, block, certificate)
        except (InvalidBlock, InvalidMessage, DecodeError) as exc:
            log.warning("rejecting synced block %d: %s", height, exc)
            return False
        self._check_certified(height, block, certificate)
        self.commit(height, block, certificate)
        return True

    def _check_certified(
        self, height: int, block: BlockValue, certificate: CommitCertificate | None
    ) -> ExecutedBlock:
        """`_check` a block that more than 2/3 of the voting power decided. If it fails,
        honest validators cannot all be wrong: our own state or code is, so this is a
        local fault (the node halts and offers a resync) and no peer is blamed."""
        try:
            return self._check(height, block, certificate)
        except (InvalidBlock, InvalidMessage, DecodeError) as exc:
            raise self.ledger.faults.raise_fault(
                LocalFault(
                    "state disagrees with the network",
                    f"block {height} 0x{block.hash.hex()[:16]}, decided by more than 2/3 of "
                    f"the voting power, fails here: {exc}",
                    RESYNC,
                )
            ) from exc

    def check_certificate(
        self, height: int, block: BlockValue, certificate: CommitCertificate
    ) -> None:
        """The checks of a block that comes with its certificate that need no execution:
        the certificate is for this block and holds more than 2/3 of the power of the
        height's validator set, and the bytes are the block it names. Raises
        InvalidMessage (PeerChainError while that set is not known)."""
        if certificate.height != height or certificate.block_hash != block.hash:
            raise InvalidMessage("certificate is for another block")
        verify_certificate(certificate, self._set_of(height), self.ledger.chain_id)
        self.check_value(block)

    def check_certified(
        self, height: int, block: BlockValue, certificate: CommitCertificate
    ) -> None:
        """Every check of a block from outside the network (chain import): the certificate
        and bytes, then its execution against its header on our head. Raises InvalidBlock,
        InvalidMessage or DecodeError; reports no local fault, since a file (unlike a
        quorum of validators) can be wrong."""
        self.check_certificate(height, block, certificate)
        self._check(height, block, certificate)

    # --- checks ---------------------------------------------------------------------------
    def _set_of(self, height: int) -> ValidatorSet:
        """The validator set of `height`, which our chain must know (it is decided by
        block `height - 2`). Raises PeerChainError."""
        found = self.validators(height)
        if found is None:
            raise PeerChainError(f"the validator set of height {height} is not known yet")
        return found

    def _check(
        self, height: int, block: BlockValue, certificate: CommitCertificate | None
    ) -> ExecutedBlock:
        """Execute a received value on our head and check it; cache and return the result.
        Raises InvalidBlock, InvalidMessage or DecodeError."""
        cached = self._executed.get(block.hash)
        if cached is not None:
            return cached
        head = self.ledger.head
        if head.number != height - 1:
            raise InvalidBlock(f"block for height {height} but our head is {head.number}")
        value = decode_chain_value(block.data)
        parent_certificate = value.parent_certificate
        if height > 1:
            if parent_certificate is None:
                raise InvalidBlock("block does not carry its parent's certificate")
            if (
                parent_certificate.height != head.number
                or parent_certificate.block_hash != head.hash
            ):
                raise InvalidBlock("parent certificate is for another block")
            verify_certificate(parent_certificate, self._set_of(height - 1), self.ledger.chain_id)
        elif parent_certificate is not None:
            raise InvalidBlock("the first block has no parent certificate")
        started = self.clock.now()
        executed = self.ledger.engine.execute_block(value.block_rlp)
        self._measure(len(executed.block.transactions), self.clock.now() - started)
        header = executed.block.header
        if executed.block.hash != block.hash:
            raise InvalidBlock("block bytes do not match the value's hash")
        if header.parent_hash != head.hash or header.number != height:
            raise InvalidBlock("block is not built on our head")
        if header.extra_data != parent_link(parent_certificate):
            raise InvalidBlock("extraData does not commit to the parent certificate")
        if header.coinbase not in self._set_of(height):
            raise InvalidBlock("block built by a non-validator")
        if header.parent_beacon_block_root != validator_set_hash(self._set_of(height + 1)):
            raise InvalidBlock("parentBeaconBlockRoot is not the hash of the next validator set")
        if certificate is None and header.timestamp > self.clock.now() + MAX_CLOCK_DRIFT:
            raise InvalidBlock("block timestamp is too far in the future")
        self._executed[block.hash] = executed
        return executed
