"""py-evm's computation (its interpreter's per-call state) with the bookkeeping it repeats
for every opcode made cheaper, the rules unchanged:

- jump destinations: py-evm's code stream finds out whether a JUMP target is an opcode
  (not PUSH data) by looking back over the code, and keeps the answers per computation,
  so every call of a contract starts over. Here the answers are kept per code (they
  depend on nothing else) and shared by every computation running it.
- gas: each opcode's charge goes through the computation to py-evm's gas meter, which
  checks the sign and formats a debug log line when asked to; here a charge that fits
  is taken from the meter directly (by the simple opcodes themselves: a fixed charge,
  then their logic), and any other goes to the meter (its errors unchanged).
- memory: an access within the memory already paid for, or of no bytes, needs no gas
  arithmetic; growing it charges the same gas without py-evm's checks and log line.
- memory writes that fit are made without py-evm's argument checks.
- the stack: integers are popped without a generator, and the computation's `stack_*`
  calls are bound when it is made (py-evm binds each on first use, slowly).
- the state's logger: py-evm builds it on every access (each transaction asks several
  times); here it is made once per state class.
- hex text: py-evm formats addresses into debug-log lines and gas-charge reasons with
  eth_utils' `encode_hex` for every transaction and SSTORE, logged or not; the modules
  doing so on the block path get a cheaper function that returns the same text.
"""

from __future__ import annotations

from typing import Any

from eth._utils.numeric import ceil32
from eth.abc import MessageAPI, StateAPI, TransactionContextAPI
from eth.exceptions import FullStack, InsufficientStack
from eth.validation import validate_stack_bytes, validate_stack_int
from eth.vm.computation import memory_gas_cost
from eth.vm.forks.cancun import state as cancun_state
from eth.vm.forks.frontier import state as frontier_state
from eth.vm.logic import storage as storage_logic
from eth.vm.memory import Memory
from eth.vm.opcode import _FastOpcode
from eth.vm.stack import Stack, to_int
from eth_utils.hexadecimal import encode_hex
from eth_utils.logging import ExtendedDebugLogger, get_extended_debug_logger

from peerchain.execution.lru import Lru

# Jump-destination answers are kept for this many codes (the contracts in use).
_CODES = 256


class _JumpAnalysis:
    """The positions of one code found to be (or not to be) opcodes, as py-evm's
    `CodeStream` records them in its `valid_positions` and `invalid_positions`."""

    __slots__ = ("invalid", "valid")

    def __init__(self) -> None:
        self.valid: set[int] = set()
        self.invalid: set[int] = set()


_WORD_LIMIT = 2**256
# The stack methods py-evm's computation exposes as `stack_<name>`.
STACK_CALLS = (
    "pop_ints", "pop_bytes", "pop_any", "pop1_int", "pop1_bytes", "pop1_any",
    "push_int", "push_bytes",
)  # fmt: skip
_STACK_ATTRIBUTES = tuple((f"stack_{name}", name) for name in STACK_CALLS)


def _hex(value: Any) -> str:
    """eth_utils' `encode_hex` (0x and lower-case hex digits), without its type checks
    for the bytes py-evm hands it."""
    if type(value) is bytes:
        return "0x" + value.hex()
    return encode_hex(value)


# The modules look the name up when they run (as vm.py's KZG loader is replaced).
for _module in (storage_logic, frontier_state, cancun_state):
    setattr(_module, "encode_hex", _hex)  # noqa: B010

_ANALYSES: Lru[bytes, _JumpAnalysis] = Lru(_CODES)


class CheapBookkeeping:
    """Mixed into a fork's computation class (`lean_computation`)."""

    _gas_meter: Any
    _memory: Any
    code: Any

    def __init__(
        self, state: StateAPI, message: MessageAPI, transaction_context: TransactionContextAPI
    ) -> None:
        super().__init__(state, message, transaction_context)  # type: ignore[call-arg]
        self._memory = _LeanMemory()
        stack = self._stack = _LeanStack()
        # py-evm's computation binds these to its stack on first use per computation
        # (`cached_property`, which asks asyncio whether each is a coroutine): bound here.
        attributes = self.__dict__
        for attribute, name in _STACK_ATTRIBUTES:
            attributes[attribute] = getattr(stack, name)
        code = message.code
        if code:
            analysis = _ANALYSES.get(bytes(code), _JumpAnalysis)
            self.code.valid_positions = analysis.valid
            self.code.invalid_positions = analysis.invalid

    def consume_gas(self, amount: int, reason: str) -> None:
        meter = self._gas_meter
        if 0 <= amount <= meter.gas_remaining:
            meter.gas_remaining -= amount
        else:
            meter.consume_gas(amount, reason)

    def extend_memory(self, start_position: int, size: int) -> None:
        if not (0 <= start_position < _WORD_LIMIT and 0 <= size < _WORD_LIMIT):
            super().extend_memory(start_position, size)  # type: ignore[misc]  # it raises
            return
        before = len(self._memory._bytes)  # a multiple of 32
        end = start_position + size
        if size == 0 or end <= before:
            return  # nothing to grow: no gas, no change
        after = ceil32(end)
        cost = memory_gas_cost(after) - memory_gas_cost(before)
        meter = self._gas_meter
        if cost <= meter.gas_remaining:
            meter.gas_remaining -= cost
        else:
            meter.consume_gas(cost, f"Expanding memory {before} -> {after}")
        self._memory.extend(start_position, size)


class _LeanMemory(Memory):
    """py-evm's memory, writing bytes that fit into what it holds without its checks."""

    def write(self, start_position: int, size: int, value: bytes) -> None:
        memory = self._bytes
        if (
            type(value) is bytes
            and type(start_position) is int
            and len(value) == size
            and start_position >= 0
            and start_position + size <= len(memory)
        ):
            memory[start_position : start_position + size] = value
        else:
            super().write(start_position, size, value)  # its checks, its errors


class _LeanStack(Stack):
    """py-evm's stack, popping integers without a generator or a call per item and
    checking pushed items inline."""

    def push_int(self, value: int) -> None:
        values = self.values
        if len(values) > 1023:
            raise FullStack("Stack limit reached")
        if not 0 <= value < _WORD_LIMIT:
            validate_stack_int(value)  # raises
        values.append(value)

    def push_bytes(self, value: bytes) -> None:
        values = self.values
        if len(values) > 1023:
            raise FullStack("Stack limit reached")
        if len(value) > 32:
            validate_stack_bytes(value)  # raises
        values.append(value)

    def pop1_int(self) -> int:
        try:
            value = self._pop()
        except IndexError:
            raise InsufficientStack("Wanted 1 stack item, had none") from None
        return value if type(value) is int else to_int(value)

    def pop_ints(self, num_items: int) -> tuple[int, ...]:
        values = self.values
        if num_items > len(values):
            raise InsufficientStack(f"Wanted {num_items} stack items, only had {len(values)}")
        popped = values[-num_items:]
        del values[-num_items:]
        popped.reverse()
        return tuple([v if type(v) is int else to_int(v) for v in popped])


class _ChargedOpcode:
    """A simple opcode of py-evm's table (its `_FastOpcode`: a fixed charge, then the
    logic) that takes its charge from the gas meter itself."""

    __slots__ = ("gas_cost", "logic_fn", "mnemonic")

    def __init__(self, opcode: Any) -> None:
        self.gas_cost: int = opcode.gas_cost
        self.logic_fn: Any = opcode.logic_fn
        self.mnemonic: str = opcode.mnemonic

    def __call__(self, computation: Any) -> Any:
        meter = computation._gas_meter
        cost = self.gas_cost
        if cost <= meter.gas_remaining:
            meter.gas_remaining -= cost
        else:
            meter.consume_gas(cost, self.mnemonic)
        return self.logic_fn(computation)


def lean_computation(computation_class: Any) -> Any:
    """`computation_class` (a fork's) with `CheapBookkeeping` and its simple opcodes
    charging their gas directly."""
    opcodes = {
        op: _ChargedOpcode(fn) if isinstance(fn, _FastOpcode) else fn
        for op, fn in computation_class.opcodes.items()
    }
    name = f"Lean{computation_class.__name__}"
    return type(name, (CheapBookkeeping, computation_class), {"opcodes": opcodes})


def state_logger(name: str) -> ExtendedDebugLogger:
    """The logger py-evm's state would build on every access to its `logger`."""
    return get_extended_debug_logger(f"eth.vm.state.{name}")
