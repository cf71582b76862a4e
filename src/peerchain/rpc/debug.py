"""The `debug_trace*` methods, with geth's parameters and answers.

Options: {"tracer": "callTracer" | "prestateTracer" (default: the struct logger),
"tracerConfig": {...}, "disableStack", "disableStorage", "enableMemory",
"enableReturnData", "limit"}, and for debug_traceCall "stateOverrides" and
"blockOverrides" as in eth_call; other fields ("timeout", "reexec"...) are ignored, as
geth ignores what it does not know. A block's trace is a list of {"txHash", "result"}.
Unknown transactions and blocks, and the genesis block, answer -32000 with geth's message.
"""

from __future__ import annotations

from typing import Any

from peerchain.core.tracing import (
    CALL_TRACER,
    PRESTATE_TRACER,
    STRUCT_LOGGER,
    TRACERS,
    TraceConfig,
)
from peerchain.node.view import NodeView
from peerchain.rpc.dispatch import CallContext, Method, Params
from peerchain.rpc.encoding import (
    InvalidValue,
    parse_block_number,
    parse_block_overrides,
    parse_block_ref,
    parse_call_request,
    parse_hash,
    parse_state_overrides,
)
from peerchain.rpc.eth import LATEST, resolve_ref

_STRUCT_OPTIONS = {
    "disableStack": "disable_stack",
    "disableStorage": "disable_storage",
    "enableMemory": "enable_memory",
    "enableReturnData": "enable_return_data",
}
_TRACER_OPTIONS = {
    CALL_TRACER: {"onlyTopCall": "only_top_call", "withLog": "with_log"},
    PRESTATE_TRACER: {
        "diffMode": "diff_mode",
        "disableCode": "disable_code",
        "disableStorage": "disable_storage",
    },
}


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"{name}: expected a boolean")
    return value


def parse_trace_config(value: Any) -> TraceConfig:
    """A TraceConfig from geth's trace options object.

    As geth does, fields it does not know are ignored (also those of another tracer's
    tracerConfig), and the struct logger ignores tracerConfig; known fields must have
    their type."""
    if not isinstance(value, dict):
        raise InvalidValue("expected a trace options object")
    options: dict[str, Any] = {}
    tracer = value.get("tracer") or STRUCT_LOGGER
    if tracer not in TRACERS:
        raise InvalidValue(f"unknown tracer {str(tracer)[:40]!r}: supported are {TRACERS}")
    options["tracer"] = tracer
    for name, field in _STRUCT_OPTIONS.items():
        if value.get(name) is not None:
            options[field] = _flag(value[name], name)
    limit = value.get("limit")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InvalidValue("limit: expected a non-negative integer")
        options["limit"] = limit
    tracer_config = value.get("tracerConfig") or {}
    if not isinstance(tracer_config, dict):
        raise InvalidValue("tracerConfig: expected an object")
    for name, field in _TRACER_OPTIONS.get(tracer, {}).items():
        if tracer_config.get(name) is not None:
            options[field] = _flag(tracer_config[name], f"tracerConfig.{name}")
    return TraceConfig(**options)


def _trace_call_options(value: Any) -> tuple[TraceConfig, Any, Any]:
    """debug_traceCall's options: the trace options plus geth's "stateOverrides" and
    "blockOverrides" (the formats of eth_call's overrides)."""
    if not isinstance(value, dict):
        raise InvalidValue("expected a trace options object")
    rest = {k: v for k, v in value.items() if k not in ("stateOverrides", "blockOverrides")}
    state = value.get("stateOverrides")
    block = value.get("blockOverrides")
    return (
        parse_trace_config(rest),
        () if state is None else parse_state_overrides(state),
        None if block is None else parse_block_overrides(block),
    )


def _traces(pairs: list[tuple[bytes, Any]]) -> list[dict[str, Any]]:
    return [{"txHash": "0x" + tx_hash.hex(), "result": result} for tx_hash, result in pairs]


def debug_methods(view: NodeView) -> dict[str, Method]:
    """debug_traceTransaction, debug_traceCall, debug_traceBlockByNumber/ByHash."""

    async def trace_transaction(p: Params, ctx: CallContext) -> Any:
        tx_hash = p.required(0, parse_hash)
        config = p.optional(1, parse_trace_config, TraceConfig())
        return await view.trace_transaction(tx_hash, config)

    async def trace_call(p: Params, ctx: CallContext) -> Any:
        request = p.required(0, parse_call_request)
        header = resolve_ref(view, p.optional(1, parse_block_ref, LATEST))
        config, state, block = p.optional(2, _trace_call_options, (TraceConfig(), (), None))
        return await view.trace_call(request, header, config, state, block)

    async def trace_block_by_number(p: Params, ctx: CallContext) -> Any:
        header = view.resolve_block(p.required(0, parse_block_number))
        config = p.optional(1, parse_trace_config, TraceConfig())
        return _traces(await view.trace_block(header, config))

    async def trace_block_by_hash(p: Params, ctx: CallContext) -> Any:
        header = view.resolve_block(p.required(0, parse_hash))
        config = p.optional(1, parse_trace_config, TraceConfig())
        return _traces(await view.trace_block(header, config))

    return {
        "traceTransaction": Method(trace_transaction, 2),
        "traceCall": Method(trace_call, 3),
        "traceBlockByNumber": Method(trace_block_by_number, 2),
        "traceBlockByHash": Method(trace_block_by_hash, 2),
    }
