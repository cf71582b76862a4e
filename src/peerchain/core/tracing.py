"""What a debug_trace* caller asks for: which tracer and its options, as geth takes them.

The execution layer runs the tracer; the RPC layer parses the JSON options into a
`TraceConfig`. Tracer results are JSON-ready values in geth's shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from peerchain.core.errors import PeerChainError

STRUCT_LOGGER = "structLogger"
CALL_TRACER = "callTracer"
PRESTATE_TRACER = "prestateTracer"
TRACERS = (STRUCT_LOGGER, CALL_TRACER, PRESTATE_TRACER)
# What one struct-log trace may hold, in values (an entry's fields, stack items, memory
# words, storage slots): a few hundred megabytes of JSON at most.
MAX_TRACE_VALUES = 4_000_000


class TraceFailed(PeerChainError):
    """A trace cannot be produced (unknown transaction, genesis, bad tracer options)."""


@dataclass(frozen=True, slots=True)
class TraceConfig:
    """Options of one trace.

    Struct logger (the default, `tracer` = "structLogger"): `disable_stack`,
    `disable_storage`, `enable_memory`, `enable_return_data`, `limit` (the number of
    steps kept; 0 keeps all, up to MAX_TRACE_VALUES values, past which the trace
    fails). callTracer: `only_top_call`, `with_log`. prestateTracer: `diff_mode`,
    `disable_code`, `disable_storage`.
    """

    tracer: str = STRUCT_LOGGER
    disable_stack: bool = False
    disable_storage: bool = False
    enable_memory: bool = False
    enable_return_data: bool = False
    limit: int = 0
    only_top_call: bool = False
    with_log: bool = False
    diff_mode: bool = False
    disable_code: bool = False
