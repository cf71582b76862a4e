"""The devnet supervisor over its control socket, with small stand-in child processes
instead of nodes: a death is reported with its exit status and log tail while the others
run on; kill, pause, resume and restart act on one child; a second supervisor is refused."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from peerchain.cli.supervisor import (
    CONTROL_SOCKET,
    DevnetControlError,
    NodeSpec,
    Supervisor,
    describe_exit,
    log_tail,
    request,
)

# A stand-in node: prints a few lines, then waits for a signal. Touching `<log>.die`
# makes it exit with status 3 (a crash the supervisor did not ask for).
CHILD = """
import os, sys, time
log = sys.argv[1]
for i in range(20):
    print(f"line {i} of {os.getpid()}", flush=True)
while not os.path.exists(log + ".die"):
    time.sleep(0.05)
print("dying now", flush=True)
sys.exit(3)
"""


def specs(directory: Path, count: int) -> list[NodeSpec]:
    found = []
    for i in range(count):
        log = directory / f"node{i}.log"
        command = [sys.executable, "-c", CHILD, str(log)]
        found.append(NodeSpec(i, command, log, f"http://127.0.0.1:{1 + i}"))
    return found


async def ask(directory: Path, command: str, node: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"command": command}
    if node is not None:
        message["node"] = node
    return await asyncio.to_thread(request, directory, message, 30)


def proc_state(pid: int) -> str:
    """The kernel's one-letter state of a process (R, S, T for stopped...)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


async def poll(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    async def loop() -> None:
        while not await condition():
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(loop(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@asynccontextmanager
async def running(directory: Path, count: int) -> AsyncIterator[tuple[Supervisor, list[str]]]:
    reports: list[str] = []
    supervisor = Supervisor(directory, specs(directory, count), reports.append)
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))
    try:
        await poll(
            lambda: _all_running(directory, count),
            "the supervisor to start its children",
        )
        yield supervisor, reports
    finally:
        stop.set()
        await task


async def _all_running(directory: Path, count: int) -> bool:
    if not (directory / CONTROL_SOCKET).exists():
        return False
    nodes = (await ask(directory, "status"))["nodes"]
    return len(nodes) == count and all(n["state"] == "running" for n in nodes)


async def states(directory: Path) -> list[str]:
    return [n["state"] for n in (await ask(directory, "status"))["nodes"]]


def pids(status: dict[str, Any]) -> list[int | None]:
    return [n["pid"] for n in status["nodes"]]


@pytest.mark.skipif(sys.platform != "linux", reason="reads process states from /proc")
def test_a_child_that_dies_is_reported_and_the_others_keep_running(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, 3) as (_, reports):
            before = pids(await ask(tmp_path, "status"))
            (tmp_path / "node1.log.die").touch()
            await poll(lambda: _has(reports, "node1"), "the death of node1 to be reported")
            report = reports[0]
            assert "exited: exit status 3" in report
            assert "dying now" in report and "line 19 of" in report  # the log's tail
            assert "peerchain devnet restart 1" in report
            status = await ask(tmp_path, "status")
            assert [n["state"] for n in status["nodes"]] == ["running", "exited", "running"]
            assert status["nodes"][1]["exitStatus"] == 3
            assert pids(status)[0] == before[0] and pids(status)[2] == before[2]
            for pid in (before[0], before[2]):
                assert pid is not None and proc_state(pid) in "RS"

            (tmp_path / "node1.log.die").unlink()
            answer = await ask(tmp_path, "restart", 1)
            assert answer["node"]["state"] == "running" and answer["node"]["restarts"] == 1
            assert answer["node"]["pid"] not in before

    asyncio.run(scenario())


async def _in_state(pid: int, letters: str) -> bool:
    return proc_state(pid) in letters


async def _has(reports: list[str], name: str) -> bool:
    return any(name in r for r in reports)


@pytest.mark.skipif(sys.platform != "linux", reason="reads process states from /proc")
def test_kill_pause_resume_and_restart_act_on_one_child(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, 2) as (_, reports):
            first = pids(await ask(tmp_path, "status"))
            assert first[0] is not None and first[1] is not None

            answer = await ask(tmp_path, "pause", 0)
            assert answer["node"]["state"] == "paused"
            await poll(lambda: _in_state(first[0], "T"), "node0 to be stopped")
            with pytest.raises(DevnetControlError, match="already paused"):
                await ask(tmp_path, "pause", 0)
            await ask(tmp_path, "resume", 0)
            await poll(lambda: _in_state(first[0], "RS"), "node0 to run again")
            with pytest.raises(DevnetControlError, match="not paused"):
                await ask(tmp_path, "resume", 0)

            answer = await ask(tmp_path, "kill", 1)
            assert answer["node"]["state"] == "killed" and answer["node"]["pid"] is None
            assert answer["node"]["exit"] == "killed by SIGKILL"
            assert not Path(f"/proc/{first[1]}").exists()
            with pytest.raises(DevnetControlError, match="node1 is not running"):
                await ask(tmp_path, "kill", 1)
            assert await states(tmp_path) == ["running", "killed"]

            # A paused child restarts too (it is woken to act on SIGTERM).
            await ask(tmp_path, "pause", 0)
            answer = await ask(tmp_path, "restart", 0)
            assert answer["node"]["state"] == "running" and answer["node"]["pid"] != first[0]
            await ask(tmp_path, "restart", 1)
            assert await states(tmp_path) == ["running", "running"]
            assert not any("exited" in r for r in reports)  # requested, so not reported as deaths

            with pytest.raises(DevnetControlError, match=r"no node7 \(nodes: 0, 1\)"):
                await ask(tmp_path, "kill", 7)
            with pytest.raises(DevnetControlError, match="unknown command"):
                await ask(tmp_path, "explode", 0)
            with pytest.raises(DevnetControlError, match="node number"):
                await asyncio.to_thread(request, tmp_path, {"command": "kill", "node": "1"})
            last = pids(await ask(tmp_path, "status"))
        # Stopping the supervisor stops every child, a paused one too.
        for pid in last:
            assert pid is not None and not Path(f"/proc/{pid}").exists()

    asyncio.run(scenario())


def test_a_second_supervisor_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, 1):
            other = Supervisor(tmp_path, specs(tmp_path, 1), print)
            with pytest.raises(DevnetControlError, match="already running"):
                await other.run(asyncio.Event())
        assert not (tmp_path / CONTROL_SOCKET).exists()
        with pytest.raises(DevnetControlError, match="no devnet is running"):
            await ask(tmp_path, "status")

    asyncio.run(scenario())


def test_a_socket_left_by_a_killed_supervisor_is_replaced(tmp_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.fsencode(tmp_path / CONTROL_SOCKET))
    stale.close()  # the file stays, nobody listens

    async def scenario() -> None:
        async with running(tmp_path, 1):
            assert await states(tmp_path) == ["running"]

    asyncio.run(scenario())


def test_exit_descriptions_and_log_tail(tmp_path: Path) -> None:
    assert describe_exit(0) == "exit status 0"
    assert describe_exit(-9) == "killed by SIGKILL"
    log = tmp_path / "x.log"
    log.write_text("".join(f"{i}\n" for i in range(100)))
    assert log_tail(log, 3) == ["97", "98", "99"]
    assert log_tail(tmp_path / "missing.log") == []
