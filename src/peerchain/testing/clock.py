"""SimClock: virtual time for deterministic simulations.

Callbacks run in deadline order, ties in the order they were scheduled; time jumps from
one deadline to the next, so a simulated minute costs only the work done in it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any


class SimClock:
    """A virtual clock with a queue of timed callbacks."""

    __slots__ = ("_queue", "_seq", "now")

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self._queue: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback(*args)` at virtual time `when` (now, if it is in the past)."""
        self._seq += 1
        heapq.heappush(self._queue, (max(when, self.now), self._seq, callback, args))

    def call_later(self, delay: float, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback(*args)` `delay` seconds from now."""
        self.call_at(self.now + delay, callback, *args)

    def run(self, until: float, stop: Callable[[], bool] = lambda: False) -> None:
        """Run callbacks due up to `until`, checking `stop()` after each; time then
        stands at the last callback run, or at `until` if the queue ran dry before it."""
        queue = self._queue
        while queue and queue[0][0] <= until:
            when, _, callback, args = heapq.heappop(queue)
            self.now = when
            callback(*args)
            if stop():
                return
        self.now = max(self.now, until)

    def pending(self) -> int:
        """How many callbacks are queued."""
        return len(self._queue)
