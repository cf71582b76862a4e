"""The system clock, the real implementation of the `Clock` port."""

from __future__ import annotations

import time


class SystemClock:
    """Wall-clock time in seconds (float), as the node runtime sees it."""

    def now(self) -> float:
        return time.time()
