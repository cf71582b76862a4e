"""geth's struct logger: one entry per executed opcode.

An entry has pc, op, gas (before the op), gasCost, depth, the stack (bottom first,
unless disabled), memory as 32-byte words (when enabled), the last call's return data
(when enabled), the storage the current contract touched so far (on SLOAD/SSTORE, unless
disabled), the refund counter when not zero, and "error" when the op itself could not
start (out of gas, stack under- or overflow), all in geth's encoding.
"""

from __future__ import annotations

from typing import Any

from eth.abc import ComputationAPI

from peerchain.core.tracing import MAX_TRACE_VALUES, TraceConfig, TraceFailed
from peerchain.execution.tracing.hooks import Frame, Step, Tracer, opcode_name

SLOAD = 0x54
SSTORE = 0x55


def _hex32(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def memory_words(memory: bytes) -> list[str]:
    """Memory as geth prints it: 0x-prefixed 32-byte words."""
    return ["0x" + memory[i : i + 32].ljust(32, b"\0").hex() for i in range(0, len(memory), 32)]


class StructLogger(Tracer):
    """Collects struct logs; `result(gas_used)` is geth's ExecutionResult."""

    def __init__(self, config: TraceConfig) -> None:
        self._config = config
        self._logs: list[dict[str, Any]] = []
        self._storage: dict[bytes, dict[str, str]] = {}
        self._frames: list[ComputationAPI] = []
        self._child_refunds: list[int] = []
        self._top: Frame | None = None
        self._output = b""
        self._failed = False
        self._reverted = False
        self._values = 0

    def _refund(self, depth: int) -> int:
        return sum(
            frame.get_gas_meter().gas_refunded + done
            for frame, done in zip(self._frames[:depth], self._child_refunds, strict=False)
        )

    def step(self, step: Step) -> None:
        depth = step.depth
        if len(self._frames) < depth:
            self._frames.append(step.computation)
            self._child_refunds.append(0)
        elif self._frames[depth - 1] is not step.computation:
            del self._frames[depth:]
            del self._child_refunds[depth:]
            self._frames[depth - 1] = step.computation
            self._child_refunds[depth - 1] = 0
        else:
            del self._frames[depth:]
            del self._child_refunds[depth:]
        if self._config.limit and len(self._logs) >= self._config.limit:
            return
        config = self._config
        entry: dict[str, Any] = {
            "pc": step.pc,
            "op": opcode_name(step.op),
            "gas": step.gas,
            "gasCost": 0,
            "depth": depth,
        }
        stack = step.stack()
        if not config.disable_stack:
            entry["stack"] = [hex(v) for v in stack]
        if config.enable_return_data:
            data = step.return_data()
            if data:
                entry["returnData"] = "0x" + data.hex()
        if config.enable_memory:
            memory = step.memory()
            if memory:
                entry["memory"] = memory_words(memory)
        if not config.disable_storage and step.op in (SLOAD, SSTORE):
            self._touch_storage(step, stack, entry)
        refund = self._refund(depth)
        if refund:
            entry["refund"] = refund
        self._count(entry)
        step.extra["log"] = entry
        self._logs.append(entry)

    def _count(self, entry: dict[str, Any]) -> None:
        """Keep the trace bounded: fail once it holds more than MAX_TRACE_VALUES values."""
        self._values += 8 + sum(len(entry.get(k, ())) for k in ("stack", "memory", "storage"))
        if self._values > MAX_TRACE_VALUES:
            raise TraceFailed(
                f"trace too large (over {MAX_TRACE_VALUES} values after {len(self._logs)} "
                "steps): set limit, or disableStack / disableStorage / no enableMemory"
            )

    def _touch_storage(self, step: Step, stack: list[int], entry: dict[str, Any]) -> None:
        seen = self._storage.setdefault(step.address, {})
        if step.op == SLOAD and stack:
            value = step.state.get_storage(step.computation.msg.storage_address, stack[-1])
            seen[_hex32(stack[-1])] = _hex32(value)
        elif step.op == SSTORE and len(stack) >= 2:
            seen[_hex32(stack[-1])] = _hex32(stack[-2])
        else:
            return
        entry["storage"] = dict(seen)

    def step_done(self, step: Step) -> None:
        entry = step.extra.get("log")
        if entry is None:
            return
        entry["gasCost"] = step.cost
        if step.error is not None:
            entry["error"] = step.error

    def exit(self, frame: Frame, computation: ComputationAPI) -> None:
        if frame.depth == 0:
            self._output = bytes(computation.output)
            self._failed = computation.is_error
            self._reverted = computation.is_error and not computation.should_burn_gas
        elif frame.depth <= len(self._child_refunds) and not computation.is_error:
            self._child_refunds[frame.depth - 1] += computation.get_gas_refund()

    def result(self, gas_used: int) -> dict[str, Any]:
        returned = self._output if (not self._failed or self._reverted) else b""
        return {
            "gas": gas_used,
            "failed": self._failed,
            "returnValue": "0x" + returned.hex(),
            "structLogs": self._logs,
        }
