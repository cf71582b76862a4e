"""The event loop the node commands run on: uvloop where it is installed, else asyncio's."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on a new event loop (uvloop's when available)."""
    try:
        import uvloop
    except ImportError:  # not built for this platform: asyncio's own loop
        return asyncio.run(main)
    return uvloop.run(main)
