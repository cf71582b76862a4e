"""Malformed JSON-RPC bodies at the running app: every answer is a proper JSON-RPC
response, no garbage produces an internal error, and the app keeps serving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peerchain.rpc import RpcConfig
from peerchain.rpc.api import build_dispatcher
from peerchain.rpc.filters import FilterManager

from .fake_view import FakeNodeView
from .harness import LiveApp, live_app

LIMIT = 8192
CLIENT_ERRORS = {-32700, -32600, -32601, -32602, -32000, -32005, 3}
METHODS = build_dispatcher(FakeNodeView(), RpcConfig(), FilterManager()).method_names
FIELDS = [
    "from", "to", "data", "input", "gas", "gasPrice", "value", "nonce", "type",
    "accessList", "blockHash", "blockNumber", "requireCanonical", "fromBlock", "toBlock",
    "address", "topics", "storageKeys",
]  # fmt: skip

hexish = st.one_of(
    st.just("0x"),
    st.from_regex(r"0x[0-9a-fA-F]{0,70}", fullmatch=True),
    st.from_regex(r"0[xX][0-9a-zA-Z ]{0,12}", fullmatch=True),
    st.sampled_from(["latest", "pending", "earliest", "safe", "finalized", "0x" + "f" * 64]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**300), max_value=2**300),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    hexish,
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.one_of(st.integers(), st.text(max_size=8), st.none(), st.booleans(), st.just([1]))


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    request = {
        "jsonrpc": draw(st.sampled_from(["2.0", "2.0", "2.0", "1.0", 2])),
        "id": draw(ids),
        "method": draw(st.sampled_from(METHODS) | st.text(max_size=12)),
        "params": draw(st.lists(values, max_size=4) | values),
    }
    keep = draw(st.sets(st.sampled_from(sorted(request)), min_size=2))
    return {k: v for k, v in request.items() if k in keep or k == "method"}


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode()


bodies = st.one_of(
    st.binary(max_size=200),
    values.map(_dump),
    requests().map(_dump),
    st.lists(requests(), max_size=5).map(_dump),
    st.tuples(requests().map(_dump), st.integers(min_value=0, max_value=60)).map(
        lambda pair: pair[0][: pair[1]]
    ),
    st.integers(min_value=LIMIT, max_value=3 * LIMIT).map(
        lambda n: b"[" + b"1," * (n // 2) + b"1]"
    ),
    st.integers(min_value=1, max_value=5000).map(lambda n: b"[" * n + b"]" * n),
)


@pytest.fixture(scope="module")
def app() -> Iterator[LiveApp]:
    with live_app(FakeNodeView(), RpcConfig(max_body_bytes=LIMIT, max_batch=50)) as running:
        yield running


def _check_response(answer: Any) -> None:
    assert isinstance(answer, dict), answer
    assert answer["jsonrpc"] == "2.0" and "id" in answer
    assert ("result" in answer) != ("error" in answer), answer
    if "error" in answer:
        error = answer["error"]
        assert isinstance(error["code"], int) and isinstance(error["message"], str)
        assert error["code"] in CLIENT_ERRORS, answer


def _check(app: LiveApp, body: bytes) -> None:
    status, raw = app.post(body)
    if len(body) > LIMIT:
        assert status == 413
    assert status in (200, 204, 413), (status, raw)
    if status == 204:
        assert raw == b""
    else:
        answer = json.loads(raw)
        if isinstance(answer, list):
            assert answer, "a batch answer is never empty"
            for item in answer:
                _check_response(item)
        else:
            _check_response(answer)
    still = app.call("eth_chainId")
    assert still["result"] == "0x539"


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(bodies)
def test_malformed_bodies_get_jsonrpc_errors(app: LiveApp, body: bytes) -> None:
    _check(app, body)


@pytest.mark.slow
@settings(
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(bodies)
def test_malformed_bodies_soak(app: LiveApp, body: bytes) -> None:
    _check(app, body)
