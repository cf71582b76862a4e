"""The answers of `/health` (liveness) and `/ready` (readiness) from a node's `NodeHealth`.

`/health`: 200 `{"status": "ok", ...}` while the node runs; 503 `{"status": "fault",
"fault": reason, ...}` once a local fault (corrupt data, full disk, halted consensus)
stopped it, since restarting or waiting will not bring it back by itself.

`/ready`: 200 `{"ready": true, ...}` when the node can serve current data: no fault, no
block sync in progress, at least `minPeers` peers (default 1 on a network node, 0 on a
dev node) and, if `maxBlocksBehind` is given, no more than that many blocks below the
best height peers report. Otherwise 503 with `"reasons"`, one sentence each. A query
parameter that is not a non-negative integer is a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peerchain.node.view import NodeHealth

OK = 200
BAD_REQUEST = 400
UNAVAILABLE = 503
_MAX_QUERY_VALUE = 1_000_000_000


class BadHealthQuery(ValueError):
    """A /ready query parameter is malformed (the client's fault: HTTP 400)."""


def _facts(health: NodeHealth) -> dict[str, Any]:
    return {
        "blockNumber": health.block_number,
        "bestKnownBlock": health.highest_block,
        "peers": health.peers,
        "syncing": health.syncing,
        "fault": health.fault,
    }


def liveness(health: NodeHealth) -> tuple[int, dict[str, Any]]:
    """HTTP status and JSON body of `/health`."""
    if health.fault is not None:
        return UNAVAILABLE, {"status": "fault", **_facts(health)}
    return OK, {"status": "ok", **_facts(health)}


def _count(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None:
        return None
    if not text.isdigit() or int(text) > _MAX_QUERY_VALUE:
        raise BadHealthQuery(f"{name} must be a non-negative integer, got {text[:40]!r}")
    return int(text)


def readiness(health: NodeHealth, query: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
    """HTTP status and JSON body of `/ready?minPeers=N&maxBlocksBehind=M`."""
    try:
        min_peers = _count(query, "minPeers")
        max_behind = _count(query, "maxBlocksBehind")
    except BadHealthQuery as exc:
        return BAD_REQUEST, {"ready": False, "error": str(exc)}
    if min_peers is None:
        min_peers = 1 if health.networked else 0
    reasons = []
    if health.fault is not None:
        reasons.append(f"halted by a local fault: {health.fault}")
    if health.syncing:
        reasons.append(
            f"block sync in progress (block {health.block_number} of {health.highest_block})"
        )
    if health.peers < min_peers:
        reasons.append(f"{health.peers} peers connected, {min_peers} wanted")
    behind = health.highest_block - health.block_number
    if max_behind is not None and behind > max_behind:
        reasons.append(f"{behind} blocks behind the best known, at most {max_behind} wanted")
    body = {"ready": not reasons, "reasons": reasons, "minPeers": min_peers, **_facts(health)}
    return (UNAVAILABLE if reasons else OK), body
