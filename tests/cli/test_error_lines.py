"""What reaches a user when a command fails: one line on stderr and exit status 1, never a
Python traceback."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import click
import pytest

from peerchain.cli import main as cli_main


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the `peerchain` entry point; return its stderr (it must exit with status 1)."""
    monkeypatch.setattr(sys, "argv", ["peerchain", *args])
    with pytest.raises(SystemExit) as exit_:
        cli_main.main()
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def test_a_url_that_is_not_http_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _run(monkeypatch, capsys, "status", "--rpc", "localhost:8545")
    assert (
        err == "error: 'localhost:8545' is not a node's JSON-RPC URL like http://127.0.0.1:8545\n"
    )


def test_a_node_that_is_not_there_is_named_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        err = _run(monkeypatch, capsys, "status", "--rpc", f"http://127.0.0.1:{port}")
    assert err == f"error: cannot reach http://127.0.0.1:{port}: connection refused\n"


def test_a_refused_path_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "pw").write_text("pw\n")
    keystore = tmp_path / "file" / "keys"
    err = _run(
        monkeypatch,
        capsys,
        *("account", "new", "--keystore", str(keystore), "--password-file", str(tmp_path / "pw")),
    )
    assert err == f"error: Not a directory: {keystore}\n"


def test_a_bug_is_one_line_saying_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    @click.command("crash")
    def crash() -> None:
        raise KeyError("slot")

    cli_main.cli.add_command(crash)
    try:
        err = _run(monkeypatch, capsys, "crash")
    finally:
        cli_main.cli.commands.pop("crash")
    assert err.startswith("internal error: KeyError: 'slot' (a bug in peerchain;")


def test_db_check_of_a_directory_without_a_chain_refuses_and_creates_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps({"config": {"chainId": 5}, "alloc": {}}))
    empty = tmp_path / "empty"
    empty.mkdir()
    err = _run(monkeypatch, capsys, "db", "check", "--datadir", str(empty))
    assert err == f"Error: {empty} holds no chain (no chain/data.mdb)\n"
    assert list(empty.iterdir()) == []
