"""JSON-RPC 2.0 envelopes: parse a body, route each call to its method, build the answer.

Theory of operation. `Dispatcher.handle_body(body, ctx)` takes the raw bytes of an HTTP
body or a WebSocket message and returns the bytes to send back, or None when nothing
is owed (only notifications). Nothing a client sends makes it raise:

- bytes that are not JSON (bad UTF-8, NaN, huge numbers) or nested deeper than
  `MAX_DEPTH` -> -32700, id null. The depth is checked before parsing because the
  node runs with py-evm's recursion limit of 100000, under which the C JSON parser
  overflows the C stack (a crash, not a RecursionError) on deep enough input;
- a value that is not a request object, a wrong "jsonrpc", a non-string method,
  an id that is not a string/number/null, params that are not an array -> -32600;
- an empty batch -> one -32600 error; a batch over `max_batch` -> one -32600 error;
- a method nobody registered -> -32601;
- a handler's `RpcError`/`PeerChainError` -> its code; anything else -> -32603
  (logged with its traceback, the client sees only "internal error").

Requests without an "id" member are notifications: they run, their answer is dropped.
Methods come in namespaces (`eth`, `net`, ...); `register_namespace` adds one, which
is how later features (`peerchain_*`, `admin_*`) plug in without touching this file.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from peerchain.rpc.encoding import InvalidValue
from peerchain.rpc.errors import (
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_ERROR,
    RpcError,
    invalid_params,
    to_rpc_error,
)
from peerchain.rpc.jsoncodec import encode_json

MAX_DEPTH = 64
# A JSON string, also an unterminated one; possessive, so matching stays linear.
_STRING = re.compile(rb'"(?:[^"\\]|\\.?)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


@dataclass(slots=True)
class CallContext:
    """What a handler may know about the connection a call came on.

    `notify(method, params)` sends a server-to-client notification; it is None on
    HTTP, where `eth_subscribe` is refused. `subscriptions` maps the ids of this
    connection's subscriptions to their cancel functions; `close` cancels them all
    when the connection ends. `refused` names the namespaces (`admin`) this connection
    may not call, with the reason."""

    notify: Callable[[str, Any], None] | None = None
    refused: Mapping[str, str] = field(default_factory=dict)
    subscriptions: dict[str, Callable[[], None]] = field(default_factory=dict)

    def close(self) -> None:
        cancels = list(self.subscriptions.values())
        self.subscriptions.clear()
        for cancel in cancels:
            cancel()


class Params:
    """The positional parameters of one call, parsed on demand with geth's messages."""

    __slots__ = ("_values",)

    def __init__(self, values: list[Any]) -> None:
        self._values = values

    def __len__(self) -> int:
        return len(self._values)

    def required(self, index: int, parse: Callable[[Any], Any]) -> Any:
        if index >= len(self._values) or self._values[index] is None:
            raise invalid_params(f"missing value for required argument {index}")
        return self._parse(index, parse)

    def optional(self, index: int, parse: Callable[[Any], Any], default: Any = None) -> Any:
        if index >= len(self._values) or self._values[index] is None:
            return default
        return self._parse(index, parse)

    def _parse(self, index: int, parse: Callable[[Any], Any]) -> Any:
        try:
            return parse(self._values[index])
        except InvalidValue as exc:
            raise invalid_params(f"invalid argument {index}: {exc}") from None


Handler = Callable[[Params, CallContext], Any]


@dataclass(frozen=True, slots=True)
class Method:
    """A handler and how many positional parameters it takes at most."""

    handler: Handler
    max_params: int = 0


@dataclass(frozen=True, slots=True)
class _Call:
    id: Any
    method: str
    params: list[Any] | dict[str, Any]
    is_notification: bool


class Dispatcher:
    """Routes JSON-RPC requests to registered methods."""

    def __init__(self, max_batch: int = 1000) -> None:
        self.max_batch = max_batch
        self._methods: dict[str, Method] = {}
        # Told of each answered call: (method, seconds, failed). Methods nobody registered
        # are named "other", so that clients cannot grow the set of names.
        self.on_call: Callable[[str, float, bool], None] | None = None

    def register_namespace(self, namespace: str, methods: Mapping[str, Method]) -> None:
        """Add methods `<namespace>_<name>` for each `name` in `methods`.

        Raises ValueError if a method of that name already exists."""
        for name, method in methods.items():
            full = f"{namespace}_{name}"
            if full in self._methods:
                raise ValueError(f"JSON-RPC method {full} is already registered")
            self._methods[full] = method

    @property
    def method_names(self) -> list[str]:
        return sorted(self._methods)

    async def handle_body(self, body: bytes | str, ctx: CallContext) -> bytes | None:
        """Answer a raw request body (single or batch); None if no answer is owed."""
        try:
            request = _loads(body)
        except (ValueError, RecursionError):
            return _error_response(None, RpcError(PARSE_ERROR, "parse error"))
        if isinstance(request, list):
            if not request:
                return _error_response(None, RpcError(INVALID_REQUEST, "empty batch"))
            if len(request) > self.max_batch:
                message = f"batch too large: limit {self.max_batch}"
                return _error_response(None, RpcError(INVALID_REQUEST, message))
            answers = [await self._answer(item, ctx) for item in request]
            kept = [a for a in answers if a is not None]
            return b"[" + b",".join(kept) + b"]" if kept else None
        return await self._answer(request, ctx)

    async def _answer(self, request: Any, ctx: CallContext) -> bytes | None:
        """The encoded answer to one request object, None for a notification."""
        try:
            call = _validate(request)
        except RpcError as exc:
            return _error_response(_salvage_id(request), exc)
        started = time.perf_counter()
        failed = False
        try:
            result = await self.call(call.method, call.params, ctx)
            response = _dumps({"jsonrpc": "2.0", "id": call.id, "result": result})
        except Exception as exc:  # every failure, encoding included, becomes an error object
            failed = True
            response = _error_response(call.id, to_rpc_error(exc))
        if self.on_call is not None:
            name = call.method if call.method in self._methods else "other"
            self.on_call(name, time.perf_counter() - started, failed)
        return None if call.is_notification else response

    async def call(self, method: str, params: list[Any] | dict[str, Any], ctx: CallContext) -> Any:
        """Run one method; raises RpcError (or whatever the handler raises)."""
        entry = self._methods.get(method)
        if entry is None:
            raise RpcError(
                METHOD_NOT_FOUND, f"the method {method[:100]} does not exist/is not available"
            )
        namespace = method.partition("_")[0]
        if namespace in ctx.refused:
            reason = ctx.refused[namespace]
            raise RpcError(SERVER_ERROR, f"{namespace}_ methods are refused here: {reason}")
        if not isinstance(params, list):
            raise invalid_params("non-array args")
        if len(params) > entry.max_params:
            raise invalid_params(f"too many arguments, want at most {entry.max_params}")
        result = entry.handler(Params(params), ctx)
        if inspect.isawaitable(result):
            result = await result
        return result


def _nesting_unsafe(body: bytes) -> bool:
    """Whether brackets outside strings nest deeper than about MAX_DEPTH or do not
    balance (then the body is no valid JSON anyway). Runs in C-speed passes."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return False
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(MAX_DEPTH):
        reduced = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if reduced == brackets:
            break
        brackets = reduced
    return bool(brackets)


def _loads(body: bytes | str) -> Any:
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if _nesting_unsafe(raw):
        raise ValueError("JSON nested too deep or unbalanced")

    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    def finite_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("number out of range")
        return value

    return json.loads(body, parse_constant=reject_constant, parse_float=finite_float)


def _dumps(value: Any) -> bytes:
    return encode_json(value)


def _valid_id(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, str | float)
        or (isinstance(value, int) and not isinstance(value, bool))
    )


def _salvage_id(request: Any) -> Any:
    if isinstance(request, dict) and _valid_id(request.get("id")):
        return request.get("id")
    return None


def _validate(request: Any) -> _Call:
    if not isinstance(request, dict):
        raise RpcError(INVALID_REQUEST, "invalid request: not an object")
    if request.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"')
    if not _valid_id(request.get("id")):
        raise RpcError(INVALID_REQUEST, "invalid request: id must be a string, number or null")
    method = request.get("method")
    if not isinstance(method, str):
        raise RpcError(INVALID_REQUEST, "invalid request: method must be a string")
    params = request.get("params")
    if params is None:
        params = []
    elif not isinstance(params, list | dict):
        raise RpcError(INVALID_REQUEST, "invalid request: params must be an array or object")
    return _Call(request.get("id"), method, params, "id" not in request)


def _error_response(request_id: Any, error: RpcError) -> bytes:
    return _dumps({"jsonrpc": "2.0", "id": request_id, "error": error.to_json()})
