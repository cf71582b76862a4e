"""The execution layer as consensus sees it: builds, checks and commits blocks.

`ChainApplication` answers consensus (docs/architecture.md, section 3) over a `Ledger`,
a mempool and a `BlockExecutor`, with coroutines: execution and store writes run on the
executor's thread while the event loop goes on with consensus. The proposer builds and executes a
block before proposing it; a validator executes a received block before prevoting,
once, however often it is asked (the proposer's own block is not executed again);
`commit` persists the result computed then, with the block's commit certificate, in
one store write. A commit runs in the background: consensus moves on to the next height
at once, and the next build or check waits until the commit has reached the store, the
head, the mempool and the subscribers. The same checks admit blocks that arrive by
block sync, with a certificate instead of votes. Each certificate is checked against the
validator set of its height, and block H commits to the set of H + 1 in its
`parentBeaconBlockRoot` (`validator_set_hash`). With a `build_budget`, a proposal holds
no more transactions than this node executes in that many seconds at its measured speed,
so that under load it still reaches the other validators in time, and at most
`GROWTH` times as many as the last block this node executed (plus `MIN_BLOCK_TXS`):
when a burst arrives, blocks grow over a few heights while the speed estimate follows
the load (a node busy admitting the burst executes slower than the idle one measured).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable

from peerchain.core.blocks import Header
from peerchain.core.chainvalue import decode_chain_value, encode_chain_value, parent_link
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
from peerchain.execution.bodies import BodyHeader, InvalidBody
from peerchain.execution.engine import ExecutedBlock, ExecutionEngine, InvalidBlock
from peerchain.node.executor import BlockExecutor
from peerchain.node.ledger import Ledger
from peerchain.node.ports import Clock
from peerchain.node.validatorsets import ChainValidatorSets, GovernanceError

log = logging.getLogger(__name__)

# How far ahead of our clock a proposed block's timestamp may be.
MAX_CLOCK_DRIFT = 15
# A block built with no measured execution speed yet, or below it, holds at most this many.
MIN_BLOCK_TXS = 64
# A block holds at most this many times the transactions of the last one executed here
# (plus MIN_BLOCK_TXS).
GROWTH = 2
# Verdicts of `check_value` remembered (a proposal is checked on relay and when counted).
VALUE_VERDICTS = 64


def highest_possible(number: int, timestamp: int, now: float) -> int:
    """The highest block a chain whose block `number` has `timestamp` can hold at time
    `now`: each block's timestamp is above its parent's, and validators refuse one more
    than `MAX_CLOCK_DRIFT` seconds ahead of their clocks. A peer's claim above it is a
    lie (or a clock far off) that no certificate can back."""
    return number + max(0, int(now + MAX_CLOCK_DRIFT - timestamp))


def certificate_key(height: int) -> bytes:
    """Meta key of the commit certificate of block `height`."""
    return b"cert:" + height.to_bytes(8, "big")


class ChainApplication:
    """Block building, validation and commit for one node."""

    def __init__(
        self,
        ledger: Ledger,
        mempool: Mempool,
        validators: ValidatorSet | ValidatorSets | ChainValidatorSets,
        clock: Clock,
        coinbase: bytes,
        on_commit: Callable[[ExecutedBlock], None],
        executor: BlockExecutor,
        build_budget: float | None = None,
    ) -> None:
        self.ledger = ledger
        self.mempool = mempool
        self.validators = as_sets(validators)
        self._chain_sets = validators if isinstance(validators, ChainValidatorSets) else None
        self.clock = clock
        self.coinbase = coinbase
        self.on_commit = on_commit
        self.executor = executor
        self.build_budget = build_budget
        self._executed: dict[bytes, ExecutedBlock] = {}
        self._executing: dict[bytes, asyncio.Future[ExecutedBlock]] = {}
        self._committing: asyncio.Task[None] | None = None
        self._seconds_per_tx: float | None = None
        self._last_count = 0  # transactions of the last block this node executed
        self._verdicts: OrderedDict[BlockValue, BodyHeader | str] = OrderedDict()

    # --- certificates ---------------------------------------------------------------------
    def certificate(self, height: int) -> CommitCertificate | None:
        """The stored certificate of block `height` (the one the next block carries, once
        there is a next block)."""
        data = self.ledger.store.get_meta(certificate_key(height))
        return None if data is None else decode_certificate(data)

    def value_of(self, height: int) -> BlockValue | None:
        """The consensus value of committed block `height` (for catch-up and sync)."""
        if height < 1 or height > self.ledger.head.number:
            return None
        found = self.ledger.engine.get_block_rlp_by_number(height)
        if found is None:
            return None
        parent = self.certificate(height - 1) if height > 1 else None
        return encode_chain_value(found[0], parent, found[1])

    def check_value(self, block: BlockValue) -> None:
        """Check that a value's bytes are the block its hash names: the header hashes to
        it, the body matches the header's roots, and extraData commits to the parent
        certificate carried. No execution. Raises InvalidMessage (the sender's fault)."""
        self._checked_header(block)

    def _checked_header(self, block: BlockValue) -> BodyHeader:
        """The header of a value whose body `check_value` accepts (the verdict is kept).
        Raises InvalidMessage."""
        verdict = self._verdicts.get(block)
        if verdict is None:
            verdict = self._check_body(block)
            self._remember_verdict(block, verdict)
        if isinstance(verdict, str):
            raise InvalidMessage(f"block 0x{block.hash.hex()[:16]}: {verdict}")
        return verdict

    def _remember_verdict(self, block: BlockValue, verdict: BodyHeader | str) -> None:
        self._verdicts[block] = verdict
        if len(self._verdicts) > VALUE_VERDICTS:
            self._verdicts.popitem(last=False)

    def _check_body(self, block: BlockValue) -> BodyHeader | str:
        """The value's header if its body is the one its hash names, else what is wrong."""
        try:
            value = decode_chain_value(block.data)
            header = self.ledger.engine.check_body(value.block_rlp)
        except (DecodeError, InvalidBody) as exc:
            return str(exc)
        if header.hash != block.hash:
            return "bytes of another block"
        if header.extra_data != parent_link(value.parent_certificate):
            return "extraData does not commit to the parent certificate carried"
        return header

    async def start(self) -> None:
        """Read, on the executor, the validator sets consensus needs next to our head (a
        chain's sets: see `ChainValidatorSets`). Before the first build, check or import.
        Raises LocalFaultError."""
        await self.settled()
        await self._read_sets(self.ledger.head.number)

    async def _read_sets(self, number: int) -> None:
        """The validator sets block `number` fixes, read on the executor. A contract that
        cannot be read is a local fault (LocalFaultError): our state must be damaged."""
        if self._chain_sets is None:
            return
        try:
            await self._chain_sets.committed(number, self.executor.run)
        except GovernanceError as exc:
            raise self.ledger.faults.raise_fault(
                LocalFault("the validator set cannot be read", str(exc), RESYNC)
            ) from exc

    # --- Application ----------------------------------------------------------------------
    async def prepare_proposal(self, height: int, round: int) -> BlockValue:
        await self.settled()
        head = self.ledger.head
        if head.number != height - 1:
            raise PeerChainError(f"asked to propose height {height} on head {head.number}")
        parent_certificate = self.certificate(head.number) if head.number > 0 else None
        link = parent_link(parent_certificate)
        base_fee = self.ledger.next_base_fee()
        started = self.clock.now()
        executed = await self.executor.run(
            ExecutionEngine.build_block,
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
        value = encode_chain_value(executed.block.hash, parent_certificate, executed.block.rlp)
        # Built here: its body is the one its hash names.
        self._remember_verdict(value, _body_header(executed.block.header))
        return value

    def _max_txs(self) -> int | None:
        """How many transactions this node can execute within `build_budget` seconds (by
        its recent speed), so that a proposal reaches the other validators before their
        propose timeout even when the mempool holds more than a block, and no more than
        `GROWTH` times the last block it executed (plus MIN_BLOCK_TXS); None: no cap."""
        if self.build_budget is None:
            return None
        if self._seconds_per_tx is None:
            return MIN_BLOCK_TXS
        fits = max(MIN_BLOCK_TXS, int(self.build_budget / self._seconds_per_tx))
        return min(fits, GROWTH * self._last_count + MIN_BLOCK_TXS)

    def _measure(self, count: int, seconds: float) -> None:
        """Fold the speed of one block execution into the estimate (blocks of a few
        transactions say more about fixed costs than about speed and are skipped)."""
        self._last_count = count
        if count < MIN_BLOCK_TXS // 2 or seconds <= 0:
            return
        sample = seconds / count
        previous = self._seconds_per_tx
        self._seconds_per_tx = sample if previous is None else 0.5 * previous + 0.5 * sample

    async def validate_proposal(self, height: int, block: BlockValue) -> bool:
        await self.settled()
        try:
            await self._check(height, block, certificate=None)
        except (InvalidBlock, InvalidMessage, DecodeError) as exc:
            log.warning("rejecting block 0x%s at height %d: %s", block.hash.hex(), height, exc)
            return False
        return True

    def commit(
        self, height: int, block: BlockValue, certificate: CommitCertificate
    ) -> asyncio.Task[None]:
        """Start persisting a decided block (executed by `prepare_proposal` or
        `validate_proposal` before, or now) and return the task doing it; the builds and
        checks asked for after this call wait for it (`settled`). The task raises
        LocalFaultError if this node cannot execute the block (more than 2/3 of the power
        decided it: our own state must be wrong)."""
        previous = self._committing
        self._committing = asyncio.get_running_loop().create_task(
            self._commit(previous, height, block, certificate)
        )
        return self._committing

    async def _commit(
        self,
        previous: asyncio.Task[None] | None,
        height: int,
        block: BlockValue,
        certificate: CommitCertificate,
    ) -> None:
        if previous is not None:
            await _quietly(previous)
        executed = await self._check_certified(height, block, None)
        value = decode_chain_value(block.data)
        meta = {certificate_key(height): encode_certificate(certificate)}
        if value.parent_certificate is not None:
            # The parent's certificate that the chain carries replaces our local one.
            meta[certificate_key(height - 1)] = encode_certificate(value.parent_certificate)
        await self.executor.write(executed.changes, meta)
        self.ledger.advance(executed)
        await self._read_sets(height)
        self._executed.clear()
        self.mempool.on_new_block(
            [tx.hash for tx in executed.block.transactions], self.ledger.account_state
        )
        self.on_commit(executed)

    async def settled(self) -> None:
        """Wait until the last commit started has finished (or failed: it logged why)."""
        if self._committing is not None:
            await _quietly(self._committing)

    # --- block sync ---------------------------------------------------------------------
    async def apply_synced(
        self, height: int, block: BlockValue, certificate: CommitCertificate
    ) -> bool:
        """Check a block fetched from a peer against its certificate and commit it.

        False if the certificate is invalid or the bytes are not the certified block (the
        peer's fault). A certified block that this node cannot execute is this node's
        fault, not the peer's: that raises LocalFaultError (see `_check_certified`)."""
        await self.settled()
        try:
            self.check_certificate(height, block, certificate)
        except (InvalidBlock, InvalidMessage, DecodeError) as exc:
            log.warning("rejecting synced block %d: %s", height, exc)
            return False
        await self._check_certified(height, block, certificate)
        await self.commit(height, block, certificate)
        return True

    async def _check_certified(
        self, height: int, block: BlockValue, certificate: CommitCertificate | None
    ) -> ExecutedBlock:
        """`_check` a block that more than 2/3 of the voting power decided. If it fails,
        honest validators cannot all be wrong: our own state or code is, so this is a
        local fault (the node halts and offers a resync) and no peer is blamed."""
        try:
            return await self._check(height, block, certificate)
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

    async def check_certified(
        self, height: int, block: BlockValue, certificate: CommitCertificate
    ) -> None:
        """Every check of a block from outside the network (chain import): the certificate
        and bytes, then its execution against its header on our head. Raises InvalidBlock,
        InvalidMessage or DecodeError; reports no local fault, since a file (unlike a
        quorum of validators) can be wrong."""
        await self.settled()
        self.check_certificate(height, block, certificate)
        await self._check(height, block, certificate)

    # --- checks ---------------------------------------------------------------------------
    def _set_of(self, height: int) -> ValidatorSet:
        """The validator set of `height`, which our chain must know (it is decided by
        block `height - 2`). Raises PeerChainError."""
        found = self.validators(height)
        if found is None:
            raise PeerChainError(f"the validator set of height {height} is not known yet")
        return found

    async def _check(
        self, height: int, block: BlockValue, certificate: CommitCertificate | None
    ) -> ExecutedBlock:
        """Execute a received value on our head and check it, once: the result is kept
        for `commit`, and a check of the same block while one runs waits for that one.
        Raises InvalidBlock, InvalidMessage or DecodeError."""
        cached = self._executed.get(block.hash)
        if cached is not None:
            return cached
        running = self._executing.get(block.hash)
        if running is None:
            running = asyncio.ensure_future(self._execute(height, block, certificate))
            self._executing[block.hash] = running
            running.add_done_callback(lambda _: self._executing.pop(block.hash, None))
        return await asyncio.shield(running)

    async def _execute(
        self, height: int, block: BlockValue, certificate: CommitCertificate | None
    ) -> ExecutedBlock:
        head = self.ledger.head
        if head.number != height - 1:
            raise InvalidBlock(f"block for height {height} but our head is {head.number}")
        # The cheap checks first: a block that fails them is not executed.
        header = self._checked_header(block)
        if header.parent_hash != head.hash or header.number != height:
            raise InvalidBlock("block is not built on our head")
        if header.coinbase not in self._set_of(height):
            raise InvalidBlock("block built by a non-validator")
        if header.parent_beacon_block_root != validator_set_hash(self._set_of(height + 1)):
            raise InvalidBlock("parentBeaconBlockRoot is not the hash of the next validator set")
        if certificate is None and header.timestamp > self.clock.now() + MAX_CLOCK_DRIFT:
            raise InvalidBlock("block timestamp is too far in the future")
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
        executed = await self.executor.run(
            ExecutionEngine.execute_block, value.block_rlp, self.mempool.by_hash()
        )
        self._measure(len(executed.block.transactions), self.clock.now() - started)
        if executed.block.hash != block.hash:
            raise InvalidBlock("block bytes do not match the value's hash")
        self._executed[block.hash] = executed
        return executed


def _body_header(header: Header) -> BodyHeader:
    return BodyHeader(
        hash=header.hash,
        number=header.number,
        extra_data=header.extra_data,
        parent_hash=header.parent_hash,
        coinbase=header.coinbase,
        timestamp=header.timestamp,
        parent_beacon_block_root=header.parent_beacon_block_root or b"",
    )


async def _quietly(task: asyncio.Task[None]) -> None:
    """Wait for a commit task; its failure was logged by the one who awaited it."""
    with contextlib.suppress(Exception):
        await asyncio.shield(task)
