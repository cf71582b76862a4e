"""eth_simulateV1: blocks of calls run on a block's state and thrown away (values).

A request names a base block and a list of block state calls: each a block to simulate
with its own block overrides (number, time, gas limit, fee recipient, prevRandao, base
fee), state overrides applied before its calls, and calls run in order, each on the
state the previous one left. `plan_blocks` checks the list and fills it in as geth
does: numbers and timestamps must increase (a missing number is the previous + 1, a
missing timestamp the previous + 12), and numbers skipped become empty blocks. The
execution layer runs a plan; the results are `SimulatedBlock`s.

Errors: `SimulateError` with the execution-apis code of geth's answer (-38020 block
numbers out of order, -38021 timestamps out of order, -38026 too many blocks or calls,
-380xx for a call the chain would refuse, see `TxRefusal`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from peerchain.core.blocks import Block, Log
from peerchain.core.errors import PeerChainError
from peerchain.core.queries import BlockOverrides, CallRequest, StateOverrides

# geth's bound on the blocks of one request (counted from the base block, gaps included).
MAX_BLOCKS = 256
# Our bound on the calls of one request, in all its blocks (each costs a transaction).
MAX_CALLS = 1000
# Seconds between simulated blocks whose timestamp is not given (geth's).
TIMESTAMP_INCREMENT = 12

BLOCK_NUMBER_ORDER = -38020
BLOCK_TIMESTAMP_ORDER = -38021
CLIENT_LIMIT_EXCEEDED = -38026
NONCE_TOO_LOW = -38010
NONCE_TOO_HIGH = -38011
FEE_CAP_TOO_LOW = -38012
INTRINSIC_GAS = -38013
INSUFFICIENT_FUNDS = -38014
BLOCK_GAS_LIMIT_REACHED = -38015
INVALID_TRANSACTION = -32603  # what geth answers for other refusals (nonce overflow...)
VM_ERROR = -32015  # a call's failure other than a revert (code 3)


class SimulateError(PeerChainError):
    """The whole simulation is refused; `code` is geth's JSON-RPC error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> tuple[type[SimulateError], tuple[int, str]]:
        return type(self), (self.code, str(self))


@dataclass(frozen=True, slots=True)
class BlockStateCalls:
    """One block of a simulation as the request gives it."""

    block_overrides: BlockOverrides | None = None
    state_overrides: StateOverrides = ()
    calls: tuple[CallRequest, ...] = ()


@dataclass(frozen=True, slots=True)
class PlannedBlock:
    """A block to simulate: its number and timestamp settled, the rest as requested."""

    number: int
    timestamp: int
    overrides: BlockOverrides
    state_overrides: StateOverrides = ()
    calls: tuple[CallRequest, ...] = ()


@dataclass(frozen=True, slots=True)
class SimulateOptions:
    """How to simulate: `validation` runs the chain's checks (nonces, fees against the
    base fee, which is then the parent's rule); `trace_transfers` adds a log for every
    ether transfer (from 0xeeee...eeee, as an ERC-20 Transfer)."""

    validation: bool = False
    trace_transfers: bool = False


@dataclass(frozen=True, slots=True)
class SimulatedCall:
    """The outcome of one simulated call: `revert` holds the revert data of a call that
    reverted, `failure` geth's words for another failure ("out of gas"...).
    `max_used_gas` is the gas it used before refunds."""

    status: int
    return_data: bytes
    gas_used: int
    max_used_gas: int
    logs: tuple[Log, ...]
    revert: bytes | None = None
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class SimulatedBlock:
    """A simulated block (its transactions are the calls, unsigned) and its calls'
    outcomes."""

    block: Block
    calls: tuple[SimulatedCall, ...]


def validate_request_size(blocks: int, calls: int) -> None:
    """Refuse a request of more blocks or calls than one may hold (SimulateError -38026),
    before anything else is made of it."""
    if blocks > MAX_BLOCKS:
        raise SimulateError(CLIENT_LIMIT_EXCEEDED, "too many blocks")
    if calls > MAX_CALLS:
        raise SimulateError(
            CLIENT_LIMIT_EXCEEDED, f"too many calls: at most {MAX_CALLS} in one request"
        )


def plan_blocks(
    base_number: int, base_timestamp: int, blocks: tuple[BlockStateCalls, ...]
) -> tuple[PlannedBlock, ...]:
    """The blocks to simulate on a base block, gaps filled with empty blocks. Raises
    SimulateError (-38020, -38021, -38026) as geth does."""
    validate_request_size(len(blocks), sum(len(b.calls) for b in blocks))
    planned: list[PlannedBlock] = []
    number, timestamp = base_number, base_timestamp
    for block in blocks:
        overrides = block.block_overrides or BlockOverrides()
        wanted = overrides.number if overrides.number is not None else number + 1
        if wanted <= number:
            raise SimulateError(
                BLOCK_NUMBER_ORDER, f"block numbers must be in order: {wanted} <= {number}"
            )
        if wanted - base_number > MAX_BLOCKS:
            raise SimulateError(CLIENT_LIMIT_EXCEEDED, "too many blocks")
        for gap in range(number + 1, wanted):
            timestamp += TIMESTAMP_INCREMENT
            planned.append(PlannedBlock(gap, timestamp, BlockOverrides()))
        if overrides.time is None:
            when = timestamp + TIMESTAMP_INCREMENT
        elif overrides.time <= timestamp:
            raise SimulateError(
                BLOCK_TIMESTAMP_ORDER,
                f"block timestamps must be in order: {overrides.time} <= {timestamp}",
            )
        else:
            when = overrides.time
        number, timestamp = wanted, when
        settled = replace(overrides, number=wanted, time=when)
        planned.append(PlannedBlock(wanted, when, settled, block.state_overrides, block.calls))
    return tuple(planned)
