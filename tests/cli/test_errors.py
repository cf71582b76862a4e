"""Errors of the machine reach the user of the `peerchain` command as one line."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def test_a_port_in_use_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "peerchain.cli", "dev", "--rpc-workers", "0",
             "--datadir", str(tmp_path / "dev"), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "address already in use" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
