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

    def inspect(p: Params, ctx: CallContext) -> dict[str, Any]:
        pool = view.txpool()
        return {"pending": _summaries(pool.pending), "queued": _summaries(pool.queued)}

    return {"status": Method(status), "content": Method(content), "inspect": Method(inspect)}


def _summary(tx: Transaction) -> str:
    """geth's one-line form: "<to>: <value> wei + <gas> gas x <price> wei" (a times sign)."""
    to = "contract creation" if tx.to is None else checksum_address(tx.to)
    return f"{to}: {tx.value} wei + {tx.gas_limit} gas × {tx.max_fee_per_gas} wei"  # noqa: RUF001


def _summaries(groups: dict[bytes, tuple[Transaction, ...]]) -> dict[str, dict[str, str]]:
    return {
        checksum_address(sender): {str(tx.nonce): _summary(tx) for tx in txs}
        for sender, txs in groups.items()
    }
