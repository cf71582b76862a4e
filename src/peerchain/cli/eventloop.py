"""The event loop the node commands run on (uvloop where it is installed, else asyncio's),
and the garbage collector's settings for them."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# Executing a block allocates many short-lived containers: with CPython's default
# (a young collection every 700 allocations) collections took about 3.5% of the CPU of
# importing 1,000-transfer blocks, with these thresholds about 1.3%.
GC_THRESHOLDS = (10_000, 20, 10)


def tune_gc() -> None:
    """Collect less often, and leave out of every later collection what start-up made
    (modules, classes, configuration): it lives as long as the process. For a node
    process, once, before its event loop starts."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on a new event loop (uvloop's when available)."""
    try:
        import uvloop
    except ImportError:  # not built for this platform: asyncio's own loop
        return asyncio.run(main)
    return uvloop.run(main)
