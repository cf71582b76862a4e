"""A `peerchain.tools.p2p_probe` process driven from asyncio, for tests and benchmarks of the
peer-to-peer network across real processes (and network namespaces)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

DEFAULT_TIMEOUT = 20.0


class Signal:
    """Wait, with a bound, until a condition over collected state holds."""

    def __init__(self) -> None:
        self._changed = asyncio.Condition()

    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def poke(self) -> None:
        """`notify` from a plain callback running on the loop."""
        asyncio.get_running_loop().create_task(self.notify())

    async def wait(self, predicate: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT) -> None:
        """Return once `predicate()` holds; raises TimeoutError after `timeout` seconds."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)


class Probe:
    """A probe process and the events it printed: `events` (all, in order), `messages`
    (the "message" events), `up` (ids of the peers connected now)."""

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self.process = process
        self.name = name
        self.events: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.up: set[str] = set()
        self.signal = Signal()
        self.address = ""
        self.node_id = ""
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(
        cls, name: str, *args: str, chain_id: int = 1337, prefix: Sequence[str] = ()
    ) -> Probe:
        """Start a probe whose key derives from `name` (inside `prefix`, e.g. `ip netns
        exec NAME`), with the probe's further `args`; wait until it listens."""
        process = await asyncio.create_subprocess_exec(
            *prefix,
            sys.executable,
            "-m",
            "peerchain.tools.p2p_probe",
            "--seed",
            name,
            "--chain-id",
            str(chain_id),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 24,
        )
        probe = cls(process, name)
        await probe.signal.wait(lambda: bool(probe.address))
        return probe

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            event = json.loads(line)
            kind = event["event"]
            if kind == "ready":
                self.address, self.node_id = event["address"], event["id"]
            elif kind == "message":
                self.messages.append(event)
            elif kind == "peer" and event["state"] == "connected":
                self.up.add(event["id"])
            elif kind == "peer" and event["state"] == "disconnected":
                self.up.discard(event["id"])
            self.events.append(event)
            await self.signal.notify()

    def payloads(self) -> list[str]:
        """The hex payloads of the messages received so far."""
        return [e["payload"] for e in self.messages]

    def command(self, **command: Any) -> None:
        """Send one command (see `peerchain.tools.p2p_probe`)."""
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())

    async def ask(self, kind: str, **command: Any) -> dict[str, Any]:
        """Send a command and wait for the next event of `kind` it causes."""
        seen = len(self.events)
        self.command(**command)
        await self.signal.wait(lambda: any(e["event"] == kind for e in self.events[seen:]))
        return next(e for e in self.events[seen:] if e["event"] == kind)

    async def peers(self) -> list[dict[str, Any]]:
        return list((await self.ask("peers", cmd="peers"))["peers"])

    async def stop(self) -> None:
        """Ask the probe to stop; kill it if it has not within 10 s."""
        with contextlib.suppress(ConnectionError):
            self.command(cmd="stop")
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()
