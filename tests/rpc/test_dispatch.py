"""JSON-RPC 2.0 envelope handling: parse errors, invalid requests, batches, notifications."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

import pytest

from peerchain.rpc.dispatch import CallContext, Dispatcher, Method, Params
from peerchain.rpc.encoding import parse_quantity


def _dispatcher() -> tuple[Dispatcher, list[Any]]:
    seen: list[Any] = []

    def echo(p: Params, ctx: CallContext) -> Any:
        value = p.required(0, parse_quantity)
        seen.append(value)
        return value

    async def later(p: Params, ctx: CallContext) -> str:
        await asyncio.sleep(0)
        return "done"

    def broken(p: Params, ctx: CallContext) -> None:
        raise ZeroDivisionError("private detail")

    def unencodable(p: Params, ctx: CallContext) -> object:
        return object()

    dispatcher = Dispatcher(max_batch=3)
    dispatcher.register_namespace(
        "test",
        {
            "echo": Method(echo, 1),
            "later": Method(later),
            "broken": Method(broken),
            "unencodable": Method(unencodable),
        },
    )
    return dispatcher, seen


def _answer(body: bytes | str) -> Any:
    dispatcher, _ = _dispatcher()
    out = asyncio.run(dispatcher.handle_body(body, CallContext()))
    return None if out is None else json.loads(out)


def _req(method: str, params: Any = None, id: Any = 1) -> dict[str, Any]:
    request: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        request["params"] = params
    return request


def _code(answer: Any) -> int:
    return int(answer["error"]["code"])


def test_success_echoes_id() -> None:
    assert _answer(json.dumps(_req("test_echo", ["0x5"], id="abc"))) == {
        "jsonrpc": "2.0",
        "id": "abc",
        "result": 5,
    }
    assert _answer(json.dumps(_req("test_later", id=None)))["result"] == "done"


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"",
        b"\xff\xfe\x00",
        b"NaN",
        b'{"jsonrpc":"2.0","id":1e400,"method":"test_later"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"id":' + b"9" * 5000 + b"}",
        b'{"jsonrpc":"2.0","id":1,"method":"test_later"} trailing',
    ],
)
def test_parse_errors(body: bytes) -> None:
    answer = _answer(body)
    assert answer == {"jsonrpc": "2.0", "id": None, "error": answer["error"]}
    assert _code(answer) == -32700


@pytest.mark.parametrize(
    ("request_", "answer_id"),
    [
        (1, None),
        ("x", None),
        ({"id": 1, "method": "test_later"}, 1),
        ({"jsonrpc": "1.0", "id": 1, "method": "test_later"}, 1),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, 1),
        ({"jsonrpc": "2.0", "id": 1}, 1),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "test_later"}, None),
        ({"jsonrpc": "2.0", "id": True, "method": "test_later"}, None),
        ({"jsonrpc": "2.0", "id": 2, "method": "test_later", "params": "0x1"}, 2),
    ],
)
def test_invalid_requests(request_: Any, answer_id: Any) -> None:
    answer = _answer(json.dumps(request_))
    assert _code(answer) == -32600
    assert answer["id"] == answer_id


def test_deep_nesting_is_refused_before_the_parser_sees_it() -> None:
    # py-evm raises the recursion limit to 100000 in the node process; under it the C
    # JSON parser overflows the C stack on deep input instead of raising.
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        for body in (b"[" * 200_000, b'{"a":' * 100_000, b"[" * 65 + b"]" * 65):
            assert _code(_answer(body)) == -32700
        shallow = '{"x":' * 30 + json.dumps(_req("test_later")) + "}" * 30
        assert _code(_answer(shallow.encode())) == -32600  # parsed: not a request
        in_string = json.dumps(_req("test_echo", ["[" * 1000]))
        assert _code(_answer(in_string)) == -32602  # brackets inside strings do not count
    finally:
        sys.setrecursionlimit(previous)


def test_unknown_method() -> None:
    answer = _answer(json.dumps(_req("eth_nothing")))
    assert _code(answer) == -32601
    assert "eth_nothing" in answer["error"]["message"]


def test_invalid_params() -> None:
    assert _answer(json.dumps(_req("test_echo", ["0x01"])))["error"] == {
        "code": -32602,
        "message": "invalid argument 0: hex number with leading zero digits",
    }
    assert _answer(json.dumps(_req("test_echo", [])))["error"]["message"] == (
        "missing value for required argument 0"
    )
    assert _answer(json.dumps(_req("test_echo", ["0x1", "0x2"])))["error"]["message"] == (
        "too many arguments, want at most 1"
    )
    assert _code(_answer(json.dumps(_req("test_echo", {"a": "0x1"})))) == -32602


def test_internal_error_hides_details(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        answer = _answer(json.dumps(_req("test_broken")))
    assert answer["error"] == {"code": -32603, "message": "internal error"}
    assert "private detail" not in json.dumps(answer)
    assert "ZeroDivisionError" in caplog.text


def test_unencodable_result_is_an_internal_error_in_its_own_answer() -> None:
    answers = _answer(json.dumps([_req("test_unencodable", id=1), _req("test_later", id=2)]))
    assert answers[0]["error"]["code"] == -32603 and answers[1]["result"] == "done"


def test_batch_answers_in_order_and_skips_notifications() -> None:
    dispatcher, seen = _dispatcher()
    body = json.dumps(
        [
            _req("test_echo", ["0x1"], id=1),
            {"jsonrpc": "2.0", "method": "test_echo", "params": ["0x2"]},
            _req("nope", id=3),
        ]
    )
    out = asyncio.run(dispatcher.handle_body(body, CallContext()))
    assert out is not None
    answers = json.loads(out)
    assert [a["id"] for a in answers] == [1, 3]
    assert answers[0]["result"] == 1 and _code(answers[1]) == -32601
    assert seen == [1, 2]  # the notification ran


def test_batch_edge_cases() -> None:
    empty = _answer(b"[]")
    assert isinstance(empty, dict) and _code(empty) == -32600
    too_big = _answer(json.dumps([_req("test_later")] * 4))
    assert isinstance(too_big, dict) and _code(too_big) == -32600
    garbage = _answer(b"[1, 2]")
    assert [_code(a) for a in garbage] == [-32600, -32600]
    only_notifications = [{"jsonrpc": "2.0", "method": "test_echo", "params": ["0x1"]}]
    assert _answer(json.dumps(only_notifications)) is None


def test_notifications_get_no_answer_even_on_error() -> None:
    assert _answer(json.dumps({"jsonrpc": "2.0", "method": "test_broken"})) is None
    assert _answer(json.dumps({"jsonrpc": "2.0", "method": "nope"})) is None


def test_namespaces_cannot_clash() -> None:
    dispatcher, _ = _dispatcher()
    dispatcher.register_namespace("other", {"echo": Method(lambda p, c: 1)})
    assert "other_echo" in dispatcher.method_names
    with pytest.raises(ValueError, match="already registered"):
        dispatcher.register_namespace("test", {"echo": Method(lambda p, c: 2)})


def test_context_close_cancels_subscriptions() -> None:
    cancelled: list[str] = []
    ctx = CallContext()
    ctx.subscriptions["a"] = lambda: cancelled.append("a")
    ctx.subscriptions["b"] = lambda: cancelled.append("b")
    ctx.close()
    ctx.close()
    assert cancelled == ["a", "b"] and not ctx.subscriptions
