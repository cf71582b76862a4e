"""The `net_` methods: network id (the chain id, in decimal), listening, peer count."""

from __future__ import annotations

from peerchain.node.view import NodeView
from peerchain.rpc.dispatch import CallContext, Method, Params
from peerchain.rpc.shapes import quantity


def net_methods(view: NodeView) -> dict[str, Method]:
    def version(p: Params, ctx: CallContext) -> str:
        return str(view.chain_id)

    def listening(p: Params, ctx: CallContext) -> bool:
        return True

    def peer_count(p: Params, ctx: CallContext) -> str:
        return quantity(view.peer_count())

    return {
        "version": Method(version),
        "listening": Method(listening),
        "peerCount": Method(peer_count),
    }
