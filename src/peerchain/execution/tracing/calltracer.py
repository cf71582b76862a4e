"""geth's callTracer: the tree of call frames of a transaction.

Each frame is {type, from, gas, gasUsed, to, input, output, error, revertReason, calls,
logs, value} with geth's omissions: no "to" on a failed CREATE, no "value" on
STATICCALL, "output" on a failure only for a revert with data, "logs" only with
`withLog` and only in frames that did not fail (nor sit under one that failed). The top
frame's gas is the transaction's gas limit and its gasUsed the receipt's.
"""

from __future__ import annotations

from typing import Any

from eth.abc import ComputationAPI
from eth.exceptions import Revert

from peerchain.core.queries import revert_reason
from peerchain.core.tracing import TraceConfig
from peerchain.execution.tracing.hooks import SELFDESTRUCT, Frame, Step, Tracer

LOGS = range(0xA0, 0xA5)

# py-evm's errors by class name, as geth words them.
_ERRORS = {
    "Revert": "execution reverted",
    "OutOfGas": "out of gas",
    "InsufficientStack": "stack underflow",
    "FullStack": "stack limit reached 1024 (1023)",
    "InvalidJumpDestination": "invalid jump destination",
    "InvalidInstruction": "invalid opcode",
    "WriteProtection": "write protection",
    "StackDepthLimit": "max call depth exceeded",
    "InsufficientFunds": "insufficient balance for transfer",
    "ContractCreationCollision": "contract address collision",
    "OutOfBoundsRead": "return data out of bounds",
    "ReservedBytesInCode": "invalid code: must not begin with 0xef",
}


def error_text(error: Exception) -> str:
    """A VM error as geth's message."""
    return _ERRORS.get(type(error).__name__) or str(error) or type(error).__name__


def _address(value: bytes) -> str:
    return "0x" + value.hex()


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


class CallTracer(Tracer):
    """Builds the frame tree; `result(gas_limit, gas_used)` is the top frame."""

    def __init__(self, config: TraceConfig, log_index: int = 0) -> None:
        self._config = config
        self._stack: list[dict[str, Any]] = []
        self._top: dict[str, Any] | None = None
        self._log_index = log_index
        self._log_marks: list[int] = []  # the log index at each open frame's start

    def _recording(self, depth: int) -> bool:
        return not self._config.only_top_call or depth == 0

    def enter(self, frame: Frame) -> None:
        self._log_marks.append(self._log_index)
        if not self._recording(frame.depth):
            return
        node: dict[str, Any] = {
            "type": frame.kind,
            "from": _address(frame.sender),
            "gas": hex(frame.gas),
            "gasUsed": "0x0",
            "to": _address(frame.to),
            "input": "0x" + frame.input.hex(),
        }
        if frame.value is not None:
            node["value"] = hex(frame.value)
        self._stack.append(node)

    def exit(self, frame: Frame, computation: ComputationAPI) -> None:
        mark = self._log_marks.pop() if self._log_marks else self._log_index
        if computation.is_error:
            self._log_index = mark  # a failed frame's logs are gone, with their indices
        if not self._recording(frame.depth) or not self._stack:
            return
        node = self._stack.pop()
        node["gasUsed"] = hex(frame.gas - computation.get_gas_remaining())
        output = bytes(computation.output)
        if not computation.is_error:
            if output:
                node["output"] = "0x" + output.hex()
        else:
            node["error"] = error_text(computation.error)
            node["failed"] = True
            if frame.kind in ("CREATE", "CREATE2"):
                node.pop("to", None)
            if isinstance(computation.error, Revert) and output:
                node["output"] = "0x" + output.hex()
                reason = revert_reason(output)
                if reason is not None:
                    node["revertReason"] = reason
        if self._stack:
            self._stack[-1].setdefault("calls", []).append(node)
        else:
            self._top = node

    def step(self, step: Step) -> None:
        if not self._stack or not self._recording(step.depth - 1):
            return
        if step.op == SELFDESTRUCT and not self._config.only_top_call:
            stack = step.stack()
            if stack:
                beneficiary = (stack[-1] % 2**160).to_bytes(20, "big")
                balance = step.state.get_balance(step.computation.msg.storage_address)
                step.extra["frame"] = {
                    "type": "SELFDESTRUCT",
                    "from": _address(step.address),
                    "gas": "0x0",
                    "gasUsed": "0x0",
                    "to": _address(beneficiary),
                    "input": "0x",
                    "value": hex(balance),
                }
        elif step.op in LOGS and self._config.with_log:
            stack = step.stack()
            topics = len(range(LOGS.start, step.op))
            if len(stack) >= 2 + topics:
                offset, size = stack[-1], stack[-2]
                memory = step.memory()
                data = memory[offset : offset + size].ljust(size, b"\0") if size else b""
                step.extra["log"] = {
                    "address": _address(step.address),
                    "topics": [
                        "0x" + stack[-3 - i].to_bytes(32, "big").hex() for i in range(topics)
                    ],
                    "data": "0x" + data.hex(),
                }

    def step_done(self, step: Step) -> None:
        if step.failed:
            return
        log = step.extra.get("log")
        if self._stack and "frame" in step.extra:
            self._stack[-1].setdefault("calls", []).append(step.extra["frame"])
        if self._stack and log is not None:
            current = self._stack[-1]
            log["index"] = hex(self._log_index)
            log["position"] = hex(len(current.get("calls", ())))
            current.setdefault("logs", []).append(log)
        if step.op in LOGS:
            self._log_index += 1

    def result(self, gas_limit: int, gas_used: int) -> dict[str, Any]:
        top = self._top or {}
        top["gas"] = hex(gas_limit)
        top["gasUsed"] = hex(gas_used)
        _finish(top, parent_failed=False)
        return top


def _finish(node: dict[str, Any], parent_failed: bool) -> None:
    """Drop the internal failure mark and the logs of failed frames; order the keys."""
    failed = node.pop("failed", False) or parent_failed
    if failed:
        node.pop("logs", None)
    for child in node.get("calls", ()):
        _finish(child, failed)
    order = ("type", "from", "gas", "gasUsed", "to", "input", "output", "error")
    rest = ("revertReason", "calls", "logs", "value")
    items = {k: node[k] for k in (*order, *rest) if k in node}
    node.clear()
    node.update(items)
