"""Running PeerChain commands as real processes in tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NodeProcess:
    """A `peerchain ...` child process whose output is kept in a log file.

    `start` returns once a line containing `ready_marker` has been printed, or
    raises RuntimeError (with the log) if the process exits or `timeout` passes.
    """

    def __init__(self, args: Sequence[str], log_path: Path, ready_marker: str) -> None:
        self.args = list(args)
        self.log_path = log_path
        self.ready_marker = ready_marker
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> NodeProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "peerchain.cli", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        ready = threading.Event()
        threading.Thread(target=self._pump, args=(ready,), daemon=True).start()
        if not ready.wait(timeout) or self.proc.poll() is not None:
            self.kill()
            raise RuntimeError(f"node not ready in {timeout}s:\n{self.output()}")
        return self

    def _pump(self, ready: threading.Event) -> None:
        """Copy output to the log (so the child never blocks on a full pipe); flag readiness."""
        assert self.proc is not None and self.proc.stdout is not None
        marker = self.ready_marker.encode()
        with self.log_path.open("ab") as log:
            for line in iter(self.proc.stdout.readline, b""):
                log.write(line)
                log.flush()
                if marker in line:
                    ready.set()
        ready.set()  # exited: let the waiter see it at once

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
