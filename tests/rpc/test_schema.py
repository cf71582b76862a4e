"""Results of every method validate against the execution-apis OpenRPC schemas, and the
recorded execution-apis exchanges parse and fail the way geth's did."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peerchain.rpc import RpcConfig

from .fake_view import DEV_ACCOUNT, REVERTER, TOKEN, FakeNodeView
from .harness import Rpc
from .openrpc import SPEC_ROOT, OpenRpcSpec, load_io

DEV = "0x" + DEV_ACCOUNT.hex()
TOKEN_HEX = "0x" + TOKEN.hex()
IO_FILES = sorted((SPEC_ROOT / "tests").glob("*/*.io"))
SPEC = OpenRpcSpec()
# Recordings of methods with a result schema (eth_simulateV1's disagree with the spec).
SCHEMA_CHECKED = [
    p for p in IO_FILES if SPEC.has(p.parent.name) and p.parent.name != "eth_simulateV1"
]


@pytest.fixture(scope="module")
def spec() -> OpenRpcSpec:
    return SPEC


def _results(rpc: Rpc, view: FakeNodeView) -> Iterator[tuple[str, Any]]:
    """(method, result) for every method with a spec, in all the shapes it can take."""
    block1 = "0x" + view.blocks[1].hash.hex()
    legacy, dynamic = view.blocks[1].transactions
    access_list, set_code = view.blocks[2].transactions
    call = {"from": DEV, "to": TOKEN_HEX, "input": "0x70a08231"}
    calls: list[tuple[str, list[Any]]] = [
        ("eth_chainId", []),
        ("eth_blockNumber", []),
        ("eth_syncing", []),
        ("eth_accounts", []),
        ("net_version", []),
        ("eth_gasPrice", []),
        ("eth_maxPriorityFeePerGas", []),
        ("eth_feeHistory", ["0x3", "latest", [10, 50, 90]]),
        ("eth_feeHistory", ["0x1", "0x1", []]),
        ("eth_feeHistory", ["0x0", "latest", []]),
        ("eth_getBalance", [DEV, "latest"]),
        ("eth_getCode", [TOKEN_HEX, "latest"]),
        ("eth_getCode", [DEV, {"blockHash": block1}]),
        ("eth_getStorageAt", [TOKEN_HEX, "0x0", "latest"]),
        ("eth_getTransactionCount", [DEV, "pending"]),
        ("eth_getProof", [TOKEN_HEX, ["0x0", "0x1"], "latest"]),
        ("eth_getProof", [DEV, [], "earliest"]),
        ("eth_getBlockByNumber", ["latest", False]),
        ("eth_getBlockByNumber", ["0x1", True]),
        ("eth_getBlockByNumber", ["earliest", True]),
        ("eth_getBlockByNumber", ["0x99", True]),
        ("eth_getBlockByHash", [block1, True]),
        ("eth_getBlockByHash", ["0x" + "00" * 32, False]),
        ("eth_getBlockTransactionCountByNumber", ["0x1"]),
        ("eth_getBlockTransactionCountByNumber", ["0x99"]),
        ("eth_getBlockTransactionCountByHash", [block1]),
        ("eth_getTransactionByHash", ["0x" + legacy.hash.hex()]),
        ("eth_getTransactionByHash", ["0x" + dynamic.hash.hex()]),
        ("eth_getTransactionByHash", ["0x" + access_list.hash.hex()]),
        ("eth_getTransactionByHash", ["0x" + set_code.hash.hex()]),
        ("eth_getBlockByNumber", ["0x2", True]),
        ("eth_getTransactionByHash", ["0x" + "00" * 32]),
        ("eth_getTransactionByBlockHashAndIndex", [block1, "0x0"]),
        ("eth_getTransactionByBlockNumberAndIndex", ["0x2", "0x0"]),
        ("eth_getTransactionByBlockNumberAndIndex", ["0x2", "0x5"]),
        ("eth_getTransactionReceipt", ["0x" + legacy.hash.hex()]),
        ("eth_getTransactionReceipt", ["0x" + dynamic.hash.hex()]),
        ("eth_getTransactionReceipt", ["0x" + "00" * 32]),
        ("eth_getBlockReceipts", ["0x1"]),
        ("eth_getBlockReceipts", ["earliest"]),
        ("eth_getBlockReceipts", ["0x99"]),
        ("eth_call", [call, "latest"]),
        ("eth_estimateGas", [call]),
        ("eth_createAccessList", [call, "latest"]),
        ("eth_createAccessList", [{"to": "0x" + REVERTER.hex(), "input": "0x01"}]),
        ("eth_blobBaseFee", []),
        ("eth_simulateV1", [{"blockStateCalls": [{"calls": [call]}, {}]}, "latest"]),
        (
            "eth_simulateV1",
            [{"blockStateCalls": [{"calls": [call, {"to": "0x" + REVERTER.hex()}]}]}],
        ),
        ("eth_getLogs", [{"fromBlock": "0x0"}]),
        ("eth_getLogs", [{"blockHash": block1, "topics": [None]}]),
        ("eth_sign", [DEV, "0x68656c6c6f"]),
        ("eth_sendRawTransaction", ["0x02f0"]),
        ("eth_sendTransaction", [{"from": DEV, "to": TOKEN_HEX}]),
        ("txpool_status", []),
        ("txpool_content", []),
        ("eth_newBlockFilter", []),
        ("eth_newPendingTransactionFilter", []),
    ]
    for method, params in calls:
        yield method, rpc(method, *params)
    log_filter = rpc("eth_newFilter", {"fromBlock": "0x0", "address": TOKEN_HEX})
    yield "eth_newFilter", log_filter
    block_filter = rpc("eth_newBlockFilter")
    rpc("eth_sendRawTransaction", "0x02f1")
    block = view.mine_pending()
    rpc.filters.on_header(block.header)
    rpc.filters.on_logs([log for r in view.receipts[block.hash] for log in r.logs])
    yield "eth_getFilterChanges", rpc("eth_getFilterChanges", block_filter)
    yield "eth_getFilterChanges", rpc("eth_getFilterChanges", log_filter)
    yield "eth_getFilterLogs", rpc("eth_getFilterLogs", log_filter)
    yield "eth_uninstallFilter", rpc("eth_uninstallFilter", log_filter)


def test_every_result_fits_its_schema(spec: OpenRpcSpec) -> None:
    view = FakeNodeView()
    rpc = Rpc(view)
    covered = set()
    for method, result in _results(rpc, view):
        spec.validate_result(method, result)
        covered.add(method)
    # debug_trace* results are checked on a real node in test_trace_rpc.py
    specified = {
        m for m in rpc.dispatcher.method_names if spec.has(m) and not m.startswith("debug_")
    }
    assert specified - covered == set()
    assert len(covered) >= 35


def test_validator_rejects_wrong_shapes(spec: OpenRpcSpec) -> None:
    assert not spec.is_valid_result("eth_blockNumber", "0x01")
    assert not spec.is_valid_result("eth_getBalance", 5)
    block = Rpc(FakeNodeView())("eth_getBlockByNumber", "latest", False)
    assert spec.is_valid_result("eth_getBlockByNumber", block)
    assert not spec.is_valid_result("eth_getBlockByNumber", {**block, "hash": "0x12"})
    assert not spec.is_valid_result(
        "eth_getBlockByNumber", {k: v for k, v in block.items() if k != "miner"}
    )


@pytest.mark.parametrize(
    "path", SCHEMA_CHECKED, ids=[f"{p.parent.name}/{p.stem}" for p in SCHEMA_CHECKED]
)
def test_recorded_geth_results_fit_the_validator(spec: OpenRpcSpec, path: Path) -> None:
    exchanges = load_io(path)
    results = [(q["method"], r["result"]) for q, r in exchanges if "result" in r]
    for method, result in results:
        spec.validate_result(method, result)
    assert results or all("error" in r for _, r in exchanges), f"{path.name}: nothing checked"


IMPLEMENTED = set(Rpc(FakeNodeView()).dispatcher.method_names)
REPLAYED = [p for p in IO_FILES if p.parent.name in IMPLEMENTED]


@pytest.mark.parametrize("path", REPLAYED, ids=[f"{p.parent.name}/{p.stem}" for p in REPLAYED])
def test_recorded_requests_replay(spec: OpenRpcSpec, path: Path) -> None:
    """Their chain is not ours: requests must parse, results must fit the schema, geth's
    parameter errors and reverts must be ours too, and what geth did not find (a block
    past our short chain, an unknown hash) we do not find either."""
    rpc = Rpc(FakeNodeView(), RpcConfig())
    for request, recorded in load_io(path):
        params = request.get("params", [])
        ours = rpc.request(request["method"], *params)
        if "error" in ours:
            assert ours["error"]["code"] not in (-32700, -32600, -32601, -32603), ours
        recorded_code = recorded.get("error", {}).get("code")
        # The fake's REVERTER sits at the address of the recordings' reverting contract.
        target = params[0].get("to") if params and isinstance(params[0], dict) else None
        reverts_here = target == "0x" + REVERTER.hex()
        if recorded_code == -32602 or (recorded_code == 3 and reverts_here):
            assert ours.get("error", {}).get("code") == recorded_code, ours
        elif "result" in recorded and recorded["result"] is None:
            assert ours.get("result", "missing") is None, ours
        if "result" in ours and spec.has(request["method"]):
            spec.validate_result(request["method"], ours["result"])
