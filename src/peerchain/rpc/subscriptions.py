"""eth_subscribe / eth_unsubscribe: push notifications over a WebSocket connection.

Kinds: `newHeads` (header objects), `logs` (one notification per matching log, with
optional address/topics criteria), `newPendingTransactions` (hashes, or full
transaction objects when the second parameter is true). Each notification is
`{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":ID,"result":...}}`.
A subscription lives until eth_unsubscribe or the end of its connection.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from peerchain.core.blocks import Header, Log
from peerchain.core.transactions import Transaction
from peerchain.node.view import NodeView, SubscriptionKind
from peerchain.rpc import shapes
from peerchain.rpc.dispatch import CallContext, Method, Params
from peerchain.rpc.encoding import FilterSpec, InvalidValue, parse_bool, parse_filter
from peerchain.rpc.errors import LIMIT_EXCEEDED, METHOD_NOT_FOUND, RpcError
from peerchain.rpc.filters import format_logs, log_matches, on_loop

KINDS: tuple[SubscriptionKind, ...] = ("newHeads", "logs", "newPendingTransactions")
MAX_SUBSCRIPTIONS_PER_CONNECTION = 1000


def _kind(value: Any) -> SubscriptionKind:
    for kind in KINDS:
        if value == kind:
            return kind
    raise InvalidValue(f"unsupported subscription type, want one of {', '.join(KINDS)}")


def _subscription_id(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidValue("subscription id must be a string")
    return value


def _deliverer(
    view: NodeView, kind: SubscriptionKind, p: Params, emit: Callable[[Any], None]
) -> Callable[[Any], None]:
    """The callback that turns one event of `kind` into notification payloads."""
    if kind == "newHeads":

        def deliver_head(header: Header) -> None:
            emit(shapes.format_header(header))

        return deliver_head
    if kind == "logs":
        spec: FilterSpec = p.optional(1, parse_filter, FilterSpec())

        def deliver_logs(logs: list[Log]) -> None:
            matching = [log for log in logs if log_matches(log, spec.addresses, spec.topics)]
            for obj in format_logs(view, matching):
                emit(obj)

        return deliver_logs
    full = p.optional(1, parse_bool, False)

    def deliver_tx(tx: Transaction) -> None:
        emit(shapes.format_transaction(tx, None, None) if full else shapes.data(tx.hash))

    return deliver_tx


def subscription_methods(view: NodeView) -> dict[str, Method]:
    def subscribe(p: Params, ctx: CallContext) -> str:
        notify = ctx.notify
        if notify is None:
            raise RpcError(METHOD_NOT_FOUND, "notifications not supported")
        kind = p.required(0, _kind)
        if len(ctx.subscriptions) >= MAX_SUBSCRIPTIONS_PER_CONNECTION:
            raise RpcError(LIMIT_EXCEEDED, "too many subscriptions on this connection")
        sub_id = "0x" + secrets.token_hex(16)

        def emit(result: Any) -> None:
            if sub_id in ctx.subscriptions:
                notify("eth_subscription", {"subscription": sub_id, "result": result})

        deliver = _deliverer(view, kind, p, emit)
        ctx.subscriptions[sub_id] = view.subscribe(kind, on_loop(deliver))
        return sub_id

    def unsubscribe(p: Params, ctx: CallContext) -> bool:
        cancel = ctx.subscriptions.pop(p.required(0, _subscription_id), None)
        if cancel is None:
            return False
        cancel()
        return True

    return {"subscribe": Method(subscribe, 2), "unsubscribe": Method(unsubscribe, 1)}
