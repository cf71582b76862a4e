"""`/health`, `/ready` and `/metrics`: the status codes and JSON of each node state, and
the Prometheus text of a real dev node (py-evm, LMDB) parsed back with prometheus-client's
own parser, kept in a registry per node."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from peerchain.core.crypto import private_key_to_address
from peerchain.core.faults import corrupted
from peerchain.core.genesis import dev_genesis
from peerchain.core.transactions import UnsignedTransaction, sign_transaction
from peerchain.drivers.storage import LmdbStore
from peerchain.node import metrics as metrics_module
from peerchain.node.chainapp import highest_possible
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger
from peerchain.node.metrics import NodeMetrics, NodeSample
from peerchain.node.view import NodeHealth
from peerchain.rpc.health import readiness
from peerchain.rpc.server import serve_operator

from .fake_view import FakeNodeView
from .harness import LiveApp, live_app

CHAIN_ID = 1337
KEYS = [bytes([i + 1]) * 32 for i in range(2)]
ADDRS = ["0x" + private_key_to_address(k).hex() for k in KEYS]


class StateView(FakeNodeView):
    """A fake node whose health is whatever the test sets."""

    def __init__(self, health: NodeHealth | Exception) -> None:
        super().__init__()
        self.state = health

    def health(self) -> NodeHealth:
        if isinstance(self.state, Exception):
            raise self.state
        return self.state


def facts(**changes: Any) -> NodeHealth:
    base: dict[str, Any] = {
        "block_number": 100,
        "highest_block": 100,
        "peers": 3,
        "syncing": False,
        "fault": None,
        "networked": True,
    }
    return NodeHealth(**{**base, **changes})


def get_json(app: LiveApp, path: str) -> tuple[int, dict[str, Any]]:
    status, content_type, body = app.get(path)
    assert content_type.startswith("application/json")
    return status, json.loads(body)


@pytest.mark.parametrize(
    ("state", "path", "status", "reason"),
    [
        (facts(), "/ready", 200, None),
        (facts(syncing=True, highest_block=250), "/ready", 503, "block sync in progress"),
        (facts(peers=0), "/ready", 503, "0 peers connected, 1 wanted"),
        (facts(peers=2), "/ready?minPeers=3", 503, "2 peers connected, 3 wanted"),
        (facts(peers=0), "/ready?minPeers=0", 200, None),
        (facts(peers=0, networked=False), "/ready", 200, None),  # a dev node needs no peers
        (facts(highest_block=110), "/ready", 200, None),  # behind is judged only when asked
        (facts(highest_block=110), "/ready?maxBlocksBehind=5", 503, "10 blocks behind"),
        (facts(highest_block=103), "/ready?maxBlocksBehind=5", 200, None),
        (facts(fault="disk full"), "/ready", 503, "halted by a local fault: disk full"),
    ],
)
def test_readiness_in_each_state(
    state: NodeHealth, path: str, status: int, reason: str | None
) -> None:
    with live_app(StateView(state)) as app:
        code, body = get_json(app, path)
        assert code == status, body
        assert body["ready"] is (status == 200)
        assert body["blockNumber"] == state.block_number and body["peers"] == state.peers
        if reason is None:
            assert body["reasons"] == []
        else:
            assert any(reason in r for r in body["reasons"]), body["reasons"]
        live_code, live = get_json(app, "/health")  # alive unless halted
        assert live_code == (503 if state.fault else 200)
        assert live["status"] == ("fault" if state.fault else "ok")
        assert live["fault"] == state.fault


def test_a_malformed_query_is_the_clients_fault_and_a_broken_view_is_unavailable() -> None:
    with live_app(StateView(facts())) as app:
        for query in ("minPeers=-1", "minPeers=two", "maxBlocksBehind=1e3", "minPeers=9" * 20):
            code, body = get_json(app, f"/ready?{query}")
            assert code == 400 and "non-negative integer" in body["error"], body
    with live_app(StateView(RuntimeError("database gone"))) as app:
        assert get_json(app, "/health") == (503, {"status": "unavailable", "ready": False})
        assert get_json(app, "/ready")[0] == 503
        assert app.get("/metrics")[0] == 404  # the app was given no metrics


def test_readiness_defaults_follow_the_kind_of_node() -> None:
    assert readiness(facts(peers=0), {})[1]["minPeers"] == 1
    assert readiness(facts(peers=0, networked=False), {})[1]["minPeers"] == 0


# --- a real dev node -------------------------------------------------------------------------
class FixedClock:
    def __init__(self) -> None:
        self.time = 1_750_000_000.0

    def now(self) -> float:
        return self.time


@pytest.fixture
def dev_node(tmp_path: Path) -> Iterator[DevNode]:
    store = LmdbStore(tmp_path / "chain")
    genesis = dev_genesis(CHAIN_ID, [private_key_to_address(k) for k in KEYS], 10**24)
    try:
        yield DevNode(Ledger(store, genesis), FixedClock(), KEYS, automine=True)
    finally:
        store.close()


def raw_transfer(nonce: int) -> str:
    unsigned = UnsignedTransaction(
        type=2, chain_id=CHAIN_ID, nonce=nonce, gas_limit=21_000, max_fee_per_gas=10**10,
        max_priority_fee_per_gas=10**9, to=bytes.fromhex(ADDRS[0][2:]), value=1,
    )  # fmt: skip
    return "0x" + sign_transaction(unsigned, KEYS[1]).raw.hex()


def scrape(app: LiveApp) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """/metrics parsed by prometheus-client: sample name -> {sorted labels: value}."""
    status, content_type, body = app.get("/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


def test_metrics_of_a_dev_node_parse_and_count_what_happened(dev_node: DevNode) -> None:
    with live_app(dev_node, metrics=dev_node.metrics) as app:
        for _ in range(3):
            assert app.call("eth_chainId")["result"] == hex(CHAIN_ID)
        assert "error" in app.call("no_suchMethod")
        for nonce in range(2):  # automine: one block each
            assert "result" in app.call("eth_sendRawTransaction", raw_transfer(nonce))
        again = app.call("eth_sendRawTransaction", raw_transfer(0))
        assert "nonce too low" in again["error"]["message"]
        bad = app.call("eth_sendRawTransaction", "0x02deadbeef")
        assert "error" in bad

        metrics = scrape(app)
        assert metrics["ethereum_blockchain_height"][()] == 2
        assert metrics["ethereum_best_known_block_number"][()] == 2
        assert metrics["ethereum_peer_count"][()] == 0
        assert metrics["peerchain_node_fault"][()] == 0
        assert metrics["peerchain_mempool_size"][()] == 0
        assert metrics["peerchain_mempool_admitted_total"][()] == 2
        rejected = metrics["peerchain_mempool_rejected_total"]
        assert rejected[(("reason", "nonce_too_low"),)] == 1
        assert sum(rejected.values()) == 2  # and the undecodable one, under its own reason
        calls = metrics["peerchain_rpc_requests_total"]
        assert calls[(("method", "eth_chainId"), ("outcome", "ok"))] == 3
        assert calls[(("method", "other"), ("outcome", "error"))] == 1  # no label per name
        assert calls[(("method", "eth_sendRawTransaction"), ("outcome", "error"))] == 2
        duration = metrics["peerchain_rpc_request_duration_seconds_count"]
        assert duration[(("method", "eth_chainId"),)] == 3
        # Two blocks after genesis: two intervals between consecutive headers.
        assert metrics["peerchain_consensus_block_interval_seconds_count"][()] == 1
        assert "peerchain_consensus_height" not in metrics  # no consensus on a dev node

        # A damaged record latched by the storage layer halts the node: both checks say so.
        first = corrupted("block 2 body fails its checksum", "chain/data.mdb")
        dev_node.ledger.faults.report(first)
        dev_node.ledger.faults.report(corrupted("a later consequence is not kept"))
        status, _, body = app.get("/health")
        assert status == 503
        assert json.loads(body)["fault"] == first.line()
        assert "block 2 body fails its checksum (chain/data.mdb); stop the node" in first.line()
        assert app.get("/ready")[0] == 503
        assert scrape(app)["peerchain_node_fault"][()] == 1


def test_each_node_keeps_its_own_registry(tmp_path: Path) -> None:
    stores = [LmdbStore(tmp_path / f"chain{i}") for i in range(2)]
    try:
        genesis = dev_genesis(CHAIN_ID, [private_key_to_address(k) for k in KEYS], 10**24)
        nodes = [DevNode(Ledger(s, genesis), FixedClock(), KEYS) for s in stores]
        with live_app(nodes[0], metrics=nodes[0].metrics) as first:
            first.call("eth_sendRawTransaction", raw_transfer(0))
            with live_app(nodes[1], metrics=nodes[1].metrics) as second:
                assert scrape(first)["ethereum_blockchain_height"][()] == 1
                assert scrape(second)["ethereum_blockchain_height"][()] == 0
                assert scrape(first)["peerchain_mempool_admitted_total"][()] == 1
                assert scrape(second)["peerchain_mempool_admitted_total"][()] == 0
        assert REGISTRY.get_sample_value("ethereum_blockchain_height") is None
    finally:
        for store in stores:
            store.close()


def test_the_operator_address_serves_metrics_health_and_readiness_alone(
    dev_node: DevNode,
) -> None:
    async def scenario() -> None:
        server = await serve_operator(dev_node, dev_node.metrics, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{server.port}"
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{base}/metrics") as response:
                    assert response.status == 200
                    text = await response.text()
                    assert "ethereum_blockchain_height 0.0" in text
                async with session.get(f"{base}/health") as response:
                    assert response.status == 200
                async with session.get(f"{base}/ready") as response:
                    assert response.status == 200
                async with session.post(base + "/", json={"jsonrpc": "2.0"}) as response:
                    assert response.status in (404, 405)  # no JSON-RPC here
        finally:
            await server.close()

    asyncio.run(scenario())


def test_scrapes_render_off_the_loop_and_those_arriving_together_share_one_rendering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    metrics = NodeMetrics()
    sampled: list[str] = []
    rendered: list[str] = []

    def sample() -> NodeSample:
        sampled.append(threading.current_thread().name)
        return NodeSample(len(sampled), len(sampled), 0, 0, 0, False)

    def rendering(registry: Any) -> bytes:
        rendered.append(threading.current_thread().name)
        return real(registry)  # type: ignore[no-any-return]

    real = metrics_module.generate_latest
    monkeypatch.setattr(metrics_module, "generate_latest", rendering)
    metrics.sample_from(sample)

    async def scrapes(count: int) -> list[bytes]:
        return [body for body, _ in await asyncio.gather(*(metrics.render() for _ in range(count)))]

    loop_thread = threading.current_thread().name
    first = asyncio.run(scrapes(5))
    assert len(set(first)) == 1 and b"ethereum_blockchain_height 1.0" in first[0]
    assert sampled == [loop_thread]  # the node is read once, on the event loop's thread
    assert len(rendered) == 1 and rendered[0] != loop_thread  # the text on another one
    second = asyncio.run(scrapes(1))
    assert b"ethereum_blockchain_height 2.0" in second[0] and len(rendered) == 2


@pytest.mark.parametrize(
    ("head_age", "claim", "believed"),
    [(0, 10, True), (0, 15, True), (0, 16, False), (100, 115, True), (100, 10**9, False)],
)
def test_a_claimed_height_is_believed_only_if_a_chain_could_have_reached_it(
    head_age: int, claim: int, believed: bool
) -> None:
    """Timestamps grow by at least a second a block, and none is more than 15 s ahead."""
    now = 1_750_000_000.0
    limit = highest_possible(0, int(now) - head_age, now)
    assert (claim <= limit) is believed, limit
