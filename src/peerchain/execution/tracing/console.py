"""Hardhat's console.log: calls to the console address decoded into text.

Contracts that import hardhat/console.sol (or forge-std's console) make a static call to
0x000000000000000000636F6e736F6c652e6c6f67 with the ABI-encoded arguments of one of
console.sol's `log*` functions. The address has no code, so the call does nothing on
chain; a dev node shows the text, as Hardhat and Anvil do. `capturing(vm_class)` is a
VM class that hands each such call's text to the sink set around the execution by
`sink_to`; `decode_console_call` turns calldata into the line Hardhat prints (its
util.format rules for %s, %d, %i, %o).

Calls, estimates and traced calls run in query workers: `printing(engine, method, ...)`
runs one of the engine's methods with a bounded `ConsoleLines` collector and answers a
`Printed` (the result or the execution error, with the lines), which pickles back to
the node that logs the lines.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from eth.abc import ComputationAPI, MessageAPI

from peerchain.core.crypto import checksum_address, keccak256
from peerchain.core.queries import ExecutionFailed, ExecutionReverted

T = TypeVar("T")

CONSOLE_ADDRESS = bytes.fromhex("000000000000000000636F6e736F6c652e6c6f67")
_COMBINED = ("uint256", "string", "bool", "address")
# The most text one query or built block carries back: a contract can print the same
# megabyte of memory thousands of times within the gas cap.
MAX_CONSOLE_CHARS = 1 << 20
# The most console calldata one of them decodes, as a multiple of the text limit: a word
# can print as one character, so the text limit alone does not bound the decoding work.
_READ_PER_CHAR = 8
_SINGLE = ("int256", "bytes", *(f"bytes{n}" for n in range(1, 33)))
_NAMED = {
    "logInt": "int256",
    "logUint": "uint256",
    "logString": "string",
    "logBool": "bool",
    "logAddress": "address",
    "logBytes": "bytes",
    **{f"logBytes{n}": f"bytes{n}" for n in range(1, 33)},
}


def _signatures() -> dict[bytes, tuple[str, ...]]:
    """Selector -> argument types of every console.sol function, also in the old
    spelling with `uint`/`int` that early console.sol versions hashed."""
    forms: list[tuple[str, tuple[str, ...]]] = [("log", ())]
    forms += [("log", (t,)) for t in (*_COMBINED, *_SINGLE)]
    forms += [(name, (t,)) for name, t in _NAMED.items()]
    for count in (2, 3, 4):
        forms += [("log", combo) for combo in itertools.product(_COMBINED, repeat=count)]
    table: dict[bytes, tuple[str, ...]] = {}
    for name, types in forms:
        for spelling in (types, tuple(re.sub(r"^(u?int)256$", r"\1", t) for t in types)):
            selector = keccak256(f"{name}({','.join(spelling)})".encode())[:4]
            table.setdefault(selector, types)
    return table


SIGNATURES = _signatures()


def _word(data: bytes, offset: int) -> int:
    if offset + 32 > len(data):
        raise ValueError("calldata too short")
    return int.from_bytes(data[offset : offset + 32], "big")


def _value(kind: str, args: bytes, head: int) -> Any:
    word = _word(args, head)
    if kind == "uint256":
        return word
    if kind == "int256":
        return word - 2**256 if word >= 2**255 else word
    if kind == "bool":
        return word != 0
    if kind == "address":
        return checksum_address((word % 2**160).to_bytes(20, "big"))
    if kind in ("string", "bytes"):
        length = _word(args, word)
        if word + 32 + length > len(args):
            raise ValueError("calldata too short")
        raw = args[word + 32 : word + 32 + length]
        return raw.decode("utf-8", errors="replace") if kind == "string" else "0x" + raw.hex()
    size = int(kind.removeprefix("bytes"))
    return "0x" + args[head : head + size].hex()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _format(values: list[Any]) -> str:
    """Node's util.format, which Hardhat applies to the arguments."""
    if not values or not isinstance(values[0], str) or "%" not in values[0]:
        return " ".join(_text(v) for v in values)
    rest = list(values[1:])

    def substitute(match: re.Match[str]) -> str:
        spec = match.group(1)
        if spec == "%" or not rest:
            return "%" if spec == "%" else match.group(0)
        value = rest.pop(0)
        if spec in "di" and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if spec in "di":
            return "NaN"
        return (
            _text(value)
            if spec in "sc"
            else repr(value)
            if isinstance(value, str)
            else _text(value)
        )

    head = re.sub(r"%([sdioOjc%])", substitute, values[0])
    return " ".join([head, *(_text(v) for v in rest)])


def decode_console_call(data: bytes) -> str | None:
    """The line Hardhat prints for console calldata, or None if it is not a console call."""
    types = SIGNATURES.get(data[:4])
    if types is None:
        return None
    args = data[4:]
    try:
        values = [_value(kind, args, 32 * i) for i, kind in enumerate(types)]
    except ValueError:
        return None
    return _format(values)


# The sink of the execution running in this thread or task, if any.
_SINK: ContextVar[ConsoleLines | None] = ContextVar("console_sink", default=None)


@contextmanager
def sink_to(sink: ConsoleLines | None) -> Iterator[None]:
    """Hand the console.log calls of executions by `capturing` VMs inside the block (in
    this thread or task) to `sink` (to nothing if None)."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


def capturing(vm_class: Any) -> Any:
    """`vm_class` with every console.log call's text handed to the current `sink_to`
    sink as it runs. Make it once and keep it: creating the classes costs more than
    executing a block of one transfer."""
    state_class = vm_class.get_state_class()
    base: Any = state_class.computation_class

    def generate_child_computation(self: Any, child_msg: MessageAPI) -> ComputationAPI:
        sink = _SINK.get() if child_msg.code_address == CONSOLE_ADDRESS else None
        if sink is not None:
            sink.take(bytes(child_msg.data))
        child: ComputationAPI = base.generate_child_computation(self, child_msg)
        return child

    computation = type(
        f"Console{base.__name__}",
        (base,),
        {"generate_child_computation": generate_child_computation},
    )
    return vm_class.configure(_state_class=state_class.configure(computation_class=computation))


class ConsoleLines:
    """The console.log lines of one query or built block: at most `limit` characters in
    all, from at most `_READ_PER_CHAR` times as many bytes of calldata (calls past either
    are counted, not kept), and none after `stop` (an estimate keeps the lines of its run
    with all the gas, not those of every trial)."""

    def __init__(self, limit: int = MAX_CONSOLE_CHARS) -> None:
        self._lines: list[str] = []
        self._left = limit
        self._unread = _READ_PER_CHAR * limit
        self._dropped = 0
        self._stopped = False

    def take(self, calldata: bytes) -> None:
        """Keep the line of a call to the console address, if it is a console call."""
        if self._stopped:
            return
        if len(calldata) > self._unread:
            self._dropped += 1
            return
        self._unread -= len(calldata)
        text = decode_console_call(calldata)
        if text is not None:
            self.append(text)

    def append(self, text: str) -> None:
        if self._stopped:
            return
        if len(text) > self._left:
            self._dropped += 1
            return
        self._left -= len(text)
        self._lines.append(text)

    def stop(self) -> None:
        self._stopped = True

    def lines(self) -> tuple[str, ...]:
        """The lines kept, and one saying how many were not."""
        if not self._dropped:
            return tuple(self._lines)
        return (*self._lines, f"({self._dropped} more console.log lines not shown)")


@dataclass(frozen=True, slots=True)
class Printed(Generic[T]):
    """A query's result, or the execution error it ended with, and the console.log lines
    its run printed (shown whichever way it ended)."""

    lines: tuple[str, ...]
    value: T | None = None
    error: ExecutionReverted | ExecutionFailed | None = None

    def result(self) -> T:
        """The result; raises the execution error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


def printing(engine: Any, method: Callable[..., T], *args: Any, **kwargs: Any) -> Printed[T]:
    """`method(engine, *args, console=..., **kwargs)` (the engine's `call`, `estimate_gas`
    or `trace_call`) with the console.log lines it printed. A query: runs in a worker."""
    console = ConsoleLines()
    try:
        value = method(engine, *args, console=console, **kwargs)
    except (ExecutionReverted, ExecutionFailed) as exc:
        return Printed(console.lines(), error=exc)
    return Printed(console.lines(), value)
