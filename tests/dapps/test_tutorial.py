"""docs/tutorial.md runs as written: its compile command, then all its Python in one
session, against a 4-validator devnet of real processes (on free ports)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.network.harness import Devnet

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = (ROOT / "docs" / "tutorial.md").read_text()
DEFAULT_URL = "http://127.0.0.1:8545"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TUTORIAL, re.DOTALL)


@pytest.mark.slow
def test_tutorial_runs_as_written(tmp_path: Path) -> None:
    for name in ("examples", ".venv", ".solc"):
        (tmp_path / name).symlink_to(ROOT / name)
    [compile_block] = [b for b in _blocks("sh") if "peerchain compile" in b]
    command = compile_block.replace("\\\n", " ").splitlines()[-1]
    assert command.startswith(".venv/bin/peerchain compile --out build")
    compiled = subprocess.run(
        command.split(), cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert compiled.returncode == 0, compiled.stderr
    assert len(list((tmp_path / "build").glob("*.json"))) == 4
    net = Devnet.create(tmp_path / "devnet", 4)
    try:
        net.start()
        net.wait_for_height((0, 1, 2, 3), 2, timeout=60)
        net.wait_for_heavy_queries([0])  # the tutorial deploys and calls through node 0
        script = "\n".join(_blocks("python")).replace(DEFAULT_URL, net.nodes[0].rpc_url)
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        net.close()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    for line in (
        "Bob holds 250 PEER",
        "refused: execution reverted: insufficient balance",
        "refused: execution reverted: voting is still open",
        "Passed",
        "Erin received 0.4 ether",
        "Bob received 2 ether",
        "fetched 940 bytes and the hash matches",
        "CALL to 0x15d34aaf54267db7d7c367839aaf71a00a2c6a65 value 400000000000000000",
    ):
        assert line in done.stdout, line
