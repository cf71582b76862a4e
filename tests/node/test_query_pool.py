"""Heavy queries in worker processes over a real LMDB store: answers, the EVM timeout,
the gas cap, the limit on calls at once, recycling a stuck worker, a worker slow to
start, and shutdown."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import pickle
from pathlib import Path

import pytest

from peerchain.cli.queries import open_query_engine
from peerchain.core.crypto import private_key_to_address
from peerchain.core.errors import PeerChainError
from peerchain.core.faults import LocalFaultError, corrupted
from peerchain.core.genesis import dev_genesis
from peerchain.core.queries import (
    CallRequest,
    ExecutionReverted,
    QueryLimitExceeded,
    QueryTimeout,
)
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.storage import LmdbStore
from peerchain.execution.calls import GasEstimate
from peerchain.execution.engine import ExecutionEngine
from peerchain.node.ledger import Ledger
from peerchain.node.queries import QueryLimits, QueryPool
from peerchain.testing.queries import (
    ENDLESS_LOOP,
    ignore_deadline,
    loop_code,
    slow_engine,
    worker_pid,
)

MAX_GAS = 2**64 - 1


def make_pool(tmp_path: Path, limits: QueryLimits) -> tuple[Ledger, QueryPool]:
    keys = dev_private_keys(2)
    genesis = dev_genesis(1337, [private_key_to_address(k) for k in keys], 10**21)
    ledger = Ledger(LmdbStore(tmp_path / "chain"), genesis)
    engine = functools.partial(open_query_engine, tmp_path / "chain", genesis, False)
    return ledger, QueryPool(engine, workers=1, limits=limits)


def test_worker_answers_times_out_endless_calls_and_refuses_too_many(tmp_path: Path) -> None:
    ledger, pool = make_pool(tmp_path, QueryLimits(timeout=1.0, max_calls=2))
    head = ledger.head
    loop_call = CallRequest(data=loop_code(100))

    async def scenario() -> None:
        await pool.start()
        try:
            answer = await pool.run(ExecutionEngine.estimate_gas, loop_call, head, gas_cap=MAX_GAS)
            assert answer == ledger.engine.estimate_gas(loop_call, head)
            assert isinstance(answer, GasEstimate)
            pid = await pool.run(worker_pid)
            assert pid != os.getpid()

            # An explicit gas of 2**64-1 is capped, and the timeout stops the loop anyway.
            endless = CallRequest(data=ENDLESS_LOOP, gas=MAX_GAS)
            with pytest.raises(QueryTimeout, match=r"execution aborted \(timeout = 1s\)"):
                await pool.run(ExecutionEngine.call, endless, head, gas_cap=50_000_000)
            assert await pool.run(worker_pid) == pid  # the same worker, interrupted

            # Two calls run or wait; a third is refused at once.
            running = [
                asyncio.ensure_future(
                    pool.run(ExecutionEngine.call, endless, head, gas_cap=MAX_GAS)
                )
                for _ in range(2)
            ]
            await asyncio.sleep(0)
            with pytest.raises(QueryLimitExceeded, match="too many heavy calls"):
                await pool.run(worker_pid)
            for outcome in await asyncio.gather(*running, return_exceptions=True):
                assert isinstance(outcome, QueryTimeout)
            assert await pool.run(worker_pid) == pid
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_stuck_worker_is_replaced_and_close_cuts_off_a_running_call(tmp_path: Path) -> None:
    ledger, pool = make_pool(tmp_path, QueryLimits(timeout=0.5))

    async def scenario() -> None:
        await pool.start()
        first = await pool.run(worker_pid)
        with pytest.raises(QueryTimeout):
            await pool.run(ignore_deadline, 30.0)
        second = await pool.run(worker_pid)
        assert second != first
        # Shutting down while a call runs: the call ends with an error, the worker exits.
        pool.limits = QueryLimits(timeout=60.0)
        endless = CallRequest(data=ENDLESS_LOOP)
        running = asyncio.ensure_future(
            pool.run(ExecutionEngine.call, endless, ledger.head, gas_cap=MAX_GAS)
        )
        for _ in range(1000):
            if not pool.idle_workers:
                break  # the call went to the worker
            await asyncio.sleep(0.01)
        await pool.close()
        with pytest.raises(PeerChainError, match="worker died"):
            await asyncio.wait_for(running, 10)
        with pytest.raises(PeerChainError, match="not running"):
            await pool.run(worker_pid)

    asyncio.run(scenario())
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if f"PPid:\t{os.getpid()}\n" in status and b"queryworker" in cmdline:
            assert "State:\tZ" in status, f"query worker {pid} still running"


def test_a_worker_slower_to_start_than_its_timeout_is_waited_for_not_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On a busy machine a worker (at its lower priority) may take minutes to open the
    chain: one restarted from scratch each time it passed the start timeout would never
    be ready."""
    pool = QueryPool(functools.partial(slow_engine, 2.0), workers=1, start_timeout=0.2)

    async def scenario() -> tuple[int, int]:
        await pool.start()
        try:
            first = await asyncio.wait_for(pool.run(worker_pid), 60)
            return first, await pool.run(worker_pid)
        finally:
            await pool.close()

    with caplog.at_level(logging.WARNING, logger="peerchain.node.queries"):
        first, again = asyncio.run(scenario())
    assert first == again != os.getpid()
    messages = [r.getMessage() for r in caplog.records]
    assert any("still starting after" in m for m in messages), messages
    assert not any("failed to start" in m for m in messages), messages


def test_errors_cross_from_a_worker_whole() -> None:
    reverted = pickle.loads(pickle.dumps(ExecutionReverted("execution reverted: no", b"\x08")))
    assert (str(reverted), reverted.data) == ("execution reverted: no", b"\x08")
    fault = corrupted("state record 0x01 fails its checksum", "/data/chain/data.mdb")
    crossed = pickle.loads(pickle.dumps(LocalFaultError(fault)))
    assert isinstance(crossed, LocalFaultError) and crossed.fault == fault
