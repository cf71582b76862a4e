"""Ethereum JSON-RPC 2.0 over HTTP and WebSocket, answered from a `NodeView`.

The node starts it with `server = await serve(view, RpcConfig(...))` and stops it with
`await server.close()`; `create_app(view, config)` gives the aiohttp application
itself (for tests, or to mount more routes). More methods plug in through
`dispatcher_of(app).register_namespace(name, {method_name: Method(handler, max_params)})`.
"""

from peerchain.rpc.api import RpcConfig, build_dispatcher
from peerchain.rpc.dispatch import CallContext, Dispatcher, Method, Params
from peerchain.rpc.server import RpcServer, create_app, dispatcher_of, serve

__all__ = [
    "CallContext",
    "Dispatcher",
    "Method",
    "Params",
    "RpcConfig",
    "RpcServer",
    "build_dispatcher",
    "create_app",
    "dispatcher_of",
    "serve",
]
