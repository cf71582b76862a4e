"""The JSON-RPC server over a real DevNode (py-evm, LMDB) in this process.

Every result of a scenario that deploys and uses a contract is validated against the
execution-apis OpenRPC schemas; reverts, rejected and malformed transactions get the
spec's error codes; WebSocket subscriptions deliver the node's blocks and logs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import vyper
from aiohttp.test_utils import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import dev_genesis
from peerchain.core.transactions import UnsignedTransaction, sign_transaction
from peerchain.drivers.storage import LmdbStore
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger
from peerchain.rpc import RpcConfig

from .harness import LiveApp, live_app
from .openrpc import OpenRpcSpec

CHAIN_ID = 1337
KEYS = [bytes([i + 1]) * 32 for i in range(3)]
ADDRS = ["0x" + private_key_to_address(k).hex() for k in KEYS]
SOURCE = (Path(__file__).resolve().parents[1] / "contracts" / "Store.vy").read_text()


class FixedClock:
    def __init__(self) -> None:
        self.time = 1_750_000_000.0

    def now(self) -> float:
        return self.time


@dataclass
class Chain:
    app: LiveApp
    node: DevNode
    contract: str
    store_selector: bytes
    value_selector: bytes

    def rpc(self, method: str, *params: Any) -> Any:
        answer = self.app.call(method, *params)
        assert "error" not in answer, answer
        return answer["result"]

    def error(self, method: str, *params: Any) -> dict[str, Any]:
        answer = self.app.call(method, *params)
        assert "result" not in answer, answer
        return dict(answer["error"])

    def store_call(self, value: int) -> str:
        return "0x" + (self.store_selector + value.to_bytes(32, "big")).hex()


@pytest.fixture(scope="module")
def spec() -> OpenRpcSpec:
    return OpenRpcSpec()


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    out = vyper.compile_code(SOURCE, output_formats=["bytecode", "method_identifiers"])
    selectors = {k: bytes.fromhex(v[2:]) for k, v in out["method_identifiers"].items()}
    store = LmdbStore(Path(tmp_path_factory.mktemp("chain")) / "lmdb")
    genesis = dev_genesis(CHAIN_ID, [private_key_to_address(k) for k in KEYS], 10**24)
    node = DevNode(Ledger(store, genesis), FixedClock(), KEYS, automine=True)
    try:
        with live_app(node, RpcConfig(max_log_range=1000)) as app:
            deploy = out["bytecode"] + (7).to_bytes(32, "big").hex()
            tx_hash = app.call("eth_sendTransaction", {"from": ADDRS[0], "input": deploy})["result"]
            receipt = app.call("eth_getTransactionReceipt", tx_hash)["result"]
            assert receipt["status"] == "0x1"
            yield Chain(
                app,
                node,
                receipt["contractAddress"],
                selectors["store(uint256)"],
                selectors["value()"],
            )
    finally:
        store.close()


def _raw_transfer(nonce: int, *, legacy: bool = False, to: str | None = None) -> str:
    unsigned = UnsignedTransaction(
        type=0 if legacy else 2,
        chain_id=CHAIN_ID,
        nonce=nonce,
        gas_limit=100_000,
        max_fee_per_gas=10**10,
        max_priority_fee_per_gas=0 if legacy else 10**9,
        to=bytes.fromhex((to or ADDRS[2])[2:]),
        value=12345,
    )
    return "0x" + sign_transaction(unsigned, KEYS[1]).raw.hex()


def test_results_fit_the_openrpc_schemas(chain: Chain, spec: OpenRpcSpec) -> None:
    contract = chain.contract
    stored = chain.rpc(
        "eth_sendTransaction", {"from": ADDRS[0], "to": contract, "input": chain.store_call(42)}
    )
    nonce = int(chain.rpc("eth_getTransactionCount", ADDRS[1], "pending"), 16)
    legacy = chain.rpc("eth_sendRawTransaction", _raw_transfer(nonce, legacy=True))
    dynamic = chain.rpc("eth_sendRawTransaction", _raw_transfer(nonce + 1))
    receipt = chain.rpc("eth_getTransactionReceipt", stored)
    block_hash = receipt["blockHash"]
    head = chain.rpc("eth_blockNumber")
    value_call = {"to": contract, "input": "0x" + chain.value_selector.hex()}
    calls: list[tuple[str, list[Any]]] = [
        ("eth_chainId", []),
        ("eth_blockNumber", []),
        ("eth_syncing", []),
        ("eth_accounts", []),
        ("net_version", []),
        ("eth_gasPrice", []),
        ("eth_maxPriorityFeePerGas", []),
        ("eth_feeHistory", ["0x4", "latest", [25, 75]]),
        ("eth_feeHistory", ["0x1", "0x0", []]),
        ("eth_getBalance", [ADDRS[2], "latest"]),
        ("eth_getBalance", [ADDRS[2], {"blockHash": block_hash, "requireCanonical": True}]),
        ("eth_getCode", [contract, "latest"]),
        ("eth_getStorageAt", [contract, "0x0", "latest"]),
        ("eth_getTransactionCount", [ADDRS[1], "latest"]),
        ("eth_getTransactionCount", [ADDRS[1], "pending"]),
        ("eth_getProof", [contract, ["0x0", "0x1"], "latest"]),
        ("eth_getBlockByNumber", ["latest", True]),
        ("eth_getBlockByNumber", ["earliest", False]),
        ("eth_getBlockByNumber", ["pending", False]),
        ("eth_getBlockByNumber", ["safe", False]),
        ("eth_getBlockByNumber", ["finalized", False]),
        ("eth_getBlockByNumber", ["0xffff", False]),
        ("eth_getBlockByHash", [block_hash, True]),
        ("eth_getBlockTransactionCountByNumber", [head]),
        ("eth_getBlockTransactionCountByHash", [block_hash]),
        ("eth_getTransactionByHash", [stored]),
        ("eth_getTransactionByHash", [legacy]),
        ("eth_getTransactionByHash", [dynamic]),
        ("eth_getTransactionByBlockHashAndIndex", [block_hash, "0x0"]),
        ("eth_getTransactionByBlockNumberAndIndex", [head, "0x0"]),
        ("eth_getTransactionReceipt", [stored]),
        ("eth_getTransactionReceipt", [legacy]),
        ("eth_getTransactionReceipt", ["0x" + "00" * 32]),
        ("eth_getBlockReceipts", [block_hash]),
        ("eth_getBlockReceipts", ["latest"]),
        ("eth_call", [value_call, "latest"]),
        ("eth_call", [value_call, {"blockNumber": "0x1"}]),
        ("eth_estimateGas", [{"from": ADDRS[0], "to": contract, "input": chain.store_call(5)}]),
        ("eth_getLogs", [{"fromBlock": "earliest", "address": contract}]),
        ("eth_getLogs", [{"blockHash": block_hash}]),
        ("eth_sign", [ADDRS[0], "0x68656c6c6f"]),
        ("txpool_status", []),
        ("txpool_content", []),
    ]
    for method, params in calls:
        result = chain.rpc(method, *params)
        spec.validate_result(method, result)
    assert int(chain.rpc("eth_call", value_call, "latest"), 16) == 42
    [log] = chain.rpc("eth_getLogs", {"blockHash": block_hash})
    assert log["address"] == contract and log["transactionHash"] == stored


def test_filters_and_pool_on_the_real_node(chain: Chain, spec: OpenRpcSpec) -> None:
    block_filter = chain.rpc("eth_newBlockFilter")
    log_filter = chain.rpc("eth_newFilter", {"address": chain.contract})
    pending_filter = chain.rpc("eth_newPendingTransactionFilter")
    for method, result in [
        ("eth_newBlockFilter", block_filter),
        ("eth_newFilter", log_filter),
        ("eth_newPendingTransactionFilter", pending_filter),
    ]:
        spec.validate_result(method, result)
    assert chain.rpc("evm_setAutomine", False) is True
    nonce = int(chain.rpc("eth_getTransactionCount", ADDRS[1], "pending"), 16)
    waiting = chain.rpc("eth_sendRawTransaction", _raw_transfer(nonce))
    chain.rpc("eth_sendRawTransaction", _raw_transfer(nonce + 5))  # a nonce gap: queued
    status = chain.rpc("txpool_status")
    assert status == {"pending": "0x1", "queued": "0x1"}
    content = chain.rpc("txpool_content")
    spec.validate_result("txpool_content", content)
    pending_tx = chain.rpc("eth_getTransactionByHash", waiting)
    assert pending_tx["blockHash"] is None
    tx = chain.rpc(
        "eth_sendTransaction",
        {"from": ADDRS[0], "to": chain.contract, "input": chain.store_call(9)},
    )
    assert chain.rpc("eth_getTransactionReceipt", tx) is None
    assert chain.rpc("evm_mine") == "0x0"
    blocks = chain.rpc("eth_getFilterChanges", block_filter)
    logs = chain.rpc("eth_getFilterChanges", log_filter)
    pending = chain.rpc("eth_getFilterChanges", pending_filter)
    for result in (blocks, logs, pending):
        spec.validate_result("eth_getFilterChanges", result)
    assert len(blocks) == 1 and [log["transactionHash"] for log in logs] == [tx]
    assert waiting in pending and tx in pending
    all_logs = chain.rpc("eth_getFilterLogs", log_filter)
    spec.validate_result("eth_getFilterLogs", all_logs)
    assert all_logs[-1]["transactionHash"] == tx
    assert chain.rpc("eth_uninstallFilter", log_filter) is True
    assert chain.rpc("evm_setAutomine", True) is True


def test_revert_and_rejections(chain: Chain) -> None:
    unlucky = {"from": ADDRS[0], "to": chain.contract, "input": chain.store_call(13)}
    for method in ("eth_call", "eth_estimateGas"):
        error = chain.error(method, unlucky)
        assert error["code"] == 3
        assert error["message"] == "execution reverted: unlucky"
        assert error["data"].startswith("0x08c379a0")
    nonce = int(chain.rpc("eth_getTransactionCount", ADDRS[1], "latest"), 16)
    low = chain.error("eth_sendRawTransaction", _raw_transfer(nonce - 1))
    assert low["code"] == -32000 and low["message"].startswith("nonce too low")
    garbage = chain.error("eth_sendRawTransaction", "0xdeadbeef")
    assert garbage["code"] == -32000
    assert chain.error("eth_sendRawTransaction", "0xabc")["code"] == -32602
    unknown_account = chain.error("eth_sign", "0x" + "42" * 20, "0x00")
    assert unknown_account["code"] == -32000
    assert chain.error("eth_getBalance", ADDRS[0], "0xffffff")["code"] == -32000


def test_dev_methods_on_the_real_node(chain: Chain) -> None:
    snapshot = chain.rpc("evm_snapshot")
    before = chain.rpc("eth_blockNumber")
    chain.rpc("evm_increaseTime", 3600)
    head = chain.rpc("eth_getBlockByNumber", "latest", False)
    chain.rpc("evm_setNextBlockTimestamp", int(head["timestamp"], 16) + 100_000)
    chain.rpc("evm_mine")
    mined = chain.rpc("eth_getBlockByNumber", "latest", False)
    assert int(mined["timestamp"], 16) == int(head["timestamp"], 16) + 100_000
    assert chain.rpc("evm_revert", snapshot) is True
    assert chain.rpc("eth_blockNumber") == before
    assert chain.rpc("evm_setIntervalMining", 0) is True
    past = chain.error("evm_setNextBlockTimestamp", 5)
    assert past["code"] == -32000


def test_websocket_subscriptions_on_the_real_node(chain: Chain) -> None:
    async def go(client: TestClient) -> dict[str, list[Any]]:
        async with client.ws_connect("/") as ws:
            ids = {}
            for request_id, params in enumerate(
                (["newHeads"], ["logs", {"address": chain.contract}], ["newPendingTransactions"])
            ):
                await ws.send_json(
                    {
                        "jsonrpc": "2.0",
                        "id": request_id,
                        "method": "eth_subscribe",
                        "params": params,
                    }
                )
                ids[(await ws.receive_json())["result"]] = params[0]
            call = {"from": ADDRS[0], "to": chain.contract, "input": chain.store_call(77)}
            await ws.send_json(
                {"jsonrpc": "2.0", "id": 9, "method": "eth_sendTransaction", "params": [call]}
            )
            got: dict[str, list[Any]] = {}
            while sum(len(v) for v in got.values()) < 4:
                message = json.loads(await ws.receive_str())
                if message.get("method") == "eth_subscription":
                    kind = ids[message["params"]["subscription"]]
                    got.setdefault(kind, []).append(message["params"]["result"])
                else:
                    got.setdefault("answer", []).append(message["result"])
            return got

    got = chain.app.run(go)
    [tx_hash] = got["answer"]
    assert got["newPendingTransactions"] == [tx_hash]
    [head] = got["newHeads"]
    [log] = got["logs"]
    assert log["transactionHash"] == tx_hash and log["blockHash"] == head["hash"]
    assert int(log["data"], 16) == 77


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.tuples(st.integers(0, 110), st.binary(min_size=1, max_size=3)).map(
            lambda cut: bytes.fromhex(_raw_transfer(0)[2:])[: cut[0]] + cut[1]
        ),
    )
)
def test_malformed_raw_transactions_get_errors(chain: Chain, raw: bytes) -> None:
    answer = chain.app.call("eth_sendRawTransaction", "0x" + raw.hex())
    if "error" in answer:
        assert answer["error"]["code"] in (-32000, -32602), answer
    assert chain.app.call("eth_chainId")["result"] == hex(CHAIN_ID)


def test_deeply_nested_raw_transaction_is_a_decode_error(chain: Chain) -> None:
    payload = b"\xc0"
    for _ in range(110_000):
        n = len(payload)
        length = n.to_bytes((n.bit_length() + 7) // 8, "big")
        payload = (bytes([0xC0 + n]) if n < 56 else bytes([0xF7 + len(length)]) + length) + (
            payload
        )
    answer = chain.app.call("eth_sendRawTransaction", "0x02" + payload.hex())
    assert answer["error"]["code"] == -32000, answer
