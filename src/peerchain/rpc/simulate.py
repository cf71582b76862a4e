"""eth_simulateV1 (execution-apis): its request parsed, its blocks answered in geth's shape.

The request is {"blockStateCalls": [{"blockOverrides", "stateOverrides", "calls"}],
"traceTransfers", "validation", "returnFullTransactions"} and a block (default
latest); the plan of blocks (`core.simulate.plan_blocks`) is checked here, before any
execution, and the node runs it as one heavy query under its limits (gas cap shared by
all the calls, timeout, worker pool). Each answer block is a block object (transaction
hashes, or objects with `returnFullTransactions`) with "calls": {"returnData", "logs",
"gasUsed", "maxUsedGas", "status", "error"?}.
"""

from __future__ import annotations

from typing import Any

from peerchain.core.simulate import (
    VM_ERROR,
    BlockStateCalls,
    SimulatedBlock,
    SimulatedCall,
    SimulateOptions,
    plan_blocks,
    validate_request_size,
)
from peerchain.node.view import NodeView, UnknownBlock
from peerchain.rpc import shapes
from peerchain.rpc.dispatch import CallContext, Method, Params
from peerchain.rpc.encoding import (
    InvalidValue,
    parse_block_overrides,
    parse_block_ref,
    parse_bool,
    parse_call_request,
    parse_state_overrides,
)
from peerchain.rpc.errors import reverted_error, server_error
from peerchain.rpc.eth import LATEST, resolve_ref

_OPTIONS = ("traceTransfers", "validation", "returnFullTransactions")
# Fields of blob and set-code transactions, and of blocks, that a simulation here cannot
# honour: refused rather than ignored.
_UNSUPPORTED_CALL = ("blobVersionedHashes", "blobs", "authorizationList")
_UNSUPPORTED_BLOCK = ("blobBaseFee", "withdrawals")


def _supported(value: dict[str, Any], names: tuple[str, ...], where: str) -> dict[str, Any]:
    for name in names:
        if value.get(name) is not None:
            raise InvalidValue(f"{where}{name} is not supported by eth_simulateV1 here")
    return value


def _block_state_calls(value: Any) -> BlockStateCalls:
    if not isinstance(value, dict):
        raise InvalidValue("expected a block state calls object")
    calls = value.get("calls") or []
    if not isinstance(calls, list):
        raise InvalidValue("calls: expected an array of calls")
    overrides = value.get("blockOverrides")
    state = value.get("stateOverrides")
    if isinstance(overrides, dict):
        _supported(overrides, _UNSUPPORTED_BLOCK, "blockOverrides.")
    for call in calls:
        if isinstance(call, dict):
            _supported(call, _UNSUPPORTED_CALL, "calls: ")
    return BlockStateCalls(
        block_overrides=None if overrides is None else parse_block_overrides(overrides),
        state_overrides=() if state is None else parse_state_overrides(state),
        calls=tuple(parse_call_request(call) for call in calls),
    )


def parse_simulate_request(value: Any) -> tuple[tuple[BlockStateCalls, ...], SimulateOptions, bool]:
    """The blocks, the options and whether to answer full transactions."""
    if not isinstance(value, dict):
        raise InvalidValue("expected a simulation object")
    blocks = value.get("blockStateCalls")
    if not isinstance(blocks, list):
        raise InvalidValue("blockStateCalls: expected an array")
    if not blocks:
        raise InvalidValue("empty input")
    calls = (b.get("calls") for b in blocks if isinstance(b, dict))
    validate_request_size(len(blocks), sum(len(c) for c in calls if isinstance(c, list)))
    flags = {name: value.get(name) is not None and parse_bool(value[name]) for name in _OPTIONS}
    options = SimulateOptions(
        validation=flags["validation"], trace_transfers=flags["traceTransfers"]
    )
    return tuple(_block_state_calls(b) for b in blocks), options, flags["returnFullTransactions"]


def format_call(call: SimulatedCall, timestamp: int) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "returnData": shapes.data(call.return_data),
        "logs": [shapes.format_log(log, timestamp) for log in call.logs],
        "gasUsed": shapes.quantity(call.gas_used),
        "maxUsedGas": shapes.quantity(call.max_used_gas),
        "status": shapes.quantity(call.status),
    }
    if call.revert is not None:
        obj["error"] = reverted_error(call.revert).to_json()
    elif call.failure is not None:
        obj["error"] = {"code": VM_ERROR, "message": call.failure}
    return obj


def format_simulated_block(simulated: SimulatedBlock, full: bool) -> dict[str, Any]:
    obj = shapes.format_block(simulated.block, full)
    timestamp = simulated.block.header.timestamp
    obj["calls"] = [format_call(call, timestamp) for call in simulated.calls]
    return obj


def simulate_methods(view: NodeView) -> dict[str, Method]:
    """eth_simulateV1, by its name after the namespace."""

    async def simulate(p: Params, ctx: CallContext) -> list[dict[str, Any]]:
        blocks, options, full = p.required(0, parse_simulate_request)
        try:
            header = resolve_ref(view, p.optional(1, parse_block_ref, LATEST))
        except UnknownBlock:
            raise server_error("header not found") from None
        plan = plan_blocks(header.number, header.timestamp, blocks)
        simulated = await view.simulate(plan, options, header)
        return [format_simulated_block(block, full) for block in simulated]

    return {"simulateV1": Method(simulate, 2)}
