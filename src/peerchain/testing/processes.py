"""Running PeerChain commands as real processes in tests and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from peerchain.drivers.process import child_preexec

# Ports are looked for below the kernel's ephemeral range, so that outgoing connections
# (of every process on this machine) do not take them between the check and the node's
# bind, from a place that depends on the process id (side-by-side runs pick different
# ones), and a port is handed out once per process (two nodes set up before either
# binds get different ones).
_BLOCK_SEARCH = range(20000, 32000)
_given: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (see `free_ports`)."""
    return free_ports(1)


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> int:
    """The first of `count` consecutive TCP ports on 127.0.0.1 that were free a moment
    ago and not handed out before by this process (for `create_devnet`, which numbers
    ports from a base). Raises RuntimeError."""
    span = len(_BLOCK_SEARCH)
    start = (os.getpid() * 7919) % span
    for _ in range(2):
        for step in range(0, span, count):
            base = _BLOCK_SEARCH.start + (start + step) % (span - count)
            block = range(base, base + count)
            if _given.isdisjoint(block) and all(_is_free(port) for port in block):
                _given.update(block)
                return base
        _given.clear()  # all handed out once: those no longer bound are free again
    raise RuntimeError(f"no {count} consecutive free ports")


class NodeProcess:
    """A `peerchain ...` child process whose output is kept in a log file.

    `start` returns once a line containing `ready_marker` has been printed, or
    raises RuntimeError (with the log) if the process exits or `timeout` passes.
    `launch` and `wait_ready` do the same in two steps, to start several at once.
    `prefix` goes before the interpreter (e.g. `ip netns exec NAME`). On Linux the child
    is killed when the thread that launched it ends (so launch from a long-lived thread).
    """

    def __init__(
        self,
        args: Sequence[str],
        log_path: Path,
        ready_marker: str,
        prefix: Sequence[str] = (),
    ) -> None:
        self.args = list(args)
        self.log_path = log_path
        self.ready_marker = ready_marker
        self.prefix = list(prefix)
        self.proc: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()

    def start(self, timeout: float = 120.0) -> NodeProcess:
        return self.launch().wait_ready(timeout)

    def launch(self) -> NodeProcess:
        """Start the process without waiting for it to be ready."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._ready = threading.Event()
        self.proc = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "peerchain.cli", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=child_preexec(),
        )
        threading.Thread(target=self._pump, args=(self.proc, self._ready), daemon=True).start()
        return self

    def wait_ready(self, timeout: float = 120.0) -> NodeProcess:
        """Wait for the ready marker; RuntimeError (with the log) if it never comes."""
        assert self.proc is not None, "launch() first"
        if not self._ready.wait(timeout) or self.proc.poll() is not None:
            self.kill()
            raise RuntimeError(f"node not ready in {timeout}s:\n{self.output()}")
        return self

    def _pump(self, proc: subprocess.Popen[bytes], ready: threading.Event) -> None:
        """Copy output to the log (so the child never blocks on a full pipe); flag readiness."""
        assert proc.stdout is not None
        marker = self.ready_marker.encode()
        with self.log_path.open("ab") as log:
            for line in iter(proc.stdout.readline, b""):
                log.write(line)
                log.flush()
                if marker in line:
                    ready.set()
        ready.set()  # exited: let the waiter see it at once

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

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


def wait_for_heavy_queries(url: str, timeout: float = 240.0) -> None:
    """Wait until the node at `url` answers an `eth_call`: it serves JSON-RPC before its
    query workers (processes at a lower CPU priority, see `node.queries`) have started,
    which on a busy machine takes minutes, longer than a client's timeout. Raises
    RuntimeError after `timeout` seconds."""
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"to": "0x" + "00" * 20}]}
    ).encode()
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"{url} answered no eth_call within {timeout:.0f}s")
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=left) as answer:
                if "result" in json.loads(answer.read()):
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
