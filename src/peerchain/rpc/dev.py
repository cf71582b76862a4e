"""The `evm_` dev methods (as Hardhat and Ganache answer them), for dev nodes.

Numbers may be JSON integers or hex quantities. On a node that is not in dev mode
the view refuses and the client gets -32000 with its message.
"""

from __future__ import annotations

from peerchain.node.view import NodeView
from peerchain.rpc.dispatch import CallContext, Method, Params
from peerchain.rpc.encoding import parse_bool, parse_uint
from peerchain.rpc.shapes import quantity


def dev_methods(view: NodeView) -> dict[str, Method]:
    def snapshot(p: Params, ctx: CallContext) -> str:
        return quantity(view.snapshot())

    def revert(p: Params, ctx: CallContext) -> bool:
        return view.revert(p.required(0, parse_uint))

    def mine(p: Params, ctx: CallContext) -> str:
        view.mine(p.optional(0, parse_uint))
        return "0x0"

    def increase_time(p: Params, ctx: CallContext) -> str:
        return str(view.increase_time(p.required(0, parse_uint)))

    def set_next_block_timestamp(p: Params, ctx: CallContext) -> str:
        timestamp = p.required(0, parse_uint)
        view.set_next_block_timestamp(timestamp)
        return str(timestamp)

    def set_automine(p: Params, ctx: CallContext) -> bool:
        view.set_automine(p.required(0, parse_bool))
        return True

    def set_interval_mining(p: Params, ctx: CallContext) -> bool:
        view.set_interval_mining(p.required(0, parse_uint))
        return True

    return {
        "snapshot": Method(snapshot),
        "revert": Method(revert, 1),
        "mine": Method(mine, 1),
        "increaseTime": Method(increase_time, 1),
        "setNextBlockTimestamp": Method(set_next_block_timestamp, 1),
        "setAutomine": Method(set_automine, 1),
        "setIntervalMining": Method(set_interval_mining, 1),
    }
