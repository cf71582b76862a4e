"""The `web3_` methods: client version and keccak-256."""

from __future__ import annotations

from peerchain.core.crypto import keccak256
from peerchain.node.view import NodeView
from peerchain.rpc.dispatch import CallContext, Method, Params
from peerchain.rpc.encoding import parse_data
from peerchain.rpc.shapes import data


def web3_methods(view: NodeView) -> dict[str, Method]:
    def client_version(p: Params, ctx: CallContext) -> str:
        return view.client_version

    def sha3(p: Params, ctx: CallContext) -> str:
        return data(keccak256(p.required(0, parse_data)))

    return {"clientVersion": Method(client_version), "sha3": Method(sha3, 1)}
