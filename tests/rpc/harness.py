"""Drive the JSON-RPC layer in tests: through the dispatcher, or through a live aiohttp app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aiohttp.test_utils import TestClient, TestServer

from peerchain.node.view import MetricsExporter, NodeView
from peerchain.rpc import RpcConfig, create_app
from peerchain.rpc.api import build_dispatcher
from peerchain.rpc.dispatch import CallContext, Dispatcher
from peerchain.rpc.filters import FilterManager

T = TypeVar("T")


class Rpc:
    """A dispatcher over a view, called with Python values, answering decoded JSON."""

    def __init__(
        self, view: NodeView, config: RpcConfig | None = None, filters: FilterManager | None = None
    ) -> None:
        self.view = view
        self.filters = filters if filters is not None else FilterManager()
        self.dispatcher: Dispatcher = build_dispatcher(view, config or RpcConfig(), self.filters)

    async def answer(self, body: Any, ctx: CallContext | None = None) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        out = await self.dispatcher.handle_body(raw, ctx or CallContext())
        return None if out is None else json.loads(out)

    def request(self, method: str, *params: Any) -> dict[str, Any]:
        """The whole response object of one call."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        response = asyncio.run(self.answer(body))
        assert isinstance(response, dict)
        return response

    def __call__(self, method: str, *params: Any) -> Any:
        """The result of one call; fails the test on an error answer."""
        response = self.request(method, *params)
        assert "error" not in response, response
        return response["result"]

    def error(self, method: str, *params: Any) -> dict[str, Any]:
        """The error object of one call; fails the test on a result."""
        response = self.request(method, *params)
        assert "result" not in response, response
        return dict(response["error"])


@contextmanager
def live_app(
    view: NodeView, config: RpcConfig | None = None, metrics: MetricsExporter | None = None
) -> Iterator[LiveApp]:
    """A running app with a test client, on its own event loop, for sync tests."""
    loop = asyncio.new_event_loop()

    async def start() -> TestClient:
        app = create_app(view, config or RpcConfig(), metrics=metrics)
        client = TestClient(TestServer(app))
        await client.start_server()
        return client

    client = loop.run_until_complete(start())
    try:
        yield LiveApp(loop, client)
    finally:
        loop.run_until_complete(client.close())
        loop.close()


class LiveApp:
    def __init__(self, loop: asyncio.AbstractEventLoop, client: TestClient) -> None:
        self.loop = loop
        self.client = client

    def run(self, make: Callable[[TestClient], Awaitable[T]]) -> T:
        return self.loop.run_until_complete(make(self.client))

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """POST `body` as application/json unless `headers` say otherwise."""
        sent = {"Content-Type": "application/json", **(headers or {})}

        async def go(client: TestClient) -> tuple[int, bytes]:
            async with client.post("/", data=body, headers=sent) as response:
                return response.status, await response.read()

        return self.run(go)

    def get(self, path: str) -> tuple[int, str, bytes]:
        """GET `path`: status, content type and body."""

        async def go(client: TestClient) -> tuple[int, str, bytes]:
            async with client.get(path) as response:
                return response.status, response.headers["Content-Type"], await response.read()

        return self.run(go)

    def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)}
        status, raw = self.post(json.dumps(body).encode())
        assert status == 200
        return json.loads(raw)
