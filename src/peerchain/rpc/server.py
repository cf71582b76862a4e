"""JSON-RPC over HTTP and WebSocket on one port (aiohttp; the only module importing it).

Routes:
- `POST /`: one JSON-RPC request or a batch in the body, with a JSON content type
  (`application/json`, as geth also accepts `application/json-rpc` and
  `application/jsonrequest`); answer 200 with JSON, 204 when only notifications were
  sent, 413 (with a JSON-RPC error body) over `max_body_bytes`, 415 for any other
  content type: a web page can send a form or text/plain POST cross-site without a
  CORS preflight, a JSON one it cannot.
- `admin_*` calls are refused on requests (and WebSockets) from a browser origin that
  is not listed by name in `cors_origins` ("*" does not count).
- `GET /` with `Upgrade: websocket`: the same requests as WebSocket text messages,
  plus eth_subscribe notifications. Requests on one connection are answered in order.
- `GET /` without an upgrade: the explorer's `index.html` when the app was given an
  explorer directory, else 405. `GET /explorer/{name}`: the explorer's other files
  (only the files directly in that directory, read once at start), with a
  Content-Security-Policy that allows same-origin scripts, styles and connections only.
- `GET /health` (live) and `GET /ready?minPeers=N&maxBlocksBehind=M` (ready to serve):
  JSON, 200 or 503 (see peerchain.rpc.health); `GET /metrics`: Prometheus text, when
  the app was given the node's metrics. `serve_operator` serves these three alone on
  another address.
- `OPTIONS /`: CORS preflight.

Handlers call the `NodeView` on the event loop thread, one request at a time;
events from `NodeView.subscribe` may arrive from any thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from peerchain.core.errors import ListenError
from peerchain.node.view import MetricsExporter, NodeHealth, NodeView
from peerchain.rpc.api import RpcConfig, build_dispatcher
from peerchain.rpc.dispatch import CallContext, Dispatcher
from peerchain.rpc.errors import INVALID_REQUEST
from peerchain.rpc.filters import FilterManager
from peerchain.rpc.health import liveness, readiness
from peerchain.rpc.jsoncodec import encode_json

__all__ = [
    "DISPATCHER",
    "RpcConfig",
    "RpcServer",
    "create_app",
    "dispatcher_of",
    "serve",
    "serve_operator",
]

log = logging.getLogger(__name__)

DISPATCHER = web.AppKey("dispatcher", Dispatcher)
_CONFIG = web.AppKey("config", RpcConfig)
_SOCKETS = web.AppKey("sockets", set[web.WebSocketResponse])
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
_READ_CHUNK = 64 * 1024
_JSON_TYPES = {"application/json", "application/json-rpc", "application/jsonrequest"}


def create_app(
    view: NodeView,
    config: RpcConfig | None = None,
    *,
    explorer_dir: Path | None = None,
    metrics: MetricsExporter | None = None,
) -> web.Application:
    """An aiohttp application serving the JSON-RPC API of `view`, and the explorer's
    files from `explorer_dir` (see `peerchain.explorer.STATIC_DIR`) when given; with
    `metrics`, each call is counted there and `/metrics` serves them.

    Add methods later with `dispatcher_of(app).register_namespace(name, methods)`.
    Raises OSError when `explorer_dir` or its `index.html` cannot be read."""
    config = config or RpcConfig()
    filters = FilterManager(timeout=config.filter_timeout)
    app = web.Application(client_max_size=config.max_body_bytes)
    app[DISPATCHER] = build_dispatcher(view, config, filters)
    if metrics is not None:
        app[DISPATCHER].on_call = metrics.rpc_called
    app[_CONFIG] = config
    app[_SOCKETS] = set()
    if explorer_dir is not None:
        app[_EXPLORER] = _load_static(explorer_dir)
        app.router.add_get("/explorer/{name}", _handle_static)
    app.router.add_post("/", _handle_http)
    app.router.add_get("/", _handle_get)
    app.router.add_route("OPTIONS", "/", _handle_preflight)
    _add_operator_routes(app, view, metrics)

    async def attach_filters(app: web.Application) -> Any:
        detach = filters.attach(view)
        yield
        detach()

    async def close_sockets(app: web.Application) -> None:
        sockets: set[web.WebSocketResponse] = app[_SOCKETS]
        for ws in list(sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    app.cleanup_ctx.append(attach_filters)
    app.on_shutdown.append(close_sockets)
    return app


def dispatcher_of(app: web.Application) -> Dispatcher:
    """The dispatcher of an app from `create_app` (to register more namespaces)."""
    return app[DISPATCHER]


class RpcServer:
    """A running JSON-RPC server (what `serve` returns)."""

    def __init__(self, runner: web.AppRunner) -> None:
        self.runner = runner

    @property
    def app(self) -> web.Application:
        return self.runner.app

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful when configured with port 0)."""
        return int(self.runner.addresses[0][1])

    async def close(self) -> None:
        """Close WebSockets, stop listening and release the port."""
        await self.runner.cleanup()


async def serve(
    view: NodeView,
    config: RpcConfig | None = None,
    *,
    explorer_dir: Path | None = None,
    metrics: MetricsExporter | None = None,
) -> RpcServer:
    """Start serving `view` (and the explorer from `explorer_dir`, and `metrics`, if
    given) on `config.host:config.port`; stop with `await server.close()`."""
    config = config or RpcConfig()
    app = create_app(view, config, explorer_dir=explorer_dir, metrics=metrics)
    server = await _start(app, config.host, config.port, "JSON-RPC")
    extra = ", explorer at /" if explorer_dir is not None else ""
    log.info("JSON-RPC on http://%s:%d (HTTP and WebSocket%s)", config.host, server.port, extra)
    return server


async def serve_operator(
    view: NodeView, metrics: MetricsExporter, host: str, port: int
) -> RpcServer:
    """Serve only `/metrics`, `/health` and `/ready` on `host:port` (node.toml `metrics`)."""
    app = web.Application()
    _add_operator_routes(app, view, metrics)
    server = await _start(app, host, port, "metrics")
    log.info("metrics, health and readiness on http://%s:%d", host, server.port)
    return server


async def _start(app: web.Application, host: str, port: int, what: str) -> RpcServer:
    """Serve `app` on host:port. Raises ListenError when the address cannot be bound."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ListenError(what, host, port, reason, "choose another port") from exc
    return RpcServer(runner)


# --- HTTP ----------------------------------------------------------------------------
def _error_body(code: int, message: str) -> bytes:
    error = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    return encode_json(error)


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None if it exceeds `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(_READ_CHUNK):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def _handle_http(request: web.Request) -> web.StreamResponse:
    config = request.app[_CONFIG]
    headers = _cors_headers(request, config)
    if request.content_type not in _JSON_TYPES:
        message = f"invalid content type {request.content_type!r}, only application/json"
        return web.Response(
            status=415,
            body=_error_body(INVALID_REQUEST, message),
            content_type="application/json",
            headers=headers,
        )
    body = await _read_limited(request, config.max_body_bytes)
    if body is None:
        message = f"request body too large: limit {config.max_body_bytes} bytes"
        return web.Response(
            status=413,
            body=_error_body(INVALID_REQUEST, message),
            content_type="application/json",
            headers=headers,
        )
    context = CallContext(refused=_refused_for(request, config))
    answer = await request.app[DISPATCHER].handle_body(body, context)
    if answer is None:
        return web.Response(status=204, headers=headers)
    return web.Response(body=answer, content_type="application/json", headers=headers)


def _refused_for(request: web.Request, config: RpcConfig) -> dict[str, str]:
    """Namespaces a request may not call: `admin` from an origin not named in the
    configuration (a page in the user's browser must not manage the node)."""
    origin = request.headers.get("Origin")
    if origin is None or origin in config.cors_origins:
        return {}
    return {"admin": f"origin {origin[:100]} is not allowed"}


def _origin_allowed(origin: str, config: RpcConfig) -> bool:
    return "*" in config.cors_origins or origin in config.cors_origins


def _cors_headers(request: web.Request, config: RpcConfig) -> dict[str, str]:
    origin = request.headers.get("Origin")
    if origin is None or not _origin_allowed(origin, config):
        return {}
    allow = "*" if "*" in config.cors_origins else origin
    return {"Access-Control-Allow-Origin": allow, "Vary": "Origin"}


async def _handle_preflight(request: web.Request) -> web.Response:
    headers = _cors_headers(request, request.app[_CONFIG])
    if headers:
        headers["Access-Control-Allow-Methods"] = "POST, GET, OPTIONS"
        headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", "Content-Type"
        )
        headers["Access-Control-Max-Age"] = "600"
    return web.Response(status=204, headers=headers)


def _add_operator_routes(
    app: web.Application, view: NodeView, metrics: MetricsExporter | None
) -> None:
    """`/health`, `/ready` and (with `metrics`) `/metrics`."""

    async def health(request: web.Request) -> web.Response:
        return _judged(view, liveness)

    async def ready(request: web.Request) -> web.Response:
        return _judged(view, lambda facts: readiness(facts, request.query))

    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    if metrics is not None:
        exporter = metrics

        async def scrape(request: web.Request) -> web.Response:
            body, content_type = await exporter.render()
            return web.Response(body=body, headers={"Content-Type": content_type})

        app.router.add_get("/metrics", scrape)


def _judged(
    view: NodeView, judge: Callable[[NodeHealth], tuple[int, dict[str, Any]]]
) -> web.Response:
    try:
        facts = view.health()
    except Exception:
        log.exception("health check failed")
        return web.json_response({"status": "unavailable", "ready": False}, status=503)
    status, body = judge(facts)
    return web.json_response(body, status=status)


# --- Explorer files ------------------------------------------------------------------
_INDEX = "index.html"
_CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}
# A Host header that is a plain name or address with an optional port.
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class _StaticFile:
    body: bytes
    content_type: str


_EXPLORER = web.AppKey("explorer", dict[str, _StaticFile])


def _load_static(directory: Path) -> dict[str, _StaticFile]:
    """The servable files directly in `directory`, by name; raises OSError when it or
    its index.html cannot be read."""
    files = {
        path.name: _StaticFile(path.read_bytes(), _CONTENT_TYPES[path.suffix])
        for path in directory.iterdir()
        if path.is_file() and path.suffix in _CONTENT_TYPES
    }
    if _INDEX not in files:
        raise FileNotFoundError(directory / _INDEX)
    return files


def _content_security_policy(request: web.Request) -> str:
    """Same-origin scripts, styles, images and connections (HTTP and this host's ws:)."""
    connect = "'self'"
    if _HOST.fullmatch(request.host):
        connect += f" ws://{request.host} wss://{request.host}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        f"connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _static_response(request: web.Request, file: _StaticFile) -> web.Response:
    return web.Response(
        body=file.body,
        content_type=file.content_type,
        charset=None if file.content_type.startswith("image/") else "utf-8",
        headers={
            "Content-Security-Policy": _content_security_policy(request),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


async def _handle_static(request: web.Request) -> web.Response:
    # A name is looked up among the files read at start, never joined to a path.
    file = request.app[_EXPLORER].get(request.match_info["name"])
    if file is None:
        return web.Response(status=404, text="not found\n")
    return _static_response(request, file)


# --- WebSocket -----------------------------------------------------------------------
def _ws_origin_allowed(request: web.Request, config: RpcConfig) -> bool:
    origin = request.headers.get("Origin")
    if origin is None or _origin_allowed(origin, config):
        return True
    return urlsplit(origin).hostname in _LOOPBACK_HOSTS


async def _handle_get(request: web.Request) -> web.StreamResponse:
    config = request.app[_CONFIG]
    ws = web.WebSocketResponse(max_msg_size=config.max_body_bytes)
    if not ws.can_prepare(request).ok:
        if _EXPLORER in request.app:
            return _static_response(request, request.app[_EXPLORER][_INDEX])
        message = "send JSON-RPC requests with POST, or upgrade to a WebSocket"
        return web.Response(
            status=405,
            body=_error_body(INVALID_REQUEST, message),
            content_type="application/json",
            headers={"Allow": "POST, OPTIONS"},
        )
    if not _ws_origin_allowed(request, config):
        return web.Response(status=403, text="origin not allowed\n")
    await ws.prepare(request)
    sockets = request.app[_SOCKETS]
    sockets.add(ws)
    try:
        await _serve_socket(ws, request.app[DISPATCHER], config, _refused_for(request, config))
    finally:
        sockets.discard(ws)
    return ws


async def _serve_socket(
    ws: web.WebSocketResponse, dispatcher: Dispatcher, config: RpcConfig, refused: dict[str, str]
) -> None:
    outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=config.ws_send_queue)
    ctx = CallContext(refused=refused)
    closing: list[asyncio.Task[bool]] = []

    def notify(method: str, params: Any) -> None:
        message = encode_json({"jsonrpc": "2.0", "method": method, "params": params}).decode()
        try:
            outbox.put_nowait(message)
        except asyncio.QueueFull:
            # The client does not read its notifications: stop producing them.
            ctx.close()
            close = ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"notification backlog")
            closing.append(asyncio.ensure_future(close))

    ctx.notify = notify
    writer = asyncio.create_task(_write_socket(ws, outbox))
    try:
        async for msg in ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            answer = await dispatcher.handle_body(msg.data, ctx)
            if answer is not None:
                await outbox.put(answer.decode())
    finally:
        ctx.close()
        writer.cancel()


async def _write_socket(ws: web.WebSocketResponse, outbox: asyncio.Queue[str]) -> None:
    while not ws.closed:
        message = await outbox.get()
        try:
            await ws.send_str(message)
        except (ConnectionError, RuntimeError):
            return
