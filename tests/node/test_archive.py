"""`peerchain export` / `peerchain import` on LMDB data directories: a round trip gives the
same blocks, certificates and state root; damaged, altered, truncated or foreign files are
refused with the block they fail at, and nothing after it is imported."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest
import rlp
from click.testing import CliRunner

from peerchain.cli.main import cli
from peerchain.core.chainvalue import decode_chain_value, encode_chain_value
from peerchain.core.consensus.certificate import (
    Commit,
    certificate_from_votes,
    encode_certificate,
)
from peerchain.core.consensus.messages import BlockValue, VoteKind, sign_vote
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.consensus.wire import encode_message
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.genesis import Genesis, dev_genesis, parse_genesis
from peerchain.core.mempool import Mempool
from peerchain.core.transactions import UnsignedTransaction, decode_transaction, sign_transaction
from peerchain.drivers.clock import SystemClock
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.storage import LmdbStore
from peerchain.node.archive import MAGIC, ArchiveHeader
from peerchain.node.chainapp import ChainApplication
from peerchain.node.executor import BlockExecutor
from peerchain.node.ledger import Ledger

CHAIN_ID = 4242
VALIDATOR_KEY = keccak256(b"archive test validator")
SENDER_KEY = dev_private_keys(1)[0]
BLOCKS = 12


def write_genesis(path: Path, chain_id: int = CHAIN_ID) -> Genesis:
    base = dev_genesis(chain_id, [private_key_to_address(SENDER_KEY)], 10**22)
    data = base.to_json()
    address = "0x" + private_key_to_address(VALIDATOR_KEY).hex()
    data["peerchain"] = {"validators": [{"address": address, "power": 10}]}
    path.write_text(json.dumps(data))
    return parse_genesis(data)


def open_chain(datadir: Path, genesis: Genesis) -> tuple[LmdbStore, ChainApplication]:
    store = LmdbStore(datadir / "chain")
    ledger = Ledger(store, genesis)
    app = ChainApplication(
        ledger,
        Mempool(genesis.chain_id),
        ValidatorSet(genesis.validators),
        SystemClock(),
        coinbase=private_key_to_address(VALIDATOR_KEY),
        on_commit=lambda block: None,
        executor=BlockExecutor(ledger.engine, store),
    )
    return store, app


def certify(value: BlockValue, height: int, chain_id: int = CHAIN_ID) -> Commit:
    vote = sign_vote(VALIDATOR_KEY, chain_id, VoteKind.PRECOMMIT, height, 0, value.hash)
    return Commit(value, certificate_from_votes([vote]))


def build_chain(datadir: Path, genesis: Genesis, blocks: int) -> None:
    """`blocks` blocks decided by the one validator, each with a transfer."""
    store, app = open_chain(datadir, genesis)
    try:
        for height in range(1, blocks + 1):
            unsigned = UnsignedTransaction(
                type=2, chain_id=genesis.chain_id, nonce=height - 1, gas_limit=21000,
                max_fee_per_gas=10**10, max_priority_fee_per_gas=1, to=b"\x42" * 20,
                value=height,
            )  # fmt: skip
            tx = decode_transaction(sign_transaction(unsigned, SENDER_KEY).raw, genesis.chain_id)
            ledger = app.ledger
            app.mempool.add(
                tx,
                account=ledger.account_state(tx.sender),
                base_fee=ledger.next_base_fee(),
                block_gas_limit=ledger.head.gas_limit,
            )
            value = asyncio.run(app.prepare_proposal(height, 0))
            commit = certify(value, height, genesis.chain_id)
            asyncio.run(_committed(app, height, value, commit))
    finally:
        app.executor.close()
        store.close()


async def _committed(app: ChainApplication, height: int, value: BlockValue, commit: Commit) -> None:
    await app.commit(height, value, commit.certificate)


def chain_summary(datadir: Path, genesis: Genesis) -> list[tuple[bytes, bytes, bytes]]:
    """(block hash, state root, encoded certificate) of every block of a data directory."""
    store, app = open_chain(datadir, genesis)
    try:
        found = []
        for height in range(app.ledger.head.number + 1):
            block = app.ledger.block_by_number(height)
            assert block is not None
            certificate = app.certificate(height)
            encoded = b"" if certificate is None else encode_certificate(certificate)
            found.append((block.hash, block.header.state_root, encoded))
        return found
    finally:
        store.close()


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    error = f"{result.exception}" if result.exception else ""
    return result.exit_code, result.output + error


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Genesis]:
    """A data directory with BLOCKS certified blocks, and its genesis file."""
    root = tmp_path_factory.mktemp("source")
    genesis_file = root / "genesis.json"
    genesis = write_genesis(genesis_file)
    build_chain(root / "data", genesis, BLOCKS)
    return root / "data", genesis_file, genesis


@pytest.mark.parametrize("name", ["chain.export", "chain.export.gz"])
def test_round_trip_gives_the_same_blocks_certificates_and_state_root(
    source: tuple[Path, Path, Genesis], tmp_path: Path, name: str
) -> None:
    datadir, genesis_file, genesis = source
    file = tmp_path / name
    code, out = run("export", "--datadir", datadir, "--genesis", genesis_file, file)
    assert code == 0, out
    assert f"exported blocks 1..{BLOCKS} of chain {CHAIN_ID}" in out
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no partial file left
    if name.endswith(".gz"):
        with gzip.open(file) as unpacked:
            assert unpacked.read(len(MAGIC)) == MAGIC

    fresh = tmp_path / "fresh"
    code, out = run("import", "--datadir", fresh, "--genesis", genesis_file, file)
    assert code == 0, out
    original = chain_summary(datadir, genesis)
    assert chain_summary(fresh, genesis) == original
    head_hash, head_root, _ = original[-1]
    assert f"imported {BLOCKS} blocks (0 already there)" in out
    assert f"head block {BLOCKS} 0x{head_hash.hex()}, state root 0x{head_root.hex()}" in out
    assert (fresh / "genesis.json").read_text() == genesis_file.read_text()
    code, out = run("db", "check", "--datadir", fresh)  # what the import wrote is whole
    assert code == 0 and "no damage found" in out, out

    # Run again (e.g. after an interruption): the blocks already there are skipped.
    code, out = run("import", "--datadir", fresh, file)
    assert code == 0 and f"imported 0 blocks ({BLOCKS} already there)" in out, out


def export_bytes(source: tuple[Path, Path, Genesis], tmp_path: Path) -> bytes:
    datadir, genesis_file, _ = source
    file = tmp_path / "good.export"
    code, out = run("export", "--datadir", datadir, "--genesis", genesis_file, file)
    assert code == 0, out
    return file.read_bytes()


def record_offsets(data: bytes) -> list[int]:
    """Where each block's record (its length prefix) starts in an export file."""
    at = len(MAGIC)
    at += 4 + int.from_bytes(data[at : at + 4], "big")
    offsets = []
    while at < len(data):
        offsets.append(at)
        at += 4 + int.from_bytes(data[at : at + 4], "big")
    return offsets


def test_an_altered_block_is_refused_by_number_and_nothing_after_it_is_imported(
    source: tuple[Path, Path, Genesis], tmp_path: Path
) -> None:
    _, genesis_file, genesis = source
    data = bytearray(export_bytes(source, tmp_path))
    offsets = record_offsets(bytes(data))
    assert len(offsets) == BLOCKS
    # Change one byte near the end of block 7's record: inside its block RLP (the value).
    data[offsets[7] - 40] ^= 0x01
    file = tmp_path / "altered.export"
    file.write_bytes(bytes(data))

    fresh = tmp_path / "fresh"
    code, out = run("import", "--datadir", fresh, "--genesis", genesis_file, file)
    assert code != 0
    assert "block 7" in out and "damaged or was altered" in out, out
    assert "nothing after block 6 was imported" in out
    assert len(chain_summary(fresh, genesis)) == 7  # genesis and blocks 1..6


def test_a_block_signed_by_the_validator_but_with_a_wrong_state_root_is_refused(
    source: tuple[Path, Path, Genesis], tmp_path: Path
) -> None:
    """A file made by someone holding the validator key still cannot smuggle in a block
    whose header does not match its execution."""
    datadir, genesis_file, genesis = source
    store, app = open_chain(datadir, genesis)
    try:
        records = [Commit(app.value_of(h), app.certificate(h)) for h in (1, 2, 3)]  # type: ignore[arg-type]
        genesis_hash = app.ledger.engine.genesis_hash
    finally:
        store.close()
    value = decode_chain_value(records[2].block.data)
    header, *rest = rlp.decode(value.block_rlp)
    header[3] = b"\x13" * 32  # the state root
    forged_rlp = rlp.encode([header, *rest])
    forged_hash = keccak256(rlp.encode(header))
    forged = encode_chain_value(forged_hash, value.parent_certificate, forged_rlp)
    records[2] = certify(forged, 3)

    file = tmp_path / "forged.export"
    meta = ArchiveHeader(CHAIN_ID, genesis_hash, 1, 3).to_json()
    body = json.dumps(meta).encode()
    with file.open("wb") as out:
        out.write(MAGIC + len(body).to_bytes(4, "big") + body)
        for commit in records:
            encoded = encode_message(commit)
            out.write(len(encoded).to_bytes(4, "big") + encoded)

    fresh = tmp_path / "fresh"
    code, out = run("import", "--datadir", fresh, "--genesis", genesis_file, file)
    assert code != 0
    assert f"block 3 (0x{forged_hash.hex()}) is refused" in out, out
    assert "state root" in out.lower() or "state_root" in out.lower(), out
    assert len(chain_summary(fresh, genesis)) == 3  # genesis, 1, 2


def test_truncated_foreign_and_non_export_files_are_refused(
    source: tuple[Path, Path, Genesis], tmp_path: Path
) -> None:
    _, genesis_file, _ = source
    data = export_bytes(source, tmp_path)
    truncated = tmp_path / "truncated.export"
    truncated.write_bytes(data[: record_offsets(data)[9] + 10])
    code, out = run("import", "--datadir", tmp_path / "a", "--genesis", genesis_file, truncated)
    assert code != 0 and "the file ends inside the record of block 10 (truncated)" in out, out

    other_genesis = tmp_path / "other.json"
    write_genesis(other_genesis, chain_id=CHAIN_ID + 1)
    good = tmp_path / "good.export"
    code, out = run("import", "--datadir", tmp_path / "b", "--genesis", other_genesis, good)
    assert code != 0 and f"holds chain {CHAIN_ID}" in out, out

    junk = tmp_path / "junk.export"
    junk.write_bytes(b"hello, this is not a chain")
    code, out = run("import", "--datadir", tmp_path / "c", "--genesis", genesis_file, junk)
    assert code != 0 and "not a PeerChain export file" in out, out
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()  # nothing created

    (tmp_path / "empty").mkdir()
    code, out = run("export", "--datadir", tmp_path / "empty", "--genesis", genesis_file, junk)
    assert code != 0 and "holds no chain" in out, out
