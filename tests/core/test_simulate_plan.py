"""eth_simulateV1's plan of blocks: numbers and timestamps filled in and checked as geth
does, gaps become empty blocks, and a request is bounded in blocks and calls."""

from __future__ import annotations

import pickle

import pytest

from peerchain.core.queries import BlockOverrides, CallRequest
from peerchain.core.simulate import (
    BLOCK_NUMBER_ORDER,
    BLOCK_TIMESTAMP_ORDER,
    CLIENT_LIMIT_EXCEEDED,
    MAX_BLOCKS,
    MAX_CALLS,
    BlockStateCalls,
    SimulateError,
    plan_blocks,
    validate_request_size,
)

CALL = CallRequest(to=b"\x01" * 20)


def test_defaults_follow_the_base_block() -> None:
    plan = plan_blocks(10, 1000, (BlockStateCalls(calls=(CALL,)), BlockStateCalls()))
    assert [(b.number, b.timestamp, len(b.calls)) for b in plan] == [(11, 1012, 1), (12, 1024, 0)]
    assert plan[0].overrides == BlockOverrides(number=11, time=1012)


def test_skipped_numbers_become_empty_blocks() -> None:
    wanted = BlockStateCalls(block_overrides=BlockOverrides(number=14, time=2000), calls=(CALL,))
    plan = plan_blocks(10, 1000, (wanted, BlockStateCalls()))
    assert [(b.number, b.timestamp, b.calls) for b in plan] == [
        (11, 1012, ()),
        (12, 1024, ()),
        (13, 1036, ()),
        (14, 2000, (CALL,)),
        (15, 2012, ()),
    ]


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ([BlockOverrides(number=15), BlockOverrides(number=15)], BLOCK_NUMBER_ORDER,
         "block numbers must be in order: 15 <= 15"),
        ([BlockOverrides(number=10)], BLOCK_NUMBER_ORDER,
         "block numbers must be in order: 10 <= 10"),
        ([BlockOverrides(time=1000)], BLOCK_TIMESTAMP_ORDER,
         "block timestamps must be in order: 1000 <= 1000"),
        ([BlockOverrides(number=13), BlockOverrides(time=1030)], BLOCK_TIMESTAMP_ORDER,
         "block timestamps must be in order: 1030 <= 1036"),
        ([BlockOverrides(number=10 + MAX_BLOCKS + 1)], CLIENT_LIMIT_EXCEEDED, "too many blocks"),
    ],
)  # fmt: skip
def test_out_of_order_and_too_far(overrides: list[BlockOverrides], code: int, message: str) -> None:
    blocks = tuple(BlockStateCalls(block_overrides=o) for o in overrides)
    with pytest.raises(SimulateError, match="^" + message + "$") as raised:
        plan_blocks(10, 1000, blocks)
    assert raised.value.code == code


def test_bounds_of_one_request() -> None:
    assert len(plan_blocks(0, 0, (BlockStateCalls(),) * MAX_BLOCKS)) == MAX_BLOCKS
    with pytest.raises(SimulateError, match="too many blocks") as raised:
        plan_blocks(0, 0, (BlockStateCalls(),) * (MAX_BLOCKS + 1))
    assert raised.value.code == CLIENT_LIMIT_EXCEEDED
    calls = (BlockStateCalls(calls=(CALL,) * MAX_CALLS),)
    assert len(plan_blocks(0, 0, calls)[0].calls) == MAX_CALLS
    with pytest.raises(SimulateError, match=f"too many calls: at most {MAX_CALLS}") as raised:
        plan_blocks(0, 0, (*calls, BlockStateCalls(calls=(CALL,))))
    assert raised.value.code == CLIENT_LIMIT_EXCEEDED
    with pytest.raises(SimulateError, match="too many blocks"):
        validate_request_size(MAX_BLOCKS + 1, 0)
    validate_request_size(MAX_BLOCKS, MAX_CALLS)


def test_errors_keep_their_code_across_processes() -> None:
    error = pickle.loads(pickle.dumps(SimulateError(-38014, "err: insufficient funds")))
    assert (error.code, str(error)) == (-38014, "err: insufficient funds")
