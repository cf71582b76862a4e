"""The devnet supervisor: one child process per node, kept apart from each other's fate.

`Supervisor.run` starts every node and stays until asked to stop (Ctrl-C): a node that
dies is reported (exit status and the last lines of its log) and the others keep running.
Other terminals act on a running devnet through a Unix socket in its directory
(`devnet.sock`, mode 0600): one JSON request line, one JSON answer line.

    {"command": "status"}                  -> {"ok": true, "supervisor": PID, "nodes": [...]}
    {"command": "kill" | "restart" | "pause" | "resume", "node": N}
                                           -> {"ok": true, "message": "...", "node": {...}}
    anything wrong                         -> {"ok": false, "error": "..."}

`kill` is SIGKILL (a crash), `pause`/`resume` are SIGSTOP/SIGCONT, `restart` stops a
running node (SIGTERM, SIGKILL after a grace period) and starts it again. `request`
is the client side. Nodes run in their own process group, so a Ctrl-C in the terminal
reaches only the supervisor, which then stops them all, and die with the supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from peerchain.core.errors import PeerChainError
from peerchain.drivers.process import child_preexec

CONTROL_SOCKET = "devnet.sock"
LOG_TAIL_LINES = 12
STOP_GRACE = 20.0  # seconds a node has to stop on SIGTERM before SIGKILL
_MAX_REQUEST = 64 * 1024
_CLIENT_TIMEOUT = 10.0  # seconds a control client has to send its request
_MAX_SOCKET_PATH = 107  # sun_path of Linux, less the terminating NUL


class DevnetControlError(PeerChainError):
    """A devnet control request failed: no devnet running there, or it refused."""


class NodeState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    EXITED = "exited"  # died on its own (crash, error, killed from outside)
    KILLED = "killed"  # by `devnet kill`


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """How the supervisor starts one node: the command and where its output goes."""

    index: int
    command: Sequence[str]
    log: Path
    rpc_url: str


@dataclass(slots=True)
class _Slot:
    spec: NodeSpec
    process: asyncio.subprocess.Process | None = None
    state: NodeState = NodeState.EXITED
    exit_status: int | None = None
    restarts: int = 0
    expected_exit: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def describe(self) -> dict[str, Any]:
        return {
            "index": self.spec.index,
            "pid": self.process.pid if self.alive and self.process else None,
            "state": self.state.value,
            "exitStatus": self.exit_status,
            "exit": None if self.exit_status is None else describe_exit(self.exit_status),
            "restarts": self.restarts,
            "rpcUrl": self.spec.rpc_url,
            "log": str(self.spec.log),
        }


def describe_exit(status: int) -> str:
    """'exit status 1' or 'killed by SIGKILL' for a Popen-style return code."""
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last `lines` lines of a log file (read from its end; [] if unreadable)."""
    try:
        with path.open("rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - 64 * 1024))
            text = file.read().decode(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


class Supervisor:
    """Runs the nodes of one devnet directory; `report` receives what the operator sees."""

    def __init__(
        self, directory: Path, nodes: Sequence[NodeSpec], report: Callable[[str], None]
    ) -> None:
        self.directory = directory
        self.report = report
        self._slots = {spec.index: _Slot(spec) for spec in nodes}
        self._stopping = False
        self._watchers: set[asyncio.Task[None]] = set()

    @property
    def socket_path(self) -> Path:
        return self.directory / CONTROL_SOCKET

    async def run(self, stop: asyncio.Event) -> None:
        """Start every node, serve control requests, and when `stop` is set stop them all.
        Raises DevnetControlError if a devnet already runs from this directory."""
        server = await asyncio.start_unix_server(
            self._serve_client, sock=_bind_control_socket(self.socket_path), limit=_MAX_REQUEST
        )
        try:
            for slot in self._slots.values():
                await self._start(slot)
            await stop.wait()
        finally:
            server.close()
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
            await self.stop_all()

    # --- actions -----------------------------------------------------------------------------
    def status(self) -> list[dict[str, Any]]:
        return [slot.describe() for slot in self._slots.values()]

    async def kill(self, index: int) -> str:
        slot = self._slot(index)
        async with slot.lock:
            process = self._require_alive(slot)
            slot.expected_exit = True
            process.send_signal(signal.SIGKILL)
            slot.exit_status = await process.wait()
            slot.state = NodeState.KILLED
        return f"node{index} killed (pid {process.pid})"

    async def restart(self, index: int) -> str:
        slot = self._slot(index)
        async with slot.lock:
            if slot.alive:
                await self._terminate(slot)
            await self._start(slot)
            slot.restarts += 1
        assert slot.process is not None
        return f"node{index} restarted (pid {slot.process.pid})"

    async def pause(self, index: int) -> str:
        slot = self._slot(index)
        async with slot.lock:
            process = self._require_alive(slot)
            if slot.state is NodeState.PAUSED:
                raise DevnetControlError(f"node{index} is already paused")
            process.send_signal(signal.SIGSTOP)
            slot.state = NodeState.PAUSED
        return f"node{index} paused (SIGSTOP to pid {process.pid})"

    async def resume(self, index: int) -> str:
        slot = self._slot(index)
        async with slot.lock:
            process = self._require_alive(slot)
            if slot.state is not NodeState.PAUSED:
                raise DevnetControlError(f"node{index} is not paused")
            process.send_signal(signal.SIGCONT)
            slot.state = NodeState.RUNNING
        return f"node{index} resumed (SIGCONT to pid {process.pid})"

    async def stop_all(self) -> None:
        """Stop every node (SIGTERM, SIGKILL after the grace period); report nothing."""
        self._stopping = True
        await asyncio.gather(*(self._terminate(s) for s in self._slots.values() if s.alive))
        for task in list(self._watchers):
            task.cancel()

    # --- processes ---------------------------------------------------------------------------
    def _slot(self, index: int) -> _Slot:
        slot = self._slots.get(index)
        if slot is None:
            known = ", ".join(str(i) for i in self._slots)
            raise DevnetControlError(f"there is no node{index} (nodes: {known})")
        return slot

    def _require_alive(self, slot: _Slot) -> asyncio.subprocess.Process:
        if not slot.alive or slot.process is None:
            raise DevnetControlError(
                f"node{slot.spec.index} is not running ({slot.state.value}); "
                "`restart` starts it again"
            )
        return slot.process

    async def _start(self, slot: _Slot) -> None:
        spec = slot.spec
        with spec.log.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *spec.command,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
                start_new_session=True,
                preexec_fn=child_preexec(),
            )
        slot.process, slot.state, slot.exit_status = process, NodeState.RUNNING, None
        slot.expected_exit = False
        watcher = asyncio.get_running_loop().create_task(self._watch(slot, process))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _watch(self, slot: _Slot, process: asyncio.subprocess.Process) -> None:
        status = await process.wait()
        if slot.process is not process:
            return
        slot.exit_status = status
        if slot.expected_exit or self._stopping:
            slot.state = NodeState.KILLED
            return
        slot.state = NodeState.EXITED
        index = slot.spec.index
        lines = [
            f"node{index} (pid {process.pid}) exited: {describe_exit(status)}; "
            "the other nodes keep running.",
            f"last lines of {slot.spec.log}:",
            *(f"    {line}" for line in log_tail(slot.spec.log)),
            f"start it again with: peerchain devnet restart {index} --dir {self.directory}",
        ]
        self.report("\n".join(lines))

    async def _terminate(self, slot: _Slot) -> None:
        process = slot.process
        if process is None or process.returncode is not None:
            return
        slot.expected_exit = True
        with contextlib.suppress(ProcessLookupError):
            if slot.state is NodeState.PAUSED:
                process.send_signal(signal.SIGCONT)  # a stopped process never acts on TERM
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        slot.exit_status = await process.wait()
        slot.state = NodeState.KILLED

    # --- control socket ----------------------------------------------------------------------
    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), _CLIENT_TIMEOUT)
            answer = await self._answer(line)
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, ValueError, TimeoutError):
            pass  # the client went away, sent a line over the limit or nothing at all
        finally:
            writer.close()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise DevnetControlError("a request is a JSON object")
            command = request.get("command")
            if command == "status":
                return {"ok": True, "supervisor": os.getpid(), "nodes": self.status()}
            actions = {
                "kill": self.kill,
                "restart": self.restart,
                "pause": self.pause,
                "resume": self.resume,
            }
            if command not in actions:
                raise DevnetControlError(f"unknown command {str(command)[:40]!r}")
            index = request.get("node")
            if not isinstance(index, int) or isinstance(index, bool):
                raise DevnetControlError("'node' must be a node number")
            message = await actions[command](index)
            self.report(message)
            return {"ok": True, "message": message, "node": self._slot(index).describe()}
        except DevnetControlError as exc:
            return {"ok": False, "error": str(exc)}
        except ValueError:
            return {"ok": False, "error": "a request is one line of JSON"}


def _bind_control_socket(path: Path) -> socket.socket:
    """A listening Unix socket at `path`, readable by this user only. Raises
    DevnetControlError if a supervisor already answers there or the path is too long."""
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise DevnetControlError(
            f"the devnet directory's path is too long for its control socket {path} "
            f"(over {_MAX_SOCKET_PATH} bytes); use a shorter --dir"
        )
    if path.exists():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(os.fsencode(path))
            except (ConnectionRefusedError, FileNotFoundError):
                path.unlink(missing_ok=True)  # left behind by a supervisor that was killed
            else:
                raise DevnetControlError(
                    f"a devnet is already running from {path.parent}; "
                    f"see `peerchain devnet status --dir {path.parent}`"
                )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    umask = os.umask(0o177)
    try:
        sock.bind(os.fsencode(path))
    finally:
        os.umask(umask)
    sock.listen(16)
    sock.setblocking(False)
    return sock


def request(directory: Path, message: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
    """Send one control request to the devnet supervisor of `directory`; return its answer.
    Raises DevnetControlError when none runs there or it refuses the request."""
    path = directory / CONTROL_SOCKET
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(os.fsencode(path))
            sock.sendall(json.dumps(message).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (FileNotFoundError, ConnectionRefusedError):
            raise DevnetControlError(
                f"no devnet is running from {directory} (start one with "
                f"`peerchain devnet --dir {directory}`)"
            ) from None
        except OSError as exc:
            raise DevnetControlError(f"the devnet supervisor of {directory}: {exc}") from exc
    try:
        answer = json.loads(data)
    except ValueError:
        raise DevnetControlError(f"the devnet supervisor of {directory} did not answer") from None
    if not answer.get("ok"):
        raise DevnetControlError(str(answer.get("error")))
    return dict(answer)
