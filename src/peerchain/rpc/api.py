"""The JSON-RPC API of a node: its settings and the dispatcher with every namespace.

`build_dispatcher` is transport-free (tests and tools drive it with bytes);
`peerchain.rpc.server` puts it on HTTP and WebSocket.
"""

from __future__ import annotations

from dataclasses import dataclass

from peerchain.node.view import DevView, NodeView
from peerchain.rpc.debug import debug_methods
from peerchain.rpc.dev import dev_eth_methods, dev_methods, hardhat_methods
from peerchain.rpc.dispatch import Dispatcher
from peerchain.rpc.eth import eth_methods, personal_methods
from peerchain.rpc.filters import FilterManager, filter_methods
from peerchain.rpc.net import net_methods
from peerchain.rpc.simulate import simulate_methods
from peerchain.rpc.subscriptions import subscription_methods
from peerchain.rpc.txpool import txpool_methods
from peerchain.rpc.web3 import web3_methods


@dataclass(frozen=True, slots=True)
class RpcConfig:
    """Settings of the JSON-RPC server.

    `cors_origins`: origins allowed to read HTTP answers in a browser ("*" for any);
    WebSocket upgrades from a browser are accepted from these and from loopback
    origins (http://localhost:*, http://127.0.0.1:*). `max_body_bytes` bounds an HTTP
    body and a WebSocket message; `max_log_range` the blocks one eth_getLogs may span;
    `filter_timeout` (seconds) how long an unpolled filter lives.
    """

    host: str = "127.0.0.1"
    port: int = 8545
    max_body_bytes: int = 5 * 1024 * 1024
    max_batch: int = 1000
    cors_origins: tuple[str, ...] = ()
    max_log_range: int = 10_000
    filter_timeout: float = 300.0
    ws_send_queue: int = 10_000
    dev_methods: bool = True


def build_dispatcher(view: NodeView, config: RpcConfig, filters: FilterManager) -> Dispatcher:
    """A dispatcher with eth, personal, net, web3, txpool, debug and (if enabled) evm methods."""
    dispatcher = Dispatcher(max_batch=config.max_batch)
    dispatcher.register_namespace("eth", eth_methods(view))
    dispatcher.register_namespace("eth", filter_methods(view, filters, config.max_log_range))
    dispatcher.register_namespace("eth", subscription_methods(view))
    dispatcher.register_namespace("eth", simulate_methods(view))
    dispatcher.register_namespace("personal", personal_methods(view))
    dispatcher.register_namespace("net", net_methods(view))
    dispatcher.register_namespace("web3", web3_methods(view))
    dispatcher.register_namespace("txpool", txpool_methods(view))
    dispatcher.register_namespace("debug", debug_methods(view))
    if config.dev_methods:
        dispatcher.register_namespace("evm", dev_methods(view))
        if isinstance(view, DevView):
            dispatcher.register_namespace("eth", dev_eth_methods(view))
            dispatcher.register_namespace("hardhat", hardhat_methods(view))
            dispatcher.register_namespace("anvil", hardhat_methods(view))
    return dispatcher
