"""A node never blames its peers for its own fault: a block certified by more than 2/3 of
the voting power that this node cannot execute is a local fault (halt, resync), while a
block whose bytes are not the certified ones is the sender's fault."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from peerchain.core.consensus.certificate import CommitCertificate, certificate_from_votes
from peerchain.core.consensus.messages import BlockValue, VoteKind, sign_vote
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.crypto import private_key_to_address
from peerchain.core.faults import LocalFaultError
from peerchain.core.genesis import Validator, dev_genesis
from peerchain.core.mempool import Mempool
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.storage import LmdbStore
from peerchain.execution.engine import ExecutedBlock, ExecutionEngine, InvalidBlock
from peerchain.node.chainapp import ChainApplication
from peerchain.node.executor import BlockExecutor
from peerchain.node.ledger import Ledger

CHAIN_ID = 1337
KEYS = dev_private_keys(2)
GENESIS = dev_genesis(CHAIN_ID, [private_key_to_address(k) for k in KEYS], 10**21)
VALIDATORS = ValidatorSet([Validator(private_key_to_address(KEYS[0]), 1)])


class Clock:
    def now(self) -> float:
        return 1_750_000_000.0


def _app(path: Path) -> ChainApplication:
    ledger = Ledger(LmdbStore(path), GENESIS)
    return ChainApplication(
        ledger, Mempool(CHAIN_ID), VALIDATORS, Clock(), private_key_to_address(KEYS[0]),
        on_commit=lambda block: None, executor=BlockExecutor(ledger.engine, ledger.store),
    )  # fmt: skip


def _certified(tmp_path: Path) -> tuple[BlockValue, CommitCertificate]:
    proposer = _app(tmp_path / "honest")
    value = asyncio.run(proposer.prepare_proposal(1, 0))
    vote = sign_vote(KEYS[0], CHAIN_ID, VoteKind.PRECOMMIT, 1, 0, value.hash)
    return value, certificate_from_votes([vote])


def test_a_certified_block_we_cannot_execute_is_our_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    value, certificate = _certified(tmp_path)
    ours = _app(tmp_path / "ours")

    def disagree(engine: ExecutionEngine, block_rlp: bytes, *known: Any) -> ExecutedBlock:
        raise InvalidBlock("block 1: result differs from the block's header: state_root")

    monkeypatch.setattr(ExecutionEngine, "execute_block", disagree)
    with pytest.raises(LocalFaultError) as raised:
        asyncio.run(ours.apply_synced(1, value, certificate))
    fault = raised.value.fault
    assert fault.cause == "state disagrees with the network"
    assert "more than 2/3" in fault.detail and "state_root" in fault.detail
    assert "resync from peers" in fault.action
    assert ours.ledger.faults.current == fault
    assert ours.ledger.head.number == 0


def test_bytes_that_are_not_the_certified_block_are_the_senders_fault(tmp_path: Path) -> None:
    value, certificate = _certified(tmp_path)
    ours = _app(tmp_path / "ours")
    forged = BlockValue(value.hash, value.data[:-1] + bytes([value.data[-1] ^ 1]))
    assert asyncio.run(ours.apply_synced(1, forged, certificate)) is False
    assert ours.ledger.faults.current is None
    assert asyncio.run(ours.apply_synced(1, value, certificate)) is True
    assert ours.ledger.head.hash == value.hash
