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
from types import SimpleNamespace
from typing import Any

import pytest
import rlp
import vyper
from aiohttp.test_utils import TestClient
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_bloom import BloomFilter
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import dev_genesis
from peerchain.core.transactions import UnsignedTransaction, sign_transaction
from peerchain.drivers.storage import LmdbStore
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger
from peerchain.node.queries import QueryLimits
from peerchain.rpc import RpcConfig
from peerchain.testing.queries import ENDLESS_LOOP

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
    runtime_code: str
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
    formats = ["bytecode", "bytecode_runtime", "method_identifiers"]
    out = vyper.compile_code(SOURCE, output_formats=formats)
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
                out["bytecode_runtime"],
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


def _int(quantity: str) -> int:
    return int(quantity, 16)


def _raw(hex_data: str) -> bytes:
    return bytes.fromhex(hex_data[2:])


def _uint(quantity: str) -> bytes:
    value = _int(quantity)
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


_HEADER_FIELDS = [
    "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot",
    "logsBloom", "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData",
    "mixHash", "nonce", "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas",
    "parentBeaconBlockRoot", "requestsHash",
]  # fmt: skip
_QUANTITIES = {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas",
               "blobGasUsed", "excessBlobGas"}  # fmt: skip


def header_hash(block: dict[str, Any]) -> str:
    """The block hash recomputed from the JSON header fields (RLP in the Prague order)."""
    fields = [_uint(block[f]) if f in _QUANTITIES else _raw(block[f]) for f in _HEADER_FIELDS]
    return "0x" + keccak(rlp.encode(fields)).hex()


def raw_transaction(tx: dict[str, Any]) -> bytes:
    """The signed transaction re-encoded from its JSON fields (legacy or dynamic-fee)."""
    to, value, data = _raw(tx["to"]), _uint(tx["value"]), _raw(tx["input"])
    if tx["type"] == "0x0":
        fields = [_uint(tx["nonce"]), _uint(tx["gasPrice"]), _uint(tx["gas"]), to, value, data]
        return bytes(rlp.encode([*fields, _uint(tx["v"]), _uint(tx["r"]), _uint(tx["s"])]))
    assert tx["type"] == "0x2" and tx["accessList"] == []
    fields = [_uint(tx["chainId"]), _uint(tx["nonce"]), _uint(tx["maxPriorityFeePerGas"]),
              _uint(tx["maxFeePerGas"]), _uint(tx["gas"]), to, value, data, []]  # fmt: skip
    signature = [_uint(tx["yParity"]), _uint(tx["r"]), _uint(tx["s"])]
    return b"\x02" + bytes(rlp.encode([*fields, *signature]))


def proven(root: str, key: bytes, proof: list[str]) -> bytes:
    """The value a Merkle proof proves under `root`, checked by py-trie (b"" if absent)."""
    nodes = [rlp.decode(_raw(node)) for node in proof]
    return bytes(HexaryTrie.get_from_proof(_raw(root), keccak(key), nodes))


_BASE_FEE_FIELDS = {
    "base_fee_per_gas": "baseFeePerGas",
    "gas_used": "gasUsed",
    "gas_limit": "gasLimit",
}


def test_results_fit_the_schemas_and_match_the_chain(chain: Chain, spec: OpenRpcSpec) -> None:
    """Four blocks (deploy with 7, store(42), a legacy and a dynamic-fee transfer of 12345):
    every answer fits the execution-apis schema and says what happened, checked against
    what was sent and against independent code (py-trie proofs, header and transaction
    hashes recomputed from the JSON fields, signatures recovered by eth-account)."""
    contract = chain.contract
    stored = chain.rpc(
        "eth_sendTransaction", {"from": ADDRS[0], "to": contract, "input": chain.store_call(42)}
    )
    nonce = _int(chain.rpc("eth_getTransactionCount", ADDRS[1], "pending"))
    legacy_raw, dynamic_raw = _raw_transfer(nonce, legacy=True), _raw_transfer(nonce + 1)
    legacy = chain.rpc("eth_sendRawTransaction", legacy_raw)
    dynamic = chain.rpc("eth_sendRawTransaction", dynamic_raw)
    receipt = chain.rpc("eth_getTransactionReceipt", stored)
    block_hash = receipt["blockHash"]
    head = chain.rpc("eth_blockNumber")
    value_call = {"to": contract, "input": "0x" + chain.value_selector.hex()}

    def rpc(method: str, *params: Any) -> Any:
        result = chain.rpc(method, *params)
        spec.validate_result(method, result)
        return result

    def word(value: int) -> str:
        return "0x" + value.to_bytes(32, "big").hex()

    # chain and node
    assert (rpc("eth_chainId"), rpc("net_version")) == (hex(CHAIN_ID), str(CHAIN_ID))
    assert head == rpc("eth_blockNumber") == "0x4" and rpc("eth_syncing") is False
    assert rpc("eth_accounts") == ADDRS
    # blocks: hashes recomputed from the fields, links between them, tags
    latest = rpc("eth_getBlockByNumber", "latest", True)
    genesis = rpc("eth_getBlockByNumber", "earliest", False)
    store_block = rpc("eth_getBlockByHash", block_hash, True)
    for block in (latest, genesis, store_block):
        assert header_hash(block) == block["hash"]
    assert (latest["number"], genesis["number"], store_block["number"]) == ("0x4", "0x0", "0x2")
    assert genesis["parentHash"] == "0x" + "00" * 32
    assert rpc("eth_getBlockByNumber", "0x3", False)["parentHash"] == block_hash
    for tag in ("safe", "finalized"):  # BFT: every block is final
        assert rpc("eth_getBlockByNumber", tag, False)["hash"] == latest["hash"]
    pending = rpc("eth_getBlockByNumber", "pending", False)  # on a dev node: the next block
    assert (pending["number"], pending["parentHash"]) == ("0x5", latest["hash"])
    assert pending["transactions"] == [] and _int(pending["timestamp"]) > _int(latest["timestamp"])
    assert rpc("eth_getBlockByNumber", "0xffff", False) is None
    assert [tx["hash"] for tx in latest["transactions"]] == [dynamic]
    assert [tx["hash"] for tx in store_block["transactions"]] == [stored]
    assert rpc("eth_getBlockTransactionCountByNumber", head) == "0x1"
    assert rpc("eth_getBlockTransactionCountByHash", block_hash) == "0x1"
    # transactions: fields re-encode to what was sent, hashes and senders recomputed
    by_hash = {h: rpc("eth_getTransactionByHash", h) for h in (stored, legacy, dynamic)}
    assert raw_transaction(by_hash[legacy]) == _raw(legacy_raw)
    assert raw_transaction(by_hash[dynamic]) == _raw(dynamic_raw)
    for h, tx in by_hash.items():
        raw = raw_transaction(tx)
        assert "0x" + keccak(raw).hex() == h == tx["hash"]
        assert Account.recover_transaction(raw).lower() == tx["from"]
    assert by_hash[stored]["from"] == ADDRS[0] and by_hash[stored]["to"] == contract
    assert by_hash[stored]["input"] == chain.store_call(42)
    assert [by_hash[h]["blockNumber"] for h in (stored, legacy, dynamic)] == ["0x2", "0x3", "0x4"]
    assert rpc("eth_getTransactionByBlockHashAndIndex", block_hash, "0x0") == by_hash[stored]
    assert rpc("eth_getTransactionByBlockNumberAndIndex", head, "0x0") == by_hash[dynamic]
    # receipts
    store_receipt = rpc("eth_getTransactionReceipt", stored)
    assert store_receipt["transactionHash"] == stored and store_receipt["status"] == "0x1"
    assert (store_receipt["blockHash"], store_receipt["blockNumber"]) == (block_hash, "0x2")
    assert store_receipt["contractAddress"] is None
    assert store_receipt["cumulativeGasUsed"] == store_receipt["gasUsed"] == store_block["gasUsed"]
    stored_topic = "0x" + keccak(b"Stored(address,uint256)").hex()
    [log] = store_receipt["logs"]
    assert (log["address"], log["data"], log["logIndex"]) == (contract, word(42), "0x0")
    assert log["topics"] == [stored_topic, "0x" + "00" * 12 + ADDRS[0][2:]]
    bloom = BloomFilter(_int(store_receipt["logsBloom"]))
    assert all(_raw(item) in bloom for item in (contract, *log["topics"]))
    assert store_receipt["logsBloom"] == store_block["logsBloom"]
    base_fee = _int(store_block["baseFeePerGas"])
    tx = by_hash[stored]
    tip = min(_int(tx["maxPriorityFeePerGas"]), _int(tx["maxFeePerGas"]) - base_fee)
    assert _int(store_receipt["effectiveGasPrice"]) == base_fee + tip
    transfer = rpc("eth_getTransactionReceipt", legacy)
    assert (transfer["transactionHash"], transfer["status"], transfer["gasUsed"]) == (
        legacy, "0x1", hex(21000)
    )  # fmt: skip
    assert transfer["to"] == ADDRS[2] and transfer["logs"] == []
    assert rpc("eth_getTransactionReceipt", "0x" + "00" * 32) is None
    assert rpc("eth_getBlockReceipts", block_hash) == [store_receipt]
    assert [r["transactionHash"] for r in rpc("eth_getBlockReceipts", "latest")] == [dynamic]
    # state: balances before and after the two transfers, code, storage, nonces, proofs
    assert _int(rpc("eth_getBalance", ADDRS[2], "latest")) == 10**24 + 2 * 12345
    at_store = {"blockHash": block_hash, "requireCanonical": True}
    assert _int(rpc("eth_getBalance", ADDRS[2], at_store)) == 10**24
    assert rpc("eth_getCode", contract, "latest") == chain.runtime_code
    assert rpc("eth_getStorageAt", contract, "0x0", "latest") == word(42)
    assert rpc("eth_getTransactionCount", ADDRS[1], "latest") == hex(nonce + 2)
    assert rpc("eth_getTransactionCount", ADDRS[1], "pending") == hex(nonce + 2)
    proof = rpc("eth_getProof", contract, ["0x0", "0x1"], "latest")
    account = rlp.decode(proven(latest["stateRoot"], _raw(contract), proof["accountProof"]))
    assert [_uint(proof["nonce"]), _uint(proof["balance"])] == account[:2] == [b"\x01", b""]
    assert [proof["storageHash"], proof["codeHash"]] == ["0x" + a.hex() for a in account[2:]]
    assert proof["codeHash"] == "0x" + keccak(_raw(chain.runtime_code)).hex()
    slot0, slot1 = proof["storageProof"]
    assert proven(proof["storageHash"], bytes(32), slot0["proof"]) == rlp.encode(42)
    assert slot0["value"] == "0x2a" and slot1["value"] == "0x0"
    assert proven(proof["storageHash"], (1).to_bytes(32, "big"), slot1["proof"]) == b""
    # execution
    assert rpc("eth_call", value_call, "latest") == word(42)
    assert rpc("eth_call", value_call, {"blockNumber": "0x1"}) == word(7)
    store_five = {"from": ADDRS[0], "to": contract, "input": chain.store_call(5)}
    gas = _int(rpc("eth_estimateGas", store_five))
    assert chain.rpc("eth_call", {**store_five, "gas": hex(gas)}, "latest") == "0x"
    assert chain.error("eth_call", {**store_five, "gas": hex(gas // 2)}, "latest")
    # logs: the one Stored event, by range and by block
    assert rpc("eth_getLogs", {"fromBlock": "earliest", "address": contract}) == [log]
    assert rpc("eth_getLogs", {"blockHash": block_hash}) == [log]
    # fees: history against the headers, and the base fee formula on the head
    history = rpc("eth_feeHistory", "0x4", "latest", [25, 75])
    blocks = [chain.rpc("eth_getBlockByNumber", hex(n), True) for n in range(1, 5)]
    assert history["oldestBlock"] == "0x1"
    assert history["baseFeePerGas"][:4] == [b["baseFeePerGas"] for b in blocks]
    assert history["gasUsedRatio"] == [_int(b["gasUsed"]) / _int(b["gasLimit"]) for b in blocks]
    tips = [_int(b["transactions"][0]["gasPrice"]) - _int(b["baseFeePerGas"]) for b in blocks]
    assert history["reward"] == [[hex(t), hex(t)] for t in tips]  # one transaction per block
    next_fee = _int(history["baseFeePerGas"][4])
    parent = SimpleNamespace(**{k: _int(latest[c]) for k, c in _BASE_FEE_FIELDS.items()})
    assert next_fee == calculate_expected_base_fee_per_gas(parent)  # py-evm's formula
    assert _int(rpc("eth_gasPrice")) == next_fee + _int(rpc("eth_maxPriorityFeePerGas"))
    first = rpc("eth_feeHistory", "0x1", "0x0", [])
    assert first["oldestBlock"] == "0x0" and first["gasUsedRatio"] == [0.0]
    assert first["baseFeePerGas"] == [genesis["baseFeePerGas"], blocks[0]["baseFeePerGas"]]
    # signing and the pool
    signature = rpc("eth_sign", ADDRS[0], "0x68656c6c6f")
    signer = Account.recover_message(encode_defunct(b"hello"), signature=_raw(signature))
    assert signer.lower() == ADDRS[0]
    assert rpc("txpool_status") == {"pending": "0x0", "queued": "0x0"}
    assert rpc("txpool_content") == {"pending": {}, "queued": {}}


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


def test_query_limits_on_the_real_node(chain: Chain) -> None:
    limits = chain.node.queries.limits
    try:
        chain.node.queries.limits = QueryLimits(gas_cap=100_000, max_logs=1)
        endless = {"input": "0x" + ENDLESS_LOOP.hex(), "gas": hex(2**64 - 1)}
        for method in ("eth_call", "eth_estimateGas"):
            error = chain.error(method, endless)
            assert error == {
                "code": -32000,
                "message": "out of gas: gas required exceeds allowance (100000)",
            }
        for value in (1, 2):
            call = {"from": ADDRS[0], "to": chain.contract, "input": chain.store_call(value)}
            chain.rpc("eth_sendTransaction", call)
        error = chain.error("eth_getLogs", {"fromBlock": "earliest", "address": chain.contract})
        assert error == {
            "code": -32005,
            "message": "query returned more than 1 results; query a smaller block range",
        }
    finally:
        chain.node.queries.limits = limits


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
    """Random bytes, and a real transaction cut short with a few random bytes after it,
    are refused with an error (none can be a funded, correctly signed transaction)."""
    answer = chain.app.call("eth_sendRawTransaction", "0x" + raw.hex())
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
