"""CLI commands that need no running node: account management and init."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from peerchain.cli.main import cli
from peerchain.core.crypto import private_key_to_address
from peerchain.drivers.keystore import list_key_files, load_key_file

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    # Errors the `peerchain` entry point prints as one line arrive here as exceptions.
    error = f"{result.exception}" if result.exception else ""
    return result.exit_code, result.output + error


def test_account_new_list_import(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text("correct horse\n")
    keystore = str(tmp_path / "keys")
    code, out = run("account", "new", "--keystore", keystore, "--password-file", str(password))
    assert code == 0, out
    key_file = tmp_path / "hexkey"
    key_file.write_text("0x" + KEY.hex())
    code, out = run(
        "account", "import", str(key_file), "--keystore", keystore, "--password-file", str(password)
    )
    assert code == 0, out
    assert private_key_to_address(KEY).hex() in out
    code, out = run("account", "list", "--keystore", keystore)
    assert code == 0 and out.count("0x") == 2
    entries = dict(list_key_files(tmp_path / "keys"))
    assert load_key_file(entries[private_key_to_address(KEY)], "correct horse") == KEY


def test_account_import_rejects_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text("not a key")
    code, out = run(
        "account",
        "import",
        str(bad),
        "--keystore",
        str(tmp_path / "k"),
        "--password-file",
        str(bad),
    )
    assert code != 0
    assert "does not hold a hex private key" in out


def _genesis(chain_id: int) -> dict[str, object]:
    return {
        "config": {"chainId": chain_id},
        "alloc": {"0x" + "11" * 20: {"balance": "0x1000"}},
        "gasLimit": "0x1c9c380",
        "baseFeePerGas": "0x3b9aca00",
        "timestamp": "0x0",
        "extraData": "0x",
    }


def test_init_then_refuse_another_chains_directory(tmp_path: Path) -> None:
    first = tmp_path / "a.json"
    first.write_text(json.dumps(_genesis(7)))
    datadir = str(tmp_path / "data")
    code, out = run("init", "--genesis", str(first), "--datadir", datadir)
    assert code == 0, out
    assert "chain id 7" in out
    # Again with the same genesis: fine, nothing overwritten.
    code, out = run("init", "--genesis", str(first), "--datadir", datadir)
    assert code == 0, out
    other = tmp_path / "b.json"
    other.write_text(json.dumps(_genesis(8)))
    code, out = run("init", "--genesis", str(other), "--datadir", datadir)
    assert code != 0
    assert "belongs to another chain (chain id 7" in out


def test_init_rejects_malformed_genesis(tmp_path: Path) -> None:
    bad = tmp_path / "g.json"
    bad.write_text("{not json")
    code, out = run("init", "--genesis", str(bad), "--datadir", str(tmp_path / "d"))
    assert code != 0
    assert "cannot read genesis file" in out
