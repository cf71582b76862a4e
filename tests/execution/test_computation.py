"""The lean computation (execution/computation.py) keeps py-evm's rules: the jump
destinations it shares between computations of one code, the gas it charges and the
memory it grows are those of py-evm's own computation."""

from __future__ import annotations

from typing import Any

import pytest
from eth.exceptions import FullStack, InsufficientStack, OutOfGas
from eth.vm.code_stream import CodeStream
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.memory import Memory
from eth.vm.message import Message
from eth.vm.stack import Stack
from eth.vm.transaction_context import BaseTransactionContext
from eth_utils.exceptions import ValidationError
from eth_utils.hexadecimal import encode_hex
from hypothesis import given, settings
from hypothesis import strategies as st

from peerchain.execution import computation as computation_module
from peerchain.execution.computation import lean_computation

LEAN = lean_computation(PragueComputation)
PUSHES = st.sampled_from([0x5B, 0x60, 0x61, 0x7F, 0x00, 0x56])


class _State:
    """What a computation asks its state for when it is made."""

    coinbase = b"\x03" * 20

    def mark_address_warm(self, address: bytes) -> None:
        pass


def _computation(cls: type, code: bytes, gas: int = 10**6) -> object:
    message = Message(gas=gas, to=b"\x01" * 20, sender=b"\x02" * 20, value=0, data=b"", code=code)
    context = BaseTransactionContext(gas_price=1, origin=b"\x02" * 20)
    return cls(_State(), message, context)


@settings(max_examples=80, deadline=None)
@given(
    code=st.lists(PUSHES | st.integers(0, 255), min_size=1, max_size=120).map(bytes),
    first=st.lists(st.integers(0, 130), max_size=20),
    second=st.lists(st.integers(0, 130), max_size=20),
)
def test_shared_jump_analysis_answers_as_a_fresh_code_stream(
    code: bytes, first: list[int], second: list[int]
) -> None:
    one: object = _computation(LEAN, code)
    two: object = _computation(LEAN, bytes(code))  # the same code: the answers are shared
    for position in first:
        one.code.is_valid_opcode(position)  # type: ignore[attr-defined]
    for position in first + second:
        expected = CodeStream(code).is_valid_opcode(position)
        assert two.code.is_valid_opcode(position) == expected  # type: ignore[attr-defined]


def test_gas_is_charged_and_refused_as_py_evm_does() -> None:
    lean: object = _computation(LEAN, b"\x00", gas=100)
    plain: object = _computation(PragueComputation, b"\x00", gas=100)
    for computation in (lean, plain):
        computation.consume_gas(60, "first")  # type: ignore[attr-defined]
        with pytest.raises(OutOfGas, match="Needed 41 - Remaining 40 - Reason: second"):
            computation.consume_gas(41, "second")  # type: ignore[attr-defined]
        with pytest.raises(ValidationError, match="must be positive"):
            computation.consume_gas(-1, "third")  # type: ignore[attr-defined]
        computation.consume_gas(40, "last")  # type: ignore[attr-defined]
        assert computation.get_gas_remaining() == 0  # type: ignore[attr-defined]


@settings(max_examples=150, deadline=None)
@given(
    accesses=st.lists(
        st.tuples(
            st.integers(0, 160) | st.integers(0, 3000) | st.just(2**256),
            st.integers(0, 40) | st.integers(0, 300),
        ),
        max_size=12,
    )
)
def test_memory_grows_and_costs_as_py_evm_computes(accesses: list[tuple[int, int]]) -> None:
    outcomes = []
    for cls in (LEAN, PragueComputation):
        computation: object = _computation(cls, b"\x00", gas=3000)
        trail = []
        for start, size in accesses:
            try:
                computation.extend_memory(start, size)  # type: ignore[attr-defined]
                trail.append(("ok", computation.get_gas_remaining()))  # type: ignore[attr-defined]
            except (OutOfGas, ValidationError) as exc:
                trail.append((type(exc).__name__, 0))
            trail.append(("size", len(computation._memory)))  # type: ignore[attr-defined]
        outcomes.append(trail)
    assert outcomes[0] == outcomes[1]


def test_simple_opcodes_charge_as_py_evms_and_refuse_what_does_not_fit() -> None:
    charged = [op for op, fn in LEAN.opcodes.items() if fn is not PragueComputation.opcodes[op]]
    assert len(charged) > 100  # the arithmetic, stack, memory and flow opcodes
    add = LEAN.opcodes[0x01]
    assert (add.mnemonic, add.gas_cost) == ("ADD", 3)
    computation: object = _computation(LEAN, b"\x01", gas=5)
    computation.stack_push_int(2)  # type: ignore[attr-defined]
    computation.stack_push_int(3)  # type: ignore[attr-defined]
    add(computation)
    assert computation.get_gas_remaining() == 2  # type: ignore[attr-defined]
    assert computation.stack_pop1_int() == 5  # type: ignore[attr-defined]
    with pytest.raises(OutOfGas, match="Needed 3 - Remaining 2 - Reason: ADD"):
        add(computation)


@given(st.binary(max_size=64) | st.binary(max_size=64).map(bytearray))
def test_hex_text_of_py_evms_block_path_is_eth_utils(value: bytes) -> None:
    from eth.vm.logic import storage

    assert storage.encode_hex is computation_module._hex
    assert computation_module._hex(value) == encode_hex(value)


STACK_OPS = st.lists(
    st.tuples(st.sampled_from(["push_int", "push_bytes", "pop_ints", "pop1_int", "pop_any"]),
              st.integers(0, 2**256 - 1) | st.integers(2**256, 2**264) | st.just(-1),
              st.integers(1, 4) | st.integers(1020, 1030)),
    max_size=40,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(ops=STACK_OPS)
def test_the_stack_pops_integers_as_py_evms(ops: list[tuple[str, int, int]]) -> None:
    trails = []
    for stack in (Stack(), _computation(LEAN, b"\x00")._stack):  # type: ignore[attr-defined]
        trail: list[object] = []
        for name, value, count in ops:
            try:
                if name == "push_int":
                    for _ in range(count):
                        stack.push_int(value)
                elif name == "push_bytes":
                    size = max(value.bit_length() + 7, 8) // 8
                    for _ in range(count):
                        stack.push_bytes(value.to_bytes(size, "big", signed=value < 0))
                elif name == "pop1_int":
                    trail.append(stack.pop1_int())
                else:
                    trail.append(getattr(stack, name)(count))
            except (InsufficientStack, FullStack, ValidationError) as exc:
                trail.append(str(exc))
        trail.append(list(stack.values))
        trails.append(trail)
    assert trails[0] == trails[1]


def test_the_computations_stack_calls_are_its_stacks() -> None:
    computation: Any = _computation(LEAN, b"\x00")
    computation.stack_push_int(7)
    assert computation._stack.values == [7]
    assert computation.stack_pop_ints(1) == (7,)


@settings(max_examples=150, deadline=None)
@given(
    writes=st.lists(
        st.tuples(st.integers(0, 200) | st.just(2**256), st.integers(0, 70), st.integers(0, 3)),
        max_size=10,
    )
)
def test_memory_writes_as_py_evms(writes: list[tuple[int, int, int]]) -> None:
    trails = []
    for memory in (Memory(), _computation(LEAN, b"\x00")._memory):  # type: ignore[attr-defined]
        memory.extend(0, 128)
        trail: list[object] = []
        for start, size, shift in writes:
            value = bytes(range(size + shift - 1 if shift == 3 else size))  # 3: a wrong length
            try:
                memory.write(start, size, value)
                trail.append("ok")
            except ValidationError as exc:
                trail.append(str(exc))
        trails.append((trail, bytes(memory._bytes)))
    assert trails[0] == trails[1]
