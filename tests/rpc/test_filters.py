"""eth_getLogs and the polling filters, including expiry of forgotten filters."""

from __future__ import annotations

import asyncio

import pytest

from peerchain.rpc import RpcConfig
from peerchain.rpc.filters import FilterManager

from .fake_view import DEV_ACCOUNT, OTHER, TOKEN, TRANSFER_TOPIC, FakeNodeView
from .harness import Rpc

TOKEN_HEX = "0x" + TOKEN.hex()
TOPIC = "0x" + TRANSFER_TOPIC.hex()
FROM_DEV = "0x" + (b"\x00" * 12 + DEV_ACCOUNT).hex()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def view() -> FakeNodeView:
    return FakeNodeView()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rpc(view: FakeNodeView, clock: Clock) -> Rpc:
    return Rpc(view, RpcConfig(max_log_range=3), FilterManager(timeout=60, clock=clock))


def test_get_logs_by_range_address_and_topics(rpc: Rpc, view: FakeNodeView) -> None:
    [log] = rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    assert log["address"] == TOKEN_HEX and log["blockNumber"] == "0x1"
    assert log["blockTimestamp"] == hex(view.blocks[1].header.timestamp)
    assert rpc("eth_getLogs", {"fromBlock": "earliest", "address": TOKEN_HEX}) == [log]
    assert rpc("eth_getLogs", {"fromBlock": "0x0", "address": ["0x" + OTHER.hex()]}) == []
    assert rpc("eth_getLogs", {"fromBlock": "0x0", "topics": [TOPIC, FROM_DEV]}) == [log]
    assert rpc("eth_getLogs", {"fromBlock": "0x0", "topics": [None, [FROM_DEV]]}) == [log]
    assert rpc("eth_getLogs", {"fromBlock": "0x0", "topics": [[], [TOPIC]]}) == []
    assert rpc("eth_getLogs", {"fromBlock": "0x0", "topics": [TOPIC, None, None, None]}) == []
    assert rpc("eth_getLogs", {"fromBlock": "0x2"}) == []
    by_hash = {"blockHash": "0x" + view.blocks[1].hash.hex()}
    assert rpc("eth_getLogs", by_hash) == [log]


def test_get_logs_errors(rpc: Rpc, view: FakeNodeView) -> None:
    assert rpc.error("eth_getLogs", {"fromBlock": "0x2", "toBlock": "0x1"}) == {
        "code": -32602,
        "message": "invalid block range params",
    }
    assert rpc.error("eth_getLogs", {"fromBlock": "0x1", "toBlock": "0x9"}) == {
        "code": -32602,
        "message": "block range extends beyond current head block",
    }
    both = {"blockHash": "0x" + view.blocks[1].hash.hex(), "fromBlock": "0x1"}
    assert rpc.error("eth_getLogs", both)["code"] == -32602
    unknown = rpc.error("eth_getLogs", {"blockHash": "0x" + "00" * 32})
    assert unknown == {"code": -32000, "message": "unknown block"}


def test_get_logs_refuses_ranges_over_the_limit(rpc: Rpc, view: FakeNodeView) -> None:
    view.mine_pending()
    assert rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "0x2"}) is not None
    error = rpc.error("eth_getLogs", {"fromBlock": "0x0", "toBlock": "0x3"})
    assert error["code"] == -32005
    assert "4 blocks requested, at most 3 allowed" in error["message"]


def test_block_filter(rpc: Rpc, view: FakeNodeView) -> None:
    filter_id = rpc("eth_newBlockFilter")
    assert rpc("eth_getFilterChanges", filter_id) == []
    block = view.mine_pending()
    rpc.filters.on_header(block.header)
    assert rpc("eth_getFilterChanges", filter_id) == ["0x" + block.hash.hex()]
    assert rpc("eth_getFilterChanges", filter_id) == []
    assert rpc.error("eth_getFilterLogs", filter_id) == {
        "code": -32000,
        "message": "filter not found",
    }


def test_pending_transaction_filter(rpc: Rpc, view: FakeNodeView) -> None:
    filter_id = rpc("eth_newPendingTransactionFilter")
    tx_hash = rpc("eth_sendRawTransaction", "0x02aa")
    rpc.filters.on_pending(view.pending[-1])
    assert rpc("eth_getFilterChanges", filter_id) == [tx_hash]


def test_log_filter(rpc: Rpc, view: FakeNodeView) -> None:
    matching = rpc("eth_newFilter", {"fromBlock": "0x1", "address": TOKEN_HEX})
    other = rpc("eth_newFilter", {"address": "0x" + OTHER.hex()})
    bounded = rpc("eth_newFilter", {"fromBlock": "0x0", "toBlock": "0x1"})
    assert len(rpc("eth_getFilterLogs", matching)) == 1
    rpc("eth_sendRawTransaction", "0x02aa")
    block = view.mine_pending()
    rpc.filters.on_logs([log for r in view.receipts[block.hash] for log in r.logs])
    [new_log] = rpc("eth_getFilterChanges", matching)
    assert new_log["blockNumber"] == "0x3"
    assert rpc("eth_getFilterChanges", other) == []
    assert rpc("eth_getFilterChanges", bounded) == []
    assert len(rpc("eth_getFilterLogs", matching)) == 2


def test_uninstall_and_unknown_ids(rpc: Rpc) -> None:
    filter_id = rpc("eth_newBlockFilter")
    assert rpc("eth_uninstallFilter", filter_id) is True
    assert rpc("eth_uninstallFilter", filter_id) is False
    assert rpc.error("eth_getFilterChanges", filter_id)["code"] == -32000
    assert rpc.error("eth_getFilterChanges", 5)["code"] == -32602


def test_ids_are_quantities_and_unique(rpc: Rpc) -> None:
    ids = {rpc("eth_newBlockFilter") for _ in range(50)}
    assert len(ids) == 50
    assert all(i.startswith("0x") and i[2] != "0" for i in ids)
    assert rpc("eth_getFilterChanges", next(iter(ids)).upper().replace("0X", "0x")) == []


def test_idle_filters_expire(rpc: Rpc, clock: Clock) -> None:
    kept = rpc("eth_newBlockFilter")
    dropped = rpc("eth_newBlockFilter")
    clock.now += 50
    rpc("eth_getFilterChanges", kept)
    clock.now += 20
    assert rpc("eth_getFilterChanges", kept) == []
    assert rpc.error("eth_getFilterChanges", dropped)["message"] == "filter not found"
    assert len(rpc.filters) == 1


def test_buffers_and_filter_count_are_bounded(view: FakeNodeView) -> None:
    manager = FilterManager(max_filters=2, max_buffered=2)
    rpc = Rpc(view, filters=manager)
    filter_id = rpc("eth_newBlockFilter")
    for block in view.blocks:
        manager.on_header(block.header)
    assert rpc("eth_getFilterChanges", filter_id) == ["0x" + b.hash.hex() for b in view.blocks[1:]]
    rpc("eth_newBlockFilter")
    assert rpc.error("eth_newBlockFilter")["code"] == -32005


def test_attach_feeds_filters_from_view_events(view: FakeNodeView) -> None:
    manager = FilterManager()

    async def scenario() -> list[object]:
        detach = manager.attach(view)
        blocks = manager.install("blocks")
        view.mine_pending()
        await asyncio.sleep(0)  # let the hopped callbacks run
        _, items = manager.poll(blocks)
        detach()
        view.mine_pending()
        await asyncio.sleep(0)
        _, after = manager.poll(blocks)
        return [items, after]

    items, after = asyncio.run(scenario())
    assert items == [view.blocks[3].hash] and after == []
    assert all(not callbacks for callbacks in view.subscribers.values())
