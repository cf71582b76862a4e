"""ChainApplication over real engines and LMDB: every node executes each block once (the
proposer its own block, a validator a proposal however often it is asked), a commit runs
in the background while the next block is checked, and the receipts made by execution
are the ones published."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from peerchain.core.consensus.certificate import CommitCertificate, certificate_from_votes
from peerchain.core.consensus.messages import BlockValue, VoteKind, sign_vote
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import Genesis, Validator, dev_genesis
from peerchain.core.mempool import Mempool
from peerchain.core.transactions import (
    Transaction,
    UnsignedTransaction,
    decode_transaction,
    sign_transaction,
)
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.storage import LmdbStore
from peerchain.execution import engine as engine_module
from peerchain.execution.engine import ExecutedBlock
from peerchain.node.chainapp import ChainApplication
from peerchain.node.executor import BlockExecutor
from peerchain.node.ledger import Ledger

T = TypeVar("T")
CHAIN_ID = 1337
KEYS = dev_private_keys(3)
VALIDATOR_KEY = KEYS[0]
VALIDATORS = ValidatorSet([Validator(private_key_to_address(VALIDATOR_KEY), 1)])


class Clock:
    def __init__(self) -> None:
        self.time = 1_750_000_000.0

    def now(self) -> float:
        self.time += 1
        return self.time


class CountingExecutor(BlockExecutor):
    """Counts the execution jobs (by function name) it runs."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger.engine, ledger.store)
        self.runs: Counter[str] = Counter()

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self.runs[function.__name__] += 1
        return await super().run(function, *args, **kwargs)


class Node:
    def __init__(self, directory: Path, genesis: Genesis) -> None:
        self.store = LmdbStore(directory)
        self.ledger = Ledger(self.store, genesis)
        self.executor = CountingExecutor(self.ledger)
        self.published: list[ExecutedBlock] = []
        self.app = ChainApplication(
            self.ledger,
            Mempool(CHAIN_ID),
            VALIDATORS,
            Clock(),
            private_key_to_address(VALIDATOR_KEY),
            on_commit=self.published.append,
            executor=self.executor,
        )

    def add_transfers(self, count: int, first_nonce: int) -> None:
        for nonce in range(first_nonce, first_nonce + count):
            unsigned = UnsignedTransaction(
                type=2, chain_id=CHAIN_ID, nonce=nonce, gas_limit=21000,
                max_fee_per_gas=10**10, max_priority_fee_per_gas=1, to=b"\x42" * 20, value=1,
            )  # fmt: skip
            tx = decode_transaction(sign_transaction(unsigned, KEYS[1]).raw, CHAIN_ID)
            self.app.mempool.add(
                tx,
                account=self.ledger.account_state(tx.sender),
                base_fee=self.ledger.next_base_fee(),
                block_gas_limit=self.ledger.head.gas_limit,
            )

    def close(self) -> None:
        self.executor.close()
        self.store.close()


def certify(height: int, value: BlockValue) -> CommitCertificate:
    vote = sign_vote(VALIDATOR_KEY, CHAIN_ID, VoteKind.PRECOMMIT, height, 0, value.hash)
    return certificate_from_votes([vote])


def test_each_node_executes_each_block_once_and_commits_in_the_background(
    tmp_path: Path,
) -> None:
    genesis = dev_genesis(CHAIN_ID, [private_key_to_address(k) for k in KEYS], 10**21)
    proposer = Node(tmp_path / "proposer", genesis)
    validator = Node(tmp_path / "validator", genesis)

    async def scenario() -> None:
        proposer.add_transfers(3, first_nonce=0)
        first = await proposer.app.prepare_proposal(1, 0)
        # The proposal loops back to its proposer, which does not execute it again.
        assert await proposer.app.validate_proposal(1, first)
        # A validator asked twice at once (two rounds) executes the block once.
        assert await asyncio.gather(
            validator.app.validate_proposal(1, first), validator.app.validate_proposal(1, first)
        ) == [True, True]
        certificate = certify(1, first)
        for node in (proposer, validator):
            persisting = node.app.commit(1, first, certificate)
            assert not persisting.done()  # consensus goes on meanwhile
        # The next height's block is built and checked once block 1 is persisted.
        proposer.add_transfers(2, first_nonce=3)
        second = await proposer.app.prepare_proposal(2, 0)
        assert await validator.app.validate_proposal(2, second)
        for node in (proposer, validator):
            await node.app.commit(2, second, certify(2, second))

    try:
        asyncio.run(scenario())
        assert proposer.executor.runs == Counter(build_block=2)
        assert validator.executor.runs == Counter(execute_block=2)
        for node in (proposer, validator):
            assert node.ledger.head.number == 2
            assert [len(e.block.transactions) for e in node.published] == [3, 2]
            assert len(node.app.mempool) == 0
            receipts = node.published[1].receipts
            assert node.ledger.receipts(node.ledger.head.hash) == receipts
        assert proposer.ledger.head == validator.ledger.head
    finally:
        proposer.close()
        validator.close()


def test_a_failed_check_executes_nothing_and_answers_invalid(tmp_path: Path) -> None:
    genesis = dev_genesis(CHAIN_ID, [private_key_to_address(k) for k in KEYS], 10**21)
    node = Node(tmp_path / "node", genesis)
    outsider = Node(tmp_path / "outsider", genesis)
    outsider.app.coinbase = b"\x99" * 20

    async def scenario() -> None:
        forged = BlockValue(b"\x11" * 32, b"\xc0")
        assert await node.app.validate_proposal(1, forged) is False
        foreign = await outsider.app.prepare_proposal(1, 0)  # by a non-validator
        assert await node.app.validate_proposal(1, foreign) is False
        assert await node.app.validate_proposal(2, foreign) is False  # not on our head

    try:
        asyncio.run(scenario())
        assert node.executor.runs == Counter()  # the header said enough
    finally:
        node.close()
        outsider.close()


def test_a_validator_reuses_the_transactions_its_mempool_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    genesis = dev_genesis(CHAIN_ID, [private_key_to_address(k) for k in KEYS], 10**21)
    proposer = Node(tmp_path / "proposer", genesis)
    validator = Node(tmp_path / "validator", genesis)
    decoded: list[bytes] = []

    def counting_decode(raw: bytes, chain_id: int | None = None, **options: Any) -> Transaction:
        decoded.append(raw)
        return decode_transaction(raw, chain_id, **options)

    monkeypatch.setattr(engine_module, "decode_transaction", counting_decode)

    async def scenario() -> None:
        proposer.add_transfers(4, first_nonce=0)
        validator.add_transfers(3, first_nonce=0)  # gossip brought it all but the last
        value = await proposer.app.prepare_proposal(1, 0)
        assert await validator.app.validate_proposal(1, value)
        await validator.app.commit(1, value, certify(1, value))

    try:
        asyncio.run(scenario())
        [block] = validator.published
        assert len(block.block.transactions) == 4
        assert decoded == [block.block.transactions[3].raw]  # only the one it never saw
        assert [r.status for r in block.receipts] == [1, 1, 1, 1]
    finally:
        proposer.close()
        validator.close()
