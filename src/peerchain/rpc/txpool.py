"""The `txpool_` methods: counts and contents of the mempool, shaped as geth shapes them.

Contents are grouped by checksummed sender address, then by nonce as a decimal string.
"""

from __future__ import annotations

from typing import Any

from peerchain.core.transactions import Transaction
from peerchain.node.view import NodeView
from peerchain.rpc.dispatch import CallContext, Method, Params
from peerchain.rpc.shapes import checksum_address, format_transaction, quantity


def _by_sender(groups: dict[bytes, tuple[Transaction, ...]]) -> dict[str, dict[str, Any]]:
    return {
        checksum_address(sender): {str(tx.nonce): format_transaction(tx, None, None) for tx in txs}
        for sender, txs in groups.items()
    }


def txpool_methods(view: NodeView) -> dict[str, Method]:
    def status(p: Params, ctx: CallContext) -> dict[str, str]:
        pool = view.txpool()
        return {
            "pending": quantity(sum(len(txs) for txs in pool.pending.values())),
            "queued": quantity(sum(len(txs) for txs in pool.queued.values())),
        }

    def content(p: Params, ctx: CallContext) -> dict[str, Any]:
        pool = view.txpool()
        return {"pending": _by_sender(pool.pending), "queued": _by_sender(pool.queued)}

    return {"status": Method(status), "content": Method(content)}
