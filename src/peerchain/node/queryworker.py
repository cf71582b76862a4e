"""The body of one query worker process: answer read-only queries on the committed chain.

A worker is `python -m peerchain.node.queryworker FD`, FD its end of a socket pair with
the node. It opens its own execution engine over a read-only view of the store (LMDB serves
readers in other processes without locks), tells its parent it is ready, then answers
one job at a time: a job is a module-level function, its arguments and a deadline; the
function is called with the engine first. Each answer is `("ok", value)` or
`("error", exc)` with a `PeerChainError`; a bug in the function answers
`("error", PeerChainError("internal error ..."))` after printing its traceback.

A job still running at its deadline is interrupted by SIGALRM (`QueryTimeout`); one that
does not return to Python code (a long computation in a C extension) is killed by the
parent. The worker runs at a lower CPU priority than the node, ignores Ctrl-C (the
parent stops it), and dies with its parent (Linux) or when the parent's end of the pipe
closes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any

from peerchain.core.errors import PeerChainError
from peerchain.core.queries import QueryTimeout

READY = "ready"
# How much less CPU priority a worker has than the node (nice(2) increment).
WORKER_NICENESS = 10
_PR_SET_PDEATHSIG = 1

Job = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], float]


class _Deadline(BaseException):
    """Raised by the alarm inside a job; a BaseException so that no `except Exception`
    in the libraries the job runs can swallow it."""


class _Alarm:
    """A one-shot SIGALRM deadline that interrupts only the job it was armed for."""

    def __init__(self) -> None:
        self.armed = False
        signal.signal(signal.SIGALRM, self._fire)

    def arm(self, seconds: float) -> None:
        self.armed = True
        signal.setitimer(signal.ITIMER_REAL, seconds)

    def disarm(self) -> None:
        self.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        if self.armed:
            self.armed = False
            raise _Deadline


def serve(conn: Connection) -> None:
    """Answer jobs on `conn` (see the module docstring). The first message is the pickled
    engine opener, unpickled once the worker runs at its lower priority (it imports
    py-evm)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    try:
        engine = pickle.loads(conn.recv_bytes())()
    except (EOFError, OSError):
        return  # the parent is gone
    alarm = _Alarm()
    try:
        conn.send(READY)
        while (job := conn.recv()) is not None:
            conn.send_bytes(_encode(_answer(engine, job, alarm)))
    except (EOFError, OSError):
        return  # the parent is gone


def _answer(engine: Any, job: Job, alarm: _Alarm) -> tuple[str, Any]:
    function, args, kwargs, timeout = job
    try:
        try:
            alarm.arm(timeout)
            return "ok", function(engine, *args, **kwargs)
        finally:
            alarm.disarm()
    except _Deadline:
        return "error", QueryTimeout(f"execution aborted (timeout = {timeout:g}s)")
    except PeerChainError as exc:
        return "error", exc
    except Exception as exc:
        traceback.print_exc()
        return "error", PeerChainError(f"internal error in a query worker: {type(exc).__name__}")


def _encode(answer: tuple[str, Any]) -> bytes:
    """The pickled answer; an error that does not pickle goes as its message."""
    try:
        return pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        kind, value = answer
        message = str(value) if kind == "error" else f"unpicklable answer: {exc}"
        return pickle.dumps(("error", PeerChainError(message)))


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
