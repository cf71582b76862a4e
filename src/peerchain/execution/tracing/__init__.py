"""debug_trace*: transactions, blocks and calls re-run under one of geth's tracers.

Plain functions of (state at a block, transaction or call, options), so they run
wherever the node runs its heavy reads:

- `trace_transaction(vm_class, state, tx, config)`: one transaction on `state`
  (the state it ran on; changed by it, as in a block);
- `trace_block(vm_class, chaindb, chain_context, consensus_context, block, config,
  only=None)`: a stored block's transactions replayed on its parent's state after the
  block's system updates, each traced (or only the one at index `only`);
- `trace_call(vm_class, state, builder, request, gas_cap, config)`: an eth_call-style
  request, thrown away afterwards.

Results are JSON-ready values in geth's shapes. Raises TraceFailed for a block with no
parent (genesis) or an unknown tracer.
"""

from __future__ import annotations

from typing import Any

from eth.abc import (
    BlockAPI,
    ChainContextAPI,
    ChainDatabaseAPI,
    ComputationAPI,
    ConsensusContextAPI,
    SignedTransactionAPI,
    StateAPI,
)
from eth_utils.exceptions import ValidationError

from peerchain.core.queries import CallRequest, ExecutionFailed
from peerchain.core.tracing import (
    CALL_TRACER,
    PRESTATE_TRACER,
    STRUCT_LOGGER,
    TraceConfig,
    TraceFailed,
)
from peerchain.execution import calls
from peerchain.execution.tracing.calltracer import CallTracer
from peerchain.execution.tracing.hooks import installed
from peerchain.execution.tracing.prestate import PrestateTracer
from peerchain.execution.tracing.structlog import StructLogger

__all__ = ["trace_block", "trace_call", "trace_transaction"]


def trace_transaction(
    vm_class: Any,
    state: StateAPI,
    tx: SignedTransactionAPI,
    config: TraceConfig,
    log_index: int = 0,
) -> Any:
    """Apply `tx` to `state` under the tracer `config` names; its result.

    `log_index` is the block-wide index of the transaction's first log (callTracer)."""
    return _trace(vm_class, state, tx, config, log_index)[0]


def _trace(
    vm_class: Any, state: StateAPI, tx: SignedTransactionAPI, config: TraceConfig, log_index: int
) -> tuple[Any, ComputationAPI]:
    tracer: StructLogger | CallTracer | PrestateTracer
    if config.tracer == STRUCT_LOGGER:
        tracer = StructLogger(config)
    elif config.tracer == CALL_TRACER:
        tracer = CallTracer(config, log_index)
    elif config.tracer == PRESTATE_TRACER:
        tracer = PrestateTracer(config)
        to = bytes(tx.to) if tx.to else None
        tracer.begin(state, bytes(tx.sender), to, bytes(state.coinbase))
    else:
        raise TraceFailed(f"unknown tracer {config.tracer!r}")
    with installed(state, tracer) as run:
        computation = state.apply_transaction(tx)
    if run.top is not None:
        tracer.exit(run.top, computation)
    gas_used: int = vm_class.finalize_gas_used(tx, computation)
    if isinstance(tracer, StructLogger):
        return tracer.result(gas_used), computation
    if isinstance(tracer, CallTracer):
        return tracer.result(tx.gas, gas_used), computation
    return tracer.result(), computation


def trace_block(
    vm_class: Any,
    chaindb: ChainDatabaseAPI,
    chain_context: ChainContextAPI,
    consensus_context: ConsensusContextAPI,
    block: BlockAPI,
    config: TraceConfig,
    only: int | None = None,
) -> list[tuple[bytes, Any]]:
    """(transaction hash, trace) for the block's transactions, or for the one at `only`."""
    if block.number == 0:
        raise TraceFailed("genesis is not traceable")
    parent = chaindb.get_block_header_by_hash(block.header.parent_hash)
    base = block.header.copy(state_root=parent.state_root, gas_used=0)
    vm = vm_class(base, chaindb, chain_context, consensus_context)
    vm.block_preprocessing(block)
    state = vm.state
    traces: list[tuple[bytes, Any]] = []
    log_index = 0
    for index, tx in enumerate(block.transactions):
        if only is not None and index > only:
            break
        state.lock_changes()
        if only is None or index == only:
            trace, computation = _trace(vm_class, state, tx, config, log_index)
            traces.append((bytes(tx.hash), trace))
        else:
            computation = state.apply_transaction(tx)
        log_index += len(computation.get_log_entries())
    return traces


def trace_call(
    vm_class: Any,
    state: StateAPI,
    builder: Any,
    request: CallRequest,
    gas_cap: int,
    config: TraceConfig,
) -> Any:
    """Trace `request` run on `state` (see calls.call_state) as a transaction."""
    gas = request.gas if request.gas is not None else gas_cap
    tx = calls.spoofed(state, builder, request, gas)
    snapshot = state.snapshot()
    try:
        return trace_transaction(vm_class, state, tx, config)
    except ValidationError as exc:
        raise ExecutionFailed(str(exc)) from exc
    finally:
        state.revert(snapshot)
