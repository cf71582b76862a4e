"""Queries and init code for testing query workers (`peerchain.node.queries`).

Worker processes import a query function by its module, so the ones tests send live
here rather than in test files.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

# Init code that jumps to itself forever (a call without `to` runs it).
ENDLESS_LOOP = bytes.fromhex("5b600056")


def loop_code(iterations: int) -> bytes:
    """Init code that counts `iterations` (below 2**32) down to zero at 40 gas a turn; a
    call without `to` runs it (65,000 turns burn about 2.6M gas)."""
    start = bytes.fromhex("63") + iterations.to_bytes(4, "big")  # PUSH4 n
    loop = len(start)
    # JUMPDEST DUP1 ISZERO PUSH1 end JUMPI PUSH1 1 SWAP1 SUB PUSH1 loop JUMP JUMPDEST STOP
    body = bytes.fromhex("5b801560") + bytes([loop + 13]) + bytes.fromhex("5760019003")
    return start + body + bytes.fromhex("60") + bytes([loop]) + bytes.fromhex("565b00")


def worker_pid(engine: Any) -> int:
    """The process id of the worker that runs the query."""
    return os.getpid()


def ignore_deadline(engine: Any, seconds: float) -> None:
    """Spin for `seconds` with the deadline signal blocked, as a long computation inside
    a C extension would: only the parent can stop it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def slow_engine(seconds: float) -> object:
    """An engine opener (for `QueryPool`, through functools.partial) that takes `seconds`
    to open, as a worker starting on a busy machine does; its engine answers no query
    but those that ignore it (`worker_pid`)."""
    time.sleep(seconds)
    return object()
