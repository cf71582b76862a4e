"""debug_trace* over a real dev node (py-evm, LMDB): the three tracers' shapes and
contents, the options, the recorded execution-apis error answers, and the OpenRPC schemas."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import vyper

from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import dev_genesis
from peerchain.drivers.storage import LmdbStore
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger

from .harness import Rpc
from .openrpc import SPEC_ROOT, OpenRpcSpec, load_io

KEYS = [bytes([i + 7]) * 32 for i in range(2)]
SENDER = "0x" + private_key_to_address(KEYS[0]).hex()
SOURCE = (Path(__file__).resolve().parents[1] / "contracts" / "Traced.vy").read_text()
STORED_TOPIC = None  # filled from the ABI at fixture time


class Clock:
    def __init__(self) -> None:
        self.time = 1_760_000_000.0

    def now(self) -> float:
        return self.time


@dataclass
class Traced:
    rpc: Rpc
    first: str
    second: str
    selectors: dict[str, str]
    relay_tx: str

    def data(self, signature: str, *words: int | str) -> str:
        body = "".join(
            (int(w, 16) if isinstance(w, str) else w).to_bytes(32, "big").hex() for w in words
        )
        return self.selectors[signature] + body


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    out = vyper.compile_code(SOURCE, output_formats=["bytecode", "method_identifiers"])
    store = LmdbStore(Path(tmp_path_factory.mktemp("trace")) / "lmdb")
    genesis = dev_genesis(1337, [private_key_to_address(k) for k in KEYS], 10**24)
    node = DevNode(Ledger(store, genesis), Clock(), KEYS, automine=True)
    try:
        rpc = Rpc(node)
        addresses = []
        for _ in range(2):
            tx = rpc("eth_sendTransaction", {"from": SENDER, "input": out["bytecode"]})
            addresses.append(rpc("eth_getTransactionReceipt", tx)["contractAddress"])
        selectors = dict(out["method_identifiers"])
        ctx = Traced(rpc, addresses[0], addresses[1], selectors, "")
        ctx.relay_tx = rpc(
            "eth_sendTransaction",
            {
                "from": SENDER,
                "to": ctx.first,
                "value": "0x5",
                "input": ctx.data("relay(address,uint256)", ctx.second, 42),
            },
        )
        assert rpc("eth_getTransactionReceipt", ctx.relay_tx)["status"] == "0x1"
        yield ctx
    finally:
        store.close()


def test_struct_logger_follows_the_execution(traced: Traced) -> None:
    trace = traced.rpc("debug_traceTransaction", traced.relay_tx)
    receipt = traced.rpc("eth_getTransactionReceipt", traced.relay_tx)
    assert trace["gas"] == int(receipt["gasUsed"], 16)
    assert trace["failed"] is False and trace["returnValue"] == "0x"
    logs = trace["structLogs"]
    assert logs[0]["pc"] == 0 and logs[0]["depth"] == 1 and logs[0]["stack"] == []
    assert {log["depth"] for log in logs} == {1, 2}
    calls = [log for log in logs if log["op"] == "CALL"]
    assert len(calls) == 2
    # gas accounting: the next step at the same depth starts where this one's cost ends
    for here, after in itertools.pairwise(logs):
        if after["depth"] == here["depth"] and here["op"] not in ("CALL",):
            assert after["gas"] == here["gas"] - here["gasCost"], here
    sstores = [log for log in logs if log["op"] == "SSTORE"]
    assert sstores and all("storage" in log for log in sstores)
    slot_value = "0x" + (42).to_bytes(32, "big").hex()
    assert slot_value in sstores[0]["storage"].values()
    assert "memory" not in logs[10] and not any(log.get("refund") for log in logs)
    clear = {"from": SENDER, "to": traced.second, "input": traced.data("store(uint256)", 0)}
    cleared = traced.rpc("debug_traceCall", clear, "latest")["structLogs"]
    [sstore] = [i for i, log in enumerate(cleared) if log["op"] == "SSTORE"]
    assert "refund" not in cleared[sstore] and cleared[sstore + 1]["refund"] == 4800


def test_struct_logger_options(traced: Traced) -> None:
    plain = traced.rpc(
        "debug_traceTransaction",
        traced.relay_tx,
        {"disableStack": True, "disableStorage": True, "enableMemory": True, "limit": 20},
    )["structLogs"]
    assert len(plain) == 20
    assert all("stack" not in log and "storage" not in log for log in plain)
    assert any("memory" in log for log in plain)
    with_data = traced.rpc("debug_traceTransaction", traced.relay_tx, {"enableReturnData": True})[
        "structLogs"
    ]
    assert any("returnData" in log for log in with_data)


def test_call_tracer_tree_with_logs(traced: Traced) -> None:
    top = traced.rpc(
        "debug_traceTransaction",
        traced.relay_tx,
        {"tracer": "callTracer", "tracerConfig": {"withLog": True}},
    )
    receipt = traced.rpc("eth_getTransactionReceipt", traced.relay_tx)
    assert top["type"] == "CALL" and top["from"] == SENDER and top["to"] == traced.first
    assert top["value"] == "0x5" and top["gasUsed"] == receipt["gasUsed"]
    stored, failed = top["calls"]
    assert stored["type"] == "CALL" and stored["to"] == traced.second
    assert stored["input"].startswith(traced.selectors["store(uint256)"])
    assert len(stored["logs"]) == 1 and "error" not in stored
    assert failed["error"] == "execution reverted" and failed["revertReason"] == "no thanks"
    assert "logs" not in failed  # logs of a failed frame are dropped
    [own_log] = top["logs"]
    assert own_log["position"] == "0x2"
    assert own_log["index"] == "0x1"  # the block-wide index: the store call's log is 0x0
    assert [log["topics"][0] for log in receipt["logs"]] == [
        stored["logs"][0]["topics"][0],
        own_log["topics"][0],
    ]
    only_top = traced.rpc(
        "debug_traceTransaction",
        traced.relay_tx,
        {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": True}},
    )
    assert "calls" not in only_top and only_top["gasUsed"] == receipt["gasUsed"]


def test_call_tracer_sees_a_create(traced: Traced) -> None:
    call = {"from": SENDER, "to": traced.first, "input": traced.data("spawn()")}
    top = traced.rpc("debug_traceCall", call, "latest", {"tracer": "callTracer"})
    [created] = top["calls"]
    assert created["type"] == "CREATE" and created["from"] == traced.first
    assert int(top["output"], 16) == int(created["to"], 16)


def test_prestate_tracer_and_diff_mode(traced: Traced) -> None:
    pre = traced.rpc("debug_traceTransaction", traced.relay_tx, {"tracer": "prestateTracer"})
    sender = pre[SENDER]
    assert int(sender["balance"], 16) > 0 and sender["nonce"] == 2
    assert "code" in pre[traced.first] and "codeHash" in pre[traced.first]
    assert pre[traced.second]["storage"] == {"0x" + "00" * 32: "0x" + "00" * 32}
    diff = traced.rpc(
        "debug_traceTransaction",
        traced.relay_tx,
        {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}},
    )
    post = diff["post"]
    assert post[SENDER]["nonce"] == 3
    assert post[traced.second]["storage"] == {
        "0x" + "00" * 32: "0x" + (42).to_bytes(32, "big").hex()
    }
    assert (
        int(post[traced.first]["balance"], 16) == int(diff["pre"][traced.first]["balance"], 16) + 5
    )
    assert "storage" not in diff["pre"][traced.second]  # the slot was zero before


def test_trace_call_and_block_agree_with_the_chain(traced: Traced, spec: OpenRpcSpec) -> None:
    call = {"from": SENDER, "to": traced.first, "input": traced.data("stored()")}
    trace = traced.rpc("debug_traceCall", call, "latest")
    assert int(trace["returnValue"], 16) == int(traced.rpc("eth_call", call, "latest"), 16)
    failing = {"from": SENDER, "to": traced.first, "input": traced.data("fail(uint256)", 1)}
    failed = traced.rpc("debug_traceCall", failing, "latest")
    assert failed["failed"] is True and failed["structLogs"][-1]["op"] == "REVERT"
    receipt = traced.rpc("eth_getTransactionReceipt", traced.relay_tx)
    by_number = traced.rpc("debug_traceBlockByNumber", receipt["blockNumber"])
    by_hash = traced.rpc("debug_traceBlockByHash", receipt["blockHash"])
    single = traced.rpc("debug_traceTransaction", traced.relay_tx)
    assert by_number == by_hash == [{"txHash": traced.relay_tx, "result": single}]
    spec.validate_result("debug_traceBlockByNumber", by_number)
    spec.validate_result("debug_traceTransaction", single)
    calls = traced.rpc("debug_traceBlockByNumber", receipt["blockNumber"], {"tracer": "callTracer"})
    spec.validate_result("debug_traceBlockByNumber", calls)


@pytest.fixture(scope="module")
def spec() -> OpenRpcSpec:
    return OpenRpcSpec()


ERROR_FILES = [
    "debug_traceBlockByHash/trace-block-not-found.io",
    "debug_traceBlockByNumber/trace-genesis.io",
    "debug_traceBlockByNumber/trace-block-invalid-number.io",
    "debug_traceTransaction/trace-unknown-tx.io",
]


@pytest.mark.parametrize("path", ERROR_FILES)
def test_recorded_errors_are_reproduced(traced: Traced, path: str) -> None:
    [(request, response)] = load_io(SPEC_ROOT / "tests" / path)
    assert traced.rpc.error(request["method"], *request["params"]) == response["error"]


def test_genesis_by_hash_is_not_traceable(traced: Traced) -> None:
    genesis = traced.rpc("eth_getBlockByNumber", "0x0", False)["hash"]
    error = traced.rpc.error("debug_traceBlockByHash", genesis)
    assert error == {"code": -32000, "message": "genesis is not traceable"}


@pytest.mark.parametrize(
    "options",
    [
        {"tracer": "4byteTracer"},
        {"disableStack": "yes"},
        {"tracer": "callTracer", "tracerConfig": {"withLog": 1}},
        {"tracer": "callTracer", "tracerConfig": 5},
        {"limit": -1},
    ],
)
def test_bad_options_are_invalid_params(traced: Traced, options: dict[str, Any]) -> None:
    """Unsupported tracers and known fields of the wrong type; unknown fields are ignored,
    as geth ignores them (see test_unknown_options_are_ignored)."""
    error = traced.rpc.error("debug_traceTransaction", traced.relay_tx, options)
    assert error["code"] == -32602


def test_out_of_gas_is_reported_where_it_happened(traced: Traced) -> None:
    call = {
        "from": SENDER,
        "to": traced.first,
        "input": traced.data("store(uint256)", 5),
        "gas": hex(25_000),
    }
    trace = traced.rpc("debug_traceCall", call, "latest")
    last = trace["structLogs"][-1]
    assert (last["op"], last["error"]) == ("SSTORE", "out of gas")
    assert trace["failed"] is True and trace["returnValue"] == "0x" and trace["gas"] == 25_000
    assert all("error" not in log for log in trace["structLogs"][:-1])
    top = traced.rpc("debug_traceCall", call, "latest", {"tracer": "callTracer"})
    assert top["error"] == "out of gas" and top["gasUsed"] == hex(25_000)


def test_selfdestruct_in_a_creation(traced: Traced) -> None:
    beneficiary = "0x" + "be" * 20
    init = "0x73" + "be" * 20 + "ff"  # PUSH20 beneficiary; SELFDESTRUCT
    call = {"from": SENDER, "input": init, "value": "0x7"}
    top = traced.rpc("debug_traceCall", call, "latest", {"tracer": "callTracer"})
    assert top["type"] == "CREATE" and top["value"] == "0x7"
    [destruct] = top["calls"]
    assert destruct["type"] == "SELFDESTRUCT" and destruct["to"] == beneficiary
    assert destruct["value"] == "0x7" and destruct["from"] == top["to"]
    diff = traced.rpc(
        "debug_traceCall",
        call,
        "latest",
        {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}},
    )
    assert diff["post"][beneficiary] == {"balance": "0x7"}
    assert top["to"] not in diff["post"]  # made and destroyed in the same transaction


def test_oversized_traces_fail_instead_of_growing(
    traced: Traced, monkeypatch: pytest.MonkeyPatch
) -> None:
    from peerchain.execution.tracing import structlog

    monkeypatch.setattr(structlog, "MAX_TRACE_VALUES", 500)
    error = traced.rpc.error("debug_traceTransaction", traced.relay_tx)
    assert error["code"] == -32000 and error["message"].startswith("trace too large")
    kept = traced.rpc("debug_traceTransaction", traced.relay_tx, {"limit": 10})["structLogs"]
    assert len(kept) == 10


def test_trace_call_takes_state_and_block_overrides(traced: Traced) -> None:
    call = {"from": SENDER, "to": traced.second, "input": traced.data("stored()")}
    slot = "0x" + "00" * 32
    options = {
        "stateOverrides": {
            traced.second: {"stateDiff": {slot: "0x" + (99).to_bytes(32, "big").hex()}}
        },
        "blockOverrides": {"number": "0x4d2"},
    }
    trace = traced.rpc("debug_traceCall", call, "latest", options)
    assert int(trace["returnValue"], 16) == 99
    assert int(traced.rpc("eth_call", call, "latest"), 16) == 42  # nothing stayed
    with_tracer = {**options, "tracer": "callTracer"}
    top = traced.rpc("debug_traceCall", call, "latest", with_tracer)
    assert int(top["output"], 16) == 99
    number = {"from": SENDER, "input": "0x4360005260206000f3"}  # returns NUMBER as init code
    block = traced.rpc("debug_traceCall", number, "latest", {"blockOverrides": {"number": "0x4d2"}})
    assert int(block["returnValue"], 16) == 0x4D2
    assert block["structLogs"][0]["op"] == "NUMBER"
    assert block["structLogs"][1]["stack"] == ["0x4d2"]
    error = traced.rpc.error("debug_traceCall", call, "latest", {"stateOverrides": 5})
    assert error["code"] == -32602


def test_unknown_options_are_ignored_as_geth_does(traced: Traced) -> None:
    plain = traced.rpc("debug_traceTransaction", traced.relay_tx)
    extra = {"timeout": "5s", "reexec": 128, "tracerConfig": {"withLog": True}, "future": 1}
    assert traced.rpc("debug_traceTransaction", traced.relay_tx, extra) == plain
    calls = {"tracer": "callTracer", "tracerConfig": {"diffMode": True}}
    top = traced.rpc("debug_traceTransaction", traced.relay_tx, calls)
    assert top["type"] == "CALL" and "logs" not in top
