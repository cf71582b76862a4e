"""The block executor: one thread that runs block execution (py-evm) and owns the store's
write path, so that the event loop carrying consensus never waits for either.

Jobs run one at a time in the order they were submitted: a block built or checked after
the commit of its parent was submitted sees the parent persisted. `run(function, *args)`
calls `function(engine, *args)` there (`ExecutionEngine.build_block`, `.execute_block`,
...); `write` applies a change set to the store. The engine is the ledger's, shared with
the event loop's reads: its caches are safe across threads (the decoded state is found
by root hash, so the head state a block leaves is hot for the reads that follow), and
LMDB gives each read the last committed write.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from peerchain.execution.engine import ExecutionEngine
from peerchain.node.ports import ChainStore, Changes

T = TypeVar("T")


class BlockExecutor:
    """Runs execution and store writes for one node, off its event loop."""

    def __init__(self, engine: ExecutionEngine, store: ChainStore) -> None:
        self.engine = engine
        self._store = store
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="peerchain-executor")

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`function(engine, *args, **kwargs)` on the executor thread, after every job
        submitted before it. Raises what the function raises."""
        job = functools.partial(function, self.engine, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, job)

    async def write(self, state: Changes, meta: Changes | None = None) -> None:
        """Persist both batches in one store write (see `ChainStore.write`), after every
        job submitted before it. Raises StorageError."""
        job = functools.partial(self._store.write, state, meta)
        await asyncio.get_running_loop().run_in_executor(self._thread, job)

    def close(self) -> None:
        """Drop the jobs not started yet and wait for the one running (a store write is
        never cut short)."""
        self._thread.shutdown(wait=True, cancel_futures=True)
