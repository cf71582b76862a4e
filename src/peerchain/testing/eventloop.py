"""An asyncio event loop on virtual time, for tests of code that waits on timers.

When no callback is ready and no I/O is waiting, time jumps to the next timer instead
of sleeping, as trio's autojump clock does: "nothing happens for a minute" costs
milliseconds and cannot flake under load. Sockets and pipes still work for real: they
are polled while timers are pending, and waited on when none is.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):
    """Polls instead of sleeping until a timer, and moves the loop's time to it."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        if timeout is None:  # no timer at all: only I/O can wake the loop
            return list(super().select(None))
        events = list(super().select(0))
        if not events and timeout > 0:
            self._loop.advance(timeout)
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose `time()` only moves when the loop would wait."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (the selector does this instead of waiting)."""
        self._virtual_now += seconds


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on a `VirtualTimeLoop`."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)
