"""Export / import across a validator set change decided by vote: each certificate is
checked against the set of its own height (read from the chain being imported), so the
import of a chain whose set grew gives the same head and state root, and a certificate
signed by the old set after the change is refused. The sets are read on the block
executor's thread, never where consensus asks for them."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from tests.node.test_archive import chain_summary, record_offsets, run

from peerchain.core.consensus.certificate import Commit, certificate_from_votes
from peerchain.core.consensus.messages import BlockValue, VoteKind, sign_vote
from peerchain.core.consensus.wire import decode_message, encode_message
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.genesis import Genesis, dev_genesis, parse_genesis
from peerchain.core.governance import GOVERNANCE_ADDRESS, vote_call
from peerchain.core.mempool import Mempool
from peerchain.core.transactions import (
    DYNAMIC_FEE_TX,
    UnsignedTransaction,
    decode_transaction,
    sign_transaction,
)
from peerchain.drivers.clock import SystemClock
from peerchain.drivers.storage import LmdbStore
from peerchain.execution.engine import ExecutionEngine
from peerchain.node import validatorsets
from peerchain.node.chainapp import ChainApplication
from peerchain.node.executor import BlockExecutor
from peerchain.node.ledger import Ledger
from peerchain.node.validatorsets import ChainValidatorSets

CHAIN_ID = 4343
FIRST = keccak256(b"archive governance validator 1")
SECOND = keccak256(b"archive governance validator 2")
FIRST_ADDRESS, SECOND_ADDRESS = private_key_to_address(FIRST), private_key_to_address(SECOND)
BLOCKS = 8
# Block 1 holds FIRST's vote adding SECOND (FIRST is all the power: decided at once), so
# the set of heights 1 and 2 is {FIRST} and from height 3 on {FIRST, SECOND}.
ACTIVATION = 3


def write_genesis(path: Path) -> Genesis:
    data = dev_genesis(CHAIN_ID, [FIRST_ADDRESS], 10**22).to_json()
    data["peerchain"] = {"validators": [{"address": "0x" + FIRST_ADDRESS.hex(), "power": 10}]}
    path.write_text(json.dumps(data))
    return parse_genesis(data)


def certify(value: BlockValue, height: int, keys: list[bytes]) -> Commit:
    votes = [sign_vote(k, CHAIN_ID, VoteKind.PRECOMMIT, height, 0, value.hash) for k in keys]
    return Commit(value, certificate_from_votes(votes))


def signers_of(height: int) -> list[bytes]:
    return [FIRST] if height < ACTIVATION else [FIRST, SECOND]


async def build_chain(datadir: Path, genesis: Genesis) -> list[bytes]:
    """BLOCKS blocks proposed by FIRST, each certified by the set of its height; the
    headers' parentBeaconBlockRoot (the next set's hash) of each block."""
    store = LmdbStore(datadir / "chain")
    ledger = Ledger(store, genesis)
    app = ChainApplication(
        ledger,
        Mempool(CHAIN_ID),
        ChainValidatorSets(),
        SystemClock(),
        coinbase=FIRST_ADDRESS,
        on_commit=lambda block: None,
        executor=BlockExecutor(ledger.engine, store),
    )
    roots = []
    try:
        await app.start()
        for height in range(1, BLOCKS + 1):
            if height == 1:
                unsigned = UnsignedTransaction(
                    type=DYNAMIC_FEE_TX, chain_id=CHAIN_ID, nonce=0, gas_limit=2_000_000,
                    max_fee_per_gas=10**10, max_priority_fee_per_gas=1, to=GOVERNANCE_ADDRESS,
                    data=vote_call(SECOND_ADDRESS, 10),
                )  # fmt: skip
                tx = decode_transaction(sign_transaction(unsigned, FIRST).raw, CHAIN_ID)
                app.mempool.add(
                    tx,
                    account=ledger.account_state(tx.sender),
                    base_fee=ledger.next_base_fee(),
                    block_gas_limit=ledger.head.gas_limit,
                )
            value = await app.prepare_proposal(height, 0)
            await app.commit(height, value, certify(value, height, signers_of(height)).certificate)
            block = ledger.block_by_number(height)
            assert block is not None
            roots.append(block.header.parent_beacon_block_root or b"")
        assert len(ledger.block_by_number(1).transactions) == 1  # type: ignore[union-attr]
    finally:
        app.executor.close()
        store.close()
    return roots


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Genesis, list[bytes]]:
    root = tmp_path_factory.mktemp("governed")
    genesis_file = root / "genesis.json"
    genesis = write_genesis(genesis_file)
    roots = asyncio.run(build_chain(root / "data", genesis))
    return root / "data", genesis_file, genesis, roots


def test_the_chain_changed_its_set_by_vote(
    source: tuple[Path, Path, Genesis, list[bytes]],
) -> None:
    *_, roots = source
    # Block 1 commits to the set of height 2 (still {FIRST}); block 2 to that of height 3.
    assert roots[0] != roots[1]
    assert roots[1] == roots[-1]


def test_import_across_the_set_change_gives_the_same_head_and_state_root(
    source: tuple[Path, Path, Genesis, list[bytes]], tmp_path: Path
) -> None:
    datadir, genesis_file, genesis, _ = source
    file = tmp_path / "chain.export"
    code, out = run("export", "--datadir", datadir, "--genesis", genesis_file, file)
    assert code == 0, out
    fresh = tmp_path / "fresh"
    code, out = run("import", "--datadir", fresh, "--genesis", genesis_file, file)
    assert code == 0, out
    original = chain_summary(datadir, genesis)
    assert chain_summary(fresh, genesis) == original
    head_hash, head_root, _ = original[-1]
    assert f"head block {BLOCKS} 0x{head_hash.hex()}, state root 0x{head_root.hex()}" in out


@pytest.mark.parametrize(
    ("height", "keys", "reason"),
    [
        (ACTIVATION, [FIRST], "no more than 2/3 of the voting power"),  # the old set, after
        (BLOCKS, [FIRST], "no more than 2/3 of the voting power"),
        (ACTIVATION - 1, [FIRST, SECOND], "signed by a non-validator"),  # the new, before
    ],
)
def test_a_certificate_of_the_wrong_set_for_its_height_is_refused(
    source: tuple[Path, Path, Genesis, list[bytes]],
    tmp_path: Path,
    height: int,
    keys: list[bytes],
    reason: str,
) -> None:
    datadir, genesis_file, genesis, _ = source
    file = tmp_path / "chain.export"
    code, out = run("export", "--datadir", datadir, "--genesis", genesis_file, file)
    assert code == 0, out
    data = file.read_bytes()
    offsets = [*record_offsets(data), len(data)]
    at, end = offsets[height - 1], offsets[height]
    value = _record_value(data[at:end])
    # FIRST alone was a quorum before the change: only the set of its height tells.
    record = encode_message(certify(value, height, keys))
    forged = data[:at] + len(record).to_bytes(4, "big") + record + data[end:]
    (tmp_path / "forged.export").write_bytes(forged)

    fresh = tmp_path / "fresh"
    code, out = run(
        "import", "--datadir", fresh, "--genesis", genesis_file, tmp_path / "forged.export"
    )
    assert code != 0
    assert f"block {height} (0x{value.hash.hex()}) is refused" in out, out
    assert reason in out, out
    assert len(chain_summary(fresh, genesis)) == height  # genesis and blocks 1..height-1


def _record_value(record: bytes) -> BlockValue:
    message = decode_message(record[4:])
    assert isinstance(message, Commit)
    return message.block


def test_sets_are_read_on_the_executor_thread_and_held_for_consensus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    genesis = write_genesis(tmp_path / "genesis.json")
    threads: list[tuple[str, int]] = []
    real = validatorsets.read_validator_set

    def recording(engine: ExecutionEngine, height: int) -> object:
        threads.append((threading.current_thread().name, height))
        return real(engine, height)

    monkeypatch.setattr(validatorsets, "read_validator_set", recording)
    asyncio.run(build_chain(tmp_path / "data", genesis))
    # Heights 1 and 2 at start, then one set per committed block (N fixes N + 2).
    assert [h for _, h in threads] == list(range(1, BLOCKS + 3))
    assert all(name.startswith("peerchain-executor") for name, _ in threads), threads

    sets = ChainValidatorSets()
    assert sets(1) is None  # holds nothing it was not given: it never reads by itself
    store = LmdbStore(tmp_path / "data" / "chain")
    executor = BlockExecutor(Ledger(store, genesis).engine, store)
    try:
        asyncio.run(sets.committed(BLOCKS, executor.run))
    finally:
        executor.close()
        store.close()
    assert [sets(h) is not None for h in range(BLOCKS - 1, BLOCKS + 4)] == [
        False, True, True, True, False,
    ]  # fmt: skip
    held, following = sets(BLOCKS), sets(BLOCKS + 2)
    assert held is not None and following is not None
    assert held is following  # an unchanged set is one object for all its heights
    assert {v.address for v in held} == {FIRST_ADDRESS, SECOND_ADDRESS}
