"""The one place tracing reaches into py-evm's interpreter.

py-evm has no tracing API. Its interpreter loop looks every opcode up in the
computation class's `opcodes` table and creates call frames through
`generate_child_computation`; `install` gives one state a computation subclass whose
table wraps each opcode and whose frames are reported, so a `Tracer` sees:

- `enter(frame)` when a call frame starts (the top-level one from the runner, child
  frames before their message is applied), `exit(frame, computation)` when it ends;
- `step(step)` before each opcode runs, `step_done(step)` after it ran or failed,
  with `step.cost` set the way geth counts it (a CALL's cost includes the gas it hands
  to the callee, a CREATE's does not).

The internals used (`Stack.values`, `Memory._bytes`, `code.program_counter`) are listed
in tests/execution/test_pinned_internals.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eth.abc import ComputationAPI, MessageAPI, StateAPI, TransactionContextAPI
from eth.exceptions import FullStack, Halt, InsufficientStack, OutOfGas
from eth.vm.logic.invalid import InvalidOpcode

CALLS = {0xF1: "CALL", 0xF2: "CALLCODE", 0xF4: "DELEGATECALL", 0xFA: "STATICCALL"}
CREATES = {0xF0: "CREATE", 0xF5: "CREATE2"}
SELFDESTRUCT = 0xFF

# Opcode names as geth prints them: each line is a first opcode and the names from it on.
_TABLE = """
0x00 STOP ADD MUL SUB DIV SDIV MOD SMOD ADDMOD MULMOD EXP SIGNEXTEND
0x10 LT GT SLT SGT EQ ISZERO AND OR XOR NOT BYTE SHL SHR SAR
0x20 KECCAK256
0x30 ADDRESS BALANCE ORIGIN CALLER CALLVALUE CALLDATALOAD CALLDATASIZE CALLDATACOPY
0x38 CODESIZE CODECOPY GASPRICE EXTCODESIZE EXTCODECOPY RETURNDATASIZE RETURNDATACOPY
0x3f EXTCODEHASH BLOCKHASH COINBASE TIMESTAMP NUMBER DIFFICULTY GASLIMIT CHAINID
0x47 SELFBALANCE BASEFEE BLOBHASH BLOBBASEFEE
0x50 POP MLOAD MSTORE MSTORE8 SLOAD SSTORE JUMP JUMPI PC MSIZE GAS JUMPDEST TLOAD TSTORE
0x5e MCOPY PUSH0
0xa0 LOG0 LOG1 LOG2 LOG3 LOG4
0xf0 CREATE CALL CALLCODE RETURN DELEGATECALL CREATE2
0xfa STATICCALL
0xfd REVERT INVALID SELFDESTRUCT
"""
_NAMES = {
    int(first, 16) + i: name
    for first, *names in (line.split() for line in _TABLE.strip().splitlines())
    for i, name in enumerate(names)
}
_NAMES.update({0x60 + i: f"PUSH{i + 1}" for i in range(32)})
_NAMES.update({0x80 + i: f"DUP{i + 1}" for i in range(16)})
_NAMES.update({0x90 + i: f"SWAP{i + 1}" for i in range(16)})


def opcode_name(op: int) -> str:
    """The opcode's name as geth prints it."""
    return _NAMES.get(op, f"opcode {op:#x} not defined")


@dataclass(slots=True)
class Frame:
    """A call frame: `kind` is CALL, STATICCALL, DELEGATECALL, CALLCODE, CREATE or
    CREATE2; `depth` counts from 0 (the transaction's own frame)."""

    kind: str
    sender: bytes
    to: bytes
    input: bytes
    gas: int
    value: int | None
    depth: int


@dataclass(slots=True)
class Step:
    """One opcode about to run in `computation`; `depth` counts from 1 as geth does."""

    pc: int
    op: int
    gas: int
    depth: int
    computation: ComputationAPI
    cost: int = 0
    error: str | None = None  # the op could not start (geth's struct-log "error")
    failed: bool = False  # the op raised, before or while running
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> bytes:
        return bytes(self.computation.msg.storage_address)

    def stack(self) -> list[int]:
        """The stack, bottom first."""
        values = self.computation._stack.values  # type: ignore[attr-defined]
        return [v if isinstance(v, int) else int.from_bytes(v, "big") for v in values]

    def memory(self) -> bytes:
        return bytes(self.computation._memory._bytes)  # type: ignore[attr-defined]

    def return_data(self) -> bytes:
        return bytes(self.computation.return_data)

    @property
    def state(self) -> StateAPI:
        return self.computation.state


class Tracer:
    """Receives the hooks; subclasses override what they need."""

    def enter(self, frame: Frame) -> None:
        """A call frame starts."""

    def exit(self, frame: Frame, computation: ComputationAPI) -> None:
        """A call frame ended with `computation` (output, error, gas left)."""

    def step(self, step: Step) -> None:
        """An opcode is about to run."""

    def step_done(self, step: Step) -> None:
        """The opcode ran (or failed: `step.failed`); `step.cost` and `step.error` are set."""


def frame_of(message: MessageAPI, kind: str) -> Frame:
    value: int | None = message.value
    if kind == "STATICCALL":
        value = None
    return Frame(
        kind=kind,
        sender=bytes(message.sender),
        to=bytes(message.storage_address),
        input=bytes(message.code if message.is_create else message.data),
        gas=message.gas,
        value=value,
        depth=message.depth,
    )


class _Run:
    """The per-trace bookkeeping shared by the wrapped opcodes and frames."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self.steps: list[Step] = []  # the step that is running, per depth
        self.top: Frame | None = None
        # per depth, the computation that ran an op there last and its pc after the op
        self.pc_after: dict[int, tuple[ComputationAPI, int]] = {}

    def child_kind(self, message: MessageAPI) -> str:
        if self.steps:
            op = self.steps[-1].op
            name = CALLS.get(op) or CREATES.get(op)
            if name is not None:
                return name
        return "CREATE" if message.is_create else "CALL"

    def before_child(self, parent: ComputationAPI, message: MessageAPI) -> Frame:
        frame = frame_of(message, self.child_kind(message))
        if self.steps:
            step = self.steps[-1]
            spent = step.gas - parent.get_gas_remaining()
            step.cost = spent - message.gas if message.is_create else spent
            step.extra["cost_set"] = True
        self.tracer.enter(frame)
        return frame


class _TracedOpcode:
    """An opcode of the table, reporting itself to the run's tracer."""

    __slots__ = ("_fn", "_op", "_run")

    def __init__(self, fn: Any, op: int, run: _Run) -> None:
        self._fn = fn
        self._op = op
        self._run = run

    def __call__(self, computation: ComputationAPI) -> None:
        run = self._run
        if not len(computation.code):
            self._fn(computation=computation)  # geth runs no interpreter for empty code
            return
        gas = computation.get_gas_remaining()
        depth = computation.msg.depth + 1
        pc = computation.code.program_counter
        # py-evm's code iterator has moved past the opcode, except for the STOP it
        # yields when the code runs out (pc is then unchanged since the last op).
        if self._op != 0 or run.pc_after.get(depth) != (computation, pc):
            pc -= 1
        step = Step(pc, self._op, gas, depth, computation)
        run.steps.append(step)
        run.tracer.step(step)
        try:
            self._fn(computation=computation)
        except (OutOfGas, InsufficientStack, FullStack) as exc:
            step.error = _error_text(exc)
            step.failed = True
            raise
        except Halt:
            raise  # STOP, RETURN and SELFDESTRUCT end the frame this way
        except Exception:
            step.failed = True
            raise
        finally:
            run.pc_after[depth] = (computation, computation.code.program_counter)
            run.steps.pop()
            if not step.extra.get("cost_set"):
                step.cost = gas - computation.get_gas_remaining()
            run.tracer.step_done(step)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, OutOfGas):
        return "out of gas"
    if isinstance(exc, InsufficientStack):
        return "stack underflow"
    return "stack limit reached 1024 (1023)"


@contextmanager
def installed(state: StateAPI, tracer: Tracer) -> Iterator[_Run]:
    """Within the block, every computation `state` runs reports to `tracer`; the
    top-level frame's `enter` comes from here, its `exit` is the caller's (it ends after
    the transaction is finalised). Yields the run, whose `top` is that frame."""
    base: Any = state.computation_class
    run = _Run(tracer)
    table = dict(base.opcodes)
    opcodes = {op: _TracedOpcode(table.get(op) or InvalidOpcode(op), op, run) for op in range(256)}

    def generate_child_computation(self: Any, child_msg: MessageAPI) -> ComputationAPI:
        frame = run.before_child(self, child_msg)
        child: ComputationAPI = base.generate_child_computation(self, child_msg)
        tracer.exit(frame, child)
        return child

    def apply_computation(
        cls: Any,
        state: StateAPI,
        message: MessageAPI,
        transaction_context: TransactionContextAPI,
        parent_computation: ComputationAPI | None = None,
    ) -> ComputationAPI:
        if parent_computation is None:
            run.top = frame_of(message, "CREATE" if message.is_create else "CALL")
            tracer.enter(run.top)
        computation: ComputationAPI = base.apply_computation.__func__(
            cls, state, message, transaction_context, parent_computation=parent_computation
        )
        return computation

    traced = type(
        f"Traced{base.__name__}",
        (base,),
        {
            "opcodes": opcodes,
            "generate_child_computation": generate_child_computation,
            "apply_computation": classmethod(apply_computation),
        },
    )
    state.computation_class = traced
    try:
        yield run
    finally:
        del state.computation_class  # back to the state class's own
