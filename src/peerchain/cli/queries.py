"""Where a node process runs its heavy queries: worker processes reading its LMDB store
(or, with no workers, its own event loop), and the command-line options that set them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from peerchain.core.genesis import Genesis
from peerchain.drivers.storage import LmdbStore
from peerchain.execution.engine import ExecutionEngine
from peerchain.node.ledger import Ledger
from peerchain.node.queries import InlineQueries, QueryLimits, QueryPool, QueryRunner

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_WORKERS = 2


@dataclass(frozen=True, slots=True)
class QuerySettings:
    """How many query workers (0: run queries on the event loop) and their limits."""

    workers: int = DEFAULT_WORKERS
    limits: QueryLimits = field(default_factory=QueryLimits)


def open_query_engine(path: Path, genesis: Genesis, dev: bool) -> ExecutionEngine:
    """An engine over a read-only view of the store at `path` (run in each worker)."""
    store = LmdbStore(path, readonly=True)
    return ExecutionEngine(store, genesis, store.faults, dev=dev)


async def start_queries(
    ledger: Ledger, path: Path, settings: QuerySettings, *, dev: bool = False
) -> QueryRunner:
    """The node's query runner, started: a pool of workers reading the store at `path`
    (a dev chain's with `dev`), or the ledger's own engine when `settings.workers` is 0."""
    if settings.workers == 0:
        return InlineQueries(ledger.engine, settings.limits)
    pool = QueryPool(
        functools.partial(open_query_engine, path, ledger.genesis, dev),
        workers=settings.workers,
        limits=settings.limits,
    )
    await pool.start()
    return pool


def query_options(command: F) -> F:
    """Add the --rpc-* query options; the command receives them as `query_settings`."""
    defaults = QueryLimits()
    options = [
        click.option(name, type=kind, default=default, show_default=True, help=text)
        for name, kind, default, text in (
            (
                "--rpc-workers",
                click.IntRange(min=0),
                DEFAULT_WORKERS,
                "Processes running eth_call, eth_estimateGas, eth_getLogs, eth_getProof "
                "and debug_trace* (0: run them in the node's event loop).",
            ),
            (
                "--rpc-gas-cap",
                click.IntRange(min=21_000),
                defaults.gas_cap,
                "Most gas one eth_call or eth_estimateGas may use.",
            ),
            (
                "--rpc-evm-timeout",
                click.FloatRange(min=0.1),
                defaults.timeout,
                "Seconds one call of those --rpc-workers run may take.",
            ),
            (
                "--rpc-max-calls",
                click.IntRange(min=1),
                defaults.max_calls,
                "How many of those calls may run or wait at once; more are refused.",
            ),
        )
    ]

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        rpc_workers: int,
        rpc_gas_cap: int,
        rpc_evm_timeout: float,
        rpc_max_calls: int,
        **kwargs: Any,
    ) -> Any:
        limits = QueryLimits(gas_cap=rpc_gas_cap, timeout=rpc_evm_timeout, max_calls=rpc_max_calls)
        return command(*args, query_settings=QuerySettings(rpc_workers, limits), **kwargs)

    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
