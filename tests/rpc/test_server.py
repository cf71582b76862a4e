"""The aiohttp server: HTTP and WebSocket on one path, limits, CORS, subscriptions."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from peerchain.core.errors import ListenError
from peerchain.rpc import RpcConfig, dispatcher_of, serve
from peerchain.rpc.dispatch import Method

from .fake_view import OTHER, TOKEN, FakeNodeView
from .harness import live_app

JSON = {"Content-Type": "application/json"}


def _body(method: str, *params: Any, id: Any = 1) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": id, "method": method, "params": list(params)}
    ).encode()


def test_http_single_and_batch() -> None:
    with live_app(FakeNodeView()) as app:
        status, raw = app.post(_body("eth_chainId"))
        assert status == 200 and json.loads(raw) == {"jsonrpc": "2.0", "id": 1, "result": "0x539"}
        batch = b"[" + _body("eth_blockNumber", id=1) + b"," + _body("nope", id=2) + b"]"
        status, raw = app.post(batch)
        answers = json.loads(raw)
        assert [a.get("result") for a in answers] == ["0x2", None]
        assert answers[1]["error"]["code"] == -32601


def test_http_notifications_get_204() -> None:
    with live_app(FakeNodeView()) as app:
        status, raw = app.post(b'{"jsonrpc":"2.0","method":"eth_chainId"}')
        assert (status, raw) == (204, b"")


def test_oversized_bodies_are_refused_with_a_jsonrpc_error() -> None:
    with live_app(FakeNodeView(), RpcConfig(max_body_bytes=1000)) as app:
        big = _body("eth_sendRawTransaction", "0x" + "ab" * 2000)
        status, raw = app.post(big)
        assert status == 413
        answer = json.loads(raw)
        assert answer["error"]["code"] == -32600 and "too large" in answer["error"]["message"]

        async def chunked(client: TestClient) -> int:
            async def gen() -> Any:
                for _ in range(10):
                    yield b" " * 500

            async with client.post("/", data=gen(), headers=JSON) as response:
                return response.status

        assert app.run(chunked) == 413
        assert app.call("eth_chainId")["result"] == "0x539"


def test_get_without_upgrade_and_health() -> None:
    with live_app(FakeNodeView()) as app:

        async def get(client: TestClient) -> tuple[int, Any, int, Any]:
            async with client.get("/") as plain, client.get("/health") as health:
                return plain.status, await plain.json(), health.status, await health.json()

        status, body, health_status, health = app.run(get)
        assert status == 405 and body["error"]["code"] == -32600
        assert health_status == 200 and health["status"] == "ok" and health["blockNumber"] == 2


def test_cors_is_off_by_default_and_configurable() -> None:
    origin = {"Origin": "http://dapp.example"}

    def headers_for(config: RpcConfig) -> tuple[Any, Any]:
        with live_app(FakeNodeView(), config) as app:

            async def go(client: TestClient) -> tuple[Any, Any]:
                async with client.post(
                    "/", data=_body("eth_chainId"), headers={**origin, **JSON}
                ) as post:
                    preflight_headers = {
                        **origin,
                        "Access-Control-Request-Method": "POST",
                        "Access-Control-Request-Headers": "content-type",
                    }
                    async with client.options("/", headers=preflight_headers) as pre:
                        return dict(post.headers), dict(pre.headers)

            return app.run(go)

    post, preflight = headers_for(RpcConfig())
    assert (
        "Access-Control-Allow-Origin" not in post and "Access-Control-Allow-Origin" not in preflight
    )
    post, preflight = headers_for(RpcConfig(cors_origins=("http://dapp.example",)))
    assert post["Access-Control-Allow-Origin"] == "http://dapp.example"
    assert preflight["Access-Control-Allow-Methods"] == "POST, GET, OPTIONS"
    assert preflight["Access-Control-Allow-Headers"] == "content-type"
    post, _ = headers_for(RpcConfig(cors_origins=("*",)))
    assert post["Access-Control-Allow-Origin"] == "*"


async def _ws_call(ws: aiohttp.ClientWebSocketResponse, method: str, *params: Any) -> Any:
    await ws.send_str(_body(method, *params, id=method).decode())
    while True:
        message = json.loads(await ws.receive_str())
        if message.get("id") == method:
            return message


def test_websocket_requests_on_the_same_path() -> None:
    with live_app(FakeNodeView()) as app:

        async def go(client: TestClient) -> list[Any]:
            async with client.ws_connect("/") as ws:
                single = await _ws_call(ws, "eth_blockNumber")
                await ws.send_str("[" + _body("eth_chainId", id=5).decode() + "]")
                batch = json.loads(await ws.receive_str())
                await ws.send_str("{not json")
                garbage = json.loads(await ws.receive_str())
                await ws.send_bytes(_body("net_version", id=6))
                binary = json.loads(await ws.receive_str())
                return [single, batch, garbage, binary]

        single, batch, garbage, binary = app.run(go)
        assert single["result"] == "0x2"
        assert batch == [{"jsonrpc": "2.0", "id": 5, "result": "0x539"}]
        assert garbage["error"]["code"] == -32700
        assert binary["result"] == "1337"


def test_websocket_subscriptions() -> None:
    view = FakeNodeView()
    with live_app(view) as app:

        async def go(client: TestClient) -> dict[str, Any]:
            async with client.ws_connect("/") as ws:
                heads = (await _ws_call(ws, "eth_subscribe", "newHeads"))["result"]
                logs = (
                    await _ws_call(ws, "eth_subscribe", "logs", {"address": "0x" + TOKEN.hex()})
                )["result"]
                other = (
                    await _ws_call(ws, "eth_subscribe", "logs", {"address": "0x" + OTHER.hex()})
                )["result"]
                pending = (await _ws_call(ws, "eth_subscribe", "newPendingTransactions"))["result"]
                full = (await _ws_call(ws, "eth_subscribe", "newPendingTransactions", True))[
                    "result"
                ]
                tx_hash = (await _ws_call(ws, "eth_sendRawTransaction", "0x02ab"))["result"]
                view.mine_pending()
                got: dict[str, list[Any]] = {}
                while len(got.get(heads, [])) < 1 or len(got.get(logs, [])) < 1:
                    note = json.loads(await ws.receive_str())
                    assert note["method"] == "eth_subscription"
                    got.setdefault(note["params"]["subscription"], []).append(
                        note["params"]["result"]
                    )
                assert (await _ws_call(ws, "eth_unsubscribe", heads))["result"] is True
                assert (await _ws_call(ws, "eth_unsubscribe", heads))["result"] is False
                view.mine_pending()
                # The next answer arrives after any notification of the new block.
                await _ws_call(ws, "eth_chainId")
                return {"got": got, "ids": (heads, logs, other, pending, full), "tx": tx_hash}

        result = app.run(go)
        heads, logs, other, pending, full = result["ids"]
        got = result["got"]
        assert len(set(result["ids"])) == 5
        assert [h["number"] for h in got[heads]] == ["0x3"]
        assert [log["address"] for log in got[logs]] == ["0x" + TOKEN.hex()]
        assert other not in got
        assert got[pending] == [result["tx"]]
        assert got[full][0]["hash"] == result["tx"] and got[full][0]["blockHash"] is None
    assert all(not callbacks for callbacks in view.subscribers.values())


def test_closing_a_websocket_cancels_its_subscriptions() -> None:
    view = FakeNodeView()
    with live_app(view) as app:

        async def go(client: TestClient) -> int:
            async with client.ws_connect("/") as ws:
                await _ws_call(ws, "eth_subscribe", "newHeads")
                await _ws_call(ws, "eth_subscribe", "logs")
                count = len(view.subscribers["newHeads"])
            # The server sees the close before it answers the next request.
            assert (await client.post("/", data=_body("eth_chainId"), headers=JSON)).status == 200
            return count

        during = app.run(go)
        assert during == 2  # the filter manager's feed and the subscription
        assert len(view.subscribers["newHeads"]) == 1
        assert len(view.subscribers["logs"]) == 1


def test_websocket_origins() -> None:
    with live_app(FakeNodeView(), RpcConfig(cors_origins=("https://app.example",))) as app:

        async def status(client: TestClient, origin: str) -> int:
            try:
                async with client.ws_connect("/", headers={"Origin": origin}) as ws:
                    await ws.close()
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

        assert app.run(lambda c: status(c, "https://evil.example")) == 403
        assert app.run(lambda c: status(c, "https://app.example")) == 101
        assert app.run(lambda c: status(c, "http://localhost:3000")) == 101


def test_oversized_websocket_message_closes_only_that_connection() -> None:
    with live_app(FakeNodeView(), RpcConfig(max_body_bytes=1000)) as app:

        async def go(client: TestClient) -> Any:
            async with client.ws_connect("/") as ws:
                await ws.send_str(" " * 2000)
                closed = await ws.receive()
            return closed.type, ws.close_code

        kind, code = app.run(go)
        assert kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        assert app.call("eth_chainId")["result"] == "0x539"


def test_extra_namespaces_plug_in() -> None:
    with live_app(FakeNodeView()) as app:
        dispatcher = dispatcher_of(app.client.server.app)
        dispatcher.register_namespace("peerchain", {"hello": Method(lambda p, ctx: "hi")})
        assert app.call("peerchain_hello")["result"] == "hi"


def test_serve_binds_loopback_and_closes() -> None:
    async def go() -> tuple[str, Any]:
        server = await serve(FakeNodeView(), RpcConfig(port=0))
        host = server.runner.addresses[0][0]
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{server.port}/"
            async with session.post(url, data=_body("eth_chainId"), headers=JSON) as response:
                answer = await response.json()
            async with session.ws_connect(url) as ws:
                await server.close()
                closing = await ws.receive()
        return host, (answer["result"], closing.type)

    host, (result, closing) = asyncio.run(go())
    assert host == "127.0.0.1" and result == "0x539"
    assert closing in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


def test_slow_subscriber_is_disconnected() -> None:
    view = FakeNodeView()
    with live_app(view, RpcConfig(ws_send_queue=1)) as app:

        async def go(client: TestClient) -> Any:
            async with client.ws_connect("/") as ws:
                await _ws_call(ws, "eth_subscribe", "newHeads")
                for _ in range(20):
                    view.mine_pending()  # notifications pile up faster than they leave
                while True:
                    message = await ws.receive()
                    if message.type != aiohttp.WSMsgType.TEXT:
                        return ws.close_code

        code = app.run(go)
        assert code == aiohttp.WSCloseCode.TRY_AGAIN_LATER
        assert len(view.subscribers["newHeads"]) == 1  # only the filter feed is left


def test_non_json_content_types_get_415_as_geth_answers() -> None:
    """A page can POST text/plain or a form cross-site without a CORS preflight."""
    with live_app(FakeNodeView()) as app:
        for content_type in (
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ):
            status, raw = app.post(_body("eth_accounts"), {"Content-Type": content_type})
            assert status == 415, content_type
            assert json.loads(raw)["error"]["message"].startswith("invalid content type")
        for accepted in ("application/json; charset=utf-8", "application/json-rpc"):
            status, raw = app.post(_body("eth_chainId"), {"Content-Type": accepted})
            assert (status, json.loads(raw)["result"]) == (200, "0x539")


def test_admin_methods_are_refused_from_origins_not_named() -> None:
    view = FakeNodeView()
    for config, origin, refused in (
        (RpcConfig(), "http://evil.example", True),
        (RpcConfig(cors_origins=("*",)), "http://evil.example", True),
        (RpcConfig(cors_origins=("http://ops.example",)), "http://ops.example", False),
        (RpcConfig(), None, False),  # not from a browser page
    ):
        with live_app(view, config) as app:
            dispatcher_of(app.client.app).register_namespace(
                "admin", {"peers": Method(lambda p, c: [])}
            )
            headers = {} if origin is None else {"Origin": origin}
            status, raw = app.post(_body("admin_peers"), headers)
            answer = json.loads(raw)
            assert status == 200
            if refused:
                assert "admin_ methods are refused" in answer["error"]["message"]
            else:
                assert answer["result"] == []
            _, raw = app.post(_body("eth_chainId"), headers)
            assert json.loads(raw)["result"] == "0x539"


def test_a_port_in_use_is_a_listen_error_naming_it() -> None:
    async def scenario(port: int) -> str:
        with pytest.raises(ListenError) as error:
            await serve(FakeNodeView(), RpcConfig(host="127.0.0.1", port=port))
        return str(error.value)

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        message = asyncio.run(scenario(port))
    assert message == (
        f"cannot listen for JSON-RPC on 127.0.0.1:{port}: Address already in use; "
        "choose another port"
    )
