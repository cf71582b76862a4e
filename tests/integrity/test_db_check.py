"""`peerchain db check`: the full check of a stopped node's chain database."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from peerchain.cli.main import cli
from peerchain.drivers.storage import LmdbStore

from .chain_probe import GENESIS, build_chain


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    datadir = tmp_path_factory.mktemp("checked")
    build_chain(datadir, blocks=12)
    (datadir / "genesis.json").write_text(json.dumps(GENESIS.to_json()))
    return datadir


def test_a_whole_store_passes(chain: Path) -> None:
    result = CliRunner().invoke(cli, ["db", "check", "--datadir", str(chain)])
    assert result.exit_code == 0, result.output
    assert "no damage found" in result.output
    assert "12 blocks" not in result.output and "13 blocks" in result.output


def test_a_damaged_state_node_of_an_old_block_is_found(chain: Path, tmp_path: Path) -> None:
    datadir = tmp_path / "datadir"
    shutil.copytree(chain, datadir)
    store = LmdbStore(datadir / "chain")
    try:
        # A record only the full walk reaches: contract code (deployed in block 1).
        code_hash = next(
            key
            for key, value in store.records("state")
            if value == bytes.fromhex("60005460005260206000f3")
        )
        store.write({code_hash: None})
    finally:
        store.close()
    result = CliRunner().invoke(cli, ["db", "check", "--datadir", str(datadir)])
    assert result.exit_code == 1
    assert f"damaged: contract code: record 0x{code_hash.hex()} is missing" in result.output
    assert "the chain database is damaged" in result.output


def test_a_missing_transaction_lookup_is_found(chain: Path, tmp_path: Path) -> None:
    datadir = tmp_path / "datadir"
    shutil.copytree(chain, datadir)
    store = LmdbStore(datadir / "chain")
    try:
        lookup = next(
            key for key, _ in store.records("state") if key.startswith(b"transaction-hash-to-block")
        )
        store.write({lookup: None})
    finally:
        store.close()
    result = CliRunner().invoke(cli, ["db", "check", "--datadir", str(datadir)])
    assert result.exit_code == 1
    assert "the lookup of transaction 0x" in result.output
