"""Heavy read-only queries (eth_call, eth_estimateGas, eth_getLogs, eth_getProof, traces)
away from the event loop, with geth's per-call limits.

A query is a module-level function whose first argument is an execution engine
(`ExecutionEngine.call`, `find_logs`, ...), its other arguments, and an answer; both
must pickle. `QueryPool` runs queries in worker processes (`queryworker`) that read the
committed chain from the store on their own, so a query that burns CPU for seconds takes
none from the consensus loop, block execution or the cheap calls, and runs at a lower
CPU priority than they do. `InlineQueries` is its in-process twin for tests and tools: it
runs each query at once on the caller's thread, with no timeout.

Limits (`QueryLimits`): the gas cap is applied by the caller (it is an argument of the
engine's calls); the timeout, the number of calls at once and the worker recycling are
the pool's. Errors: `QueryTimeout` ("execution aborted (timeout = 5s)") when a query runs
too long, `QueryLimitExceeded` when too many are running or waiting, `PeerChainError`
when a worker died under a query (it is replaced).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import pickle
import socket
import subprocess
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol, TypeVar

from peerchain.core.errors import PeerChainError
from peerchain.core.queries import QueryLimitExceeded, QueryTimeout
from peerchain.node import queryworker

log = logging.getLogger(__name__)

T = TypeVar("T")
# How long after its deadline a worker that has not answered is killed (seconds).
KILL_GRACE = 2.0
# How long a new worker may take to open the chain before the log says it is slow
# (seconds); a worker still alive is waited for, not restarted (see `QueryPool`).
START_TIMEOUT = 120.0
# How long to wait before starting a worker again after one failed to start (seconds).
RESTART_DELAY = 5.0


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Per-call limits of heavy queries (geth's defaults where geth has the limit).

    `gas_cap`: the most gas an eth_call or eth_estimateGas runs with, whatever gas it
    names (geth's --rpc.gascap). `timeout`: seconds one query may run (--rpc.evmtimeout).
    `max_calls`: queries running or waiting for a worker at once; more are refused.
    `max_logs`: the most logs one eth_getLogs answers.
    """

    gas_cap: int = 50_000_000
    timeout: float = 5.0
    max_calls: int = 16
    max_logs: int = 10_000


class QueryRunner(Protocol):
    """Where a node runs its heavy queries."""

    limits: QueryLimits

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`function(engine, *args, **kwargs)`. Raises what the function raises (PeerChainError),
        QueryTimeout or QueryLimitExceeded."""
        ...

    async def close(self) -> None: ...


class InlineQueries:
    """Runs each query at once on the caller's thread over `engine` (tests, tools)."""

    def __init__(self, engine: Any, limits: QueryLimits | None = None) -> None:
        self.engine = engine
        self.limits = limits or QueryLimits()

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return function(self.engine, *args, **kwargs)

    async def close(self) -> None:
        pass


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection

    async def receive(self, timeout: float) -> Any:
        """The next message, or TimeoutError. Raises EOFError/OSError if the worker died."""
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        fd = self.conn.fileno()
        loop.add_reader(fd, wake)
        try:
            await asyncio.wait_for(readable, timeout)
        finally:
            loop.remove_reader(fd)
        return pickle.loads(self.conn.recv_bytes())

    def kill(self) -> None:
        """End the process; a `receive` in progress then sees EOFError."""
        if self.process.poll() is None:
            self.process.kill()

    def discard(self) -> None:
        """Kill the process and close the pipe (nobody may be receiving)."""
        self.kill()
        with contextlib.suppress(OSError):
            self.conn.close()


class QueryPool:
    """`workers` processes answering queries; `open_engine()` (it must pickle) opens the
    engine each worker reads the chain with. Start it with `start`, end it with `close`.

    A new worker imports py-evm and opens the chain at its lower priority, which on a
    busy machine takes minutes. One that is still alive after `start_timeout` seconds is
    waited for (a warning is logged each time it passes): killing it and starting
    another from scratch could only take longer, and under enough load no worker would
    ever be ready. A worker that exits or fails while starting is replaced after
    RESTART_DELAY."""

    def __init__(
        self,
        open_engine: Callable[[], Any],
        *,
        workers: int = 2,
        limits: QueryLimits | None = None,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        if workers < 1:
            raise ValueError("a query pool needs at least one worker")
        self.limits = limits or QueryLimits()
        self.start_timeout = start_timeout
        self._open_engine = open_engine
        self._size = workers
        self._idle: asyncio.Queue[_Worker | None] | None = None
        self._workers: set[_Worker] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._calls = 0
        self._closed = False

    async def start(self) -> None:
        """Start the workers; queries wait until the first is ready."""
        self._idle = asyncio.Queue()
        for _ in range(self._size):
            self._start_worker()

    @property
    def idle_workers(self) -> int:
        """Workers started and waiting for a query."""
        return 0 if self._idle is None else self._idle.qsize()

    @property
    def max_wait(self) -> float:
        """The longest a query may wait for a free worker: every call ahead of it ran
        to its deadline."""
        rounds = math.ceil(self.limits.max_calls / self._size)
        return rounds * (self.limits.timeout + KILL_GRACE) + self.start_timeout

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._idle is None or self._closed:
            raise PeerChainError("the node's query workers are not running")
        if self._calls >= self.limits.max_calls:
            raise QueryLimitExceeded(
                f"too many heavy calls in progress: at most {self.limits.max_calls} "
                "(eth_call, eth_estimateGas, eth_getLogs, eth_getProof) at once; retry later"
            )
        self._calls += 1
        try:
            try:
                worker = await asyncio.wait_for(self._idle.get(), self.max_wait)
            except TimeoutError:
                raise PeerChainError("no query worker became free in time; retry later") from None
            if worker is None:  # closed while waiting; pass the word to the next waiter
                self._idle.put_nowait(None)
                raise PeerChainError("the node's query workers are not running")
            return await self._ask(worker, (function, args, kwargs))  # type: ignore[no-any-return]
        finally:
            self._calls -= 1

    async def _ask(
        self,
        worker: _Worker,
        call: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]],
    ) -> Any:
        timeout = self.limits.timeout
        job = pickle.dumps((*call, timeout), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            worker.conn.send_bytes(job)
            kind, value = await worker.receive(timeout + KILL_GRACE)
        except TimeoutError:
            log.warning("a query worker ignored its %gs deadline; replacing it", timeout)
            self._replace(worker)
            raise QueryTimeout(f"execution aborted (timeout = {timeout:g}s)") from None
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            log.error("a query worker died under a query (%s); replacing it", exc)
            self._replace(worker)
            raise PeerChainError("the query worker died; retry later") from None
        except BaseException:
            self._replace(worker)  # cancelled: the worker still works on the answer
            raise
        self._release(worker)
        if kind == "error":
            raise value
        return value

    def _release(self, worker: _Worker) -> None:
        if self._closed or self._idle is None:
            worker.discard()
        else:
            self._idle.put_nowait(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.discard()
        self._workers.discard(worker)
        self._spawn(asyncio.to_thread(_reap, worker.process))
        if not self._closed:
            self._start_worker()

    def _start_worker(self, delay: float = 0.0) -> None:
        self._spawn(self._launch(delay))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _launch(self, delay: float) -> None:
        await asyncio.sleep(delay)
        ours, theirs = socket.socketpair()
        with ours, theirs:
            process = subprocess.Popen(
                [sys.executable, "-m", queryworker.__name__, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
            )
            worker = _Worker(process, Connection(ours.detach()))
        self._workers.add(worker)
        try:
            worker.conn.send_bytes(pickle.dumps(self._open_engine))
            ready = await self._started(worker)
            if ready != queryworker.READY:
                raise OSError(f"unexpected first message {ready!r}")
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            log.error("a query worker failed to start (%s); trying again", exc or type(exc))
            worker.discard()
            self._workers.discard(worker)
            if not self._closed:
                self._start_worker(RESTART_DELAY)
            return
        self._release(worker)

    async def _started(self, worker: _Worker) -> Any:
        """The first message of a starting worker, waited for as long as it is alive.
        Raises EOFError/OSError if it exits first."""
        waited = 0.0
        while True:
            try:
                return await worker.receive(self.start_timeout)
            except TimeoutError:
                if worker.process.poll() is not None:
                    raise EOFError("the worker exited while starting") from None
                waited += self.start_timeout
                log.warning(
                    "a query worker is still starting after %gs (the machine is busy: it "
                    "runs at a lower CPU priority); heavy queries wait for it",
                    waited,
                )

    async def close(self) -> None:
        """Stop every worker (a query still running is cut off) and wait for them."""
        self._closed = True
        if self._idle is not None:
            while not self._idle.empty():
                idle = self._idle.get_nowait()
                if idle is not None:
                    idle.discard()
            self._idle.put_nowait(None)
        for task in list(self._tasks):
            task.cancel()
        workers = list(self._workers)
        self._workers.clear()
        for worker in workers:
            worker.kill()  # a query still waiting for its answer sees the worker die
        for worker in workers:
            await asyncio.to_thread(_reap, worker.process)


def _reap(process: subprocess.Popen[bytes]) -> None:
    """Wait for a killed worker to end, so that it leaves no zombie."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5.0)
