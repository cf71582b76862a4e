"""eth_simulateV1 on a real dev node (py-evm, LMDB): blocks of calls that build on each
other and leave the chain as it was, geth's checks and error codes, transfer logs, the
shared gas budget, and the answer's shape against the execution-apis schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import vyper

from peerchain.core.crypto import checksum_address, keccak256, private_key_to_address
from peerchain.core.genesis import dev_genesis
from peerchain.core.simulate import MAX_CALLS
from peerchain.drivers.storage import LmdbStore
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger
from peerchain.node.queries import InlineQueries, QueryLimits

from .harness import Rpc
from .openrpc import OpenRpcSpec

KEY = bytes([7]) * 32
SENDER = "0x" + private_key_to_address(KEY).hex()
OTHER = "0x" + "c1" * 20
SOURCE = (Path(__file__).resolve().parents[1] / "contracts" / "Store.vy").read_text()
GAS_CAP = 5_000_000
# NUMBER - 1, BLOCKHASH of it, returned (as the code a creation deploys)
PREVIOUS_HASH = "0x600143034060005260206000f3"
REVERTS = "0x60006000fd"  # REVERT(0, 0)
LOOPS = "0x5b600056"  # JUMPDEST; PUSH1 0; JUMP


class Clock:
    def now(self) -> float:
        return 1_750_000_000.0


class Chain:
    def __init__(self, node: DevNode) -> None:
        self.node = node
        self.rpc = Rpc(node)
        out = vyper.compile_code(SOURCE, output_formats=["bytecode", "method_identifiers"])
        self.selectors = {k: v for k, v in out["method_identifiers"].items()}
        deploy = out["bytecode"] + (7).to_bytes(32, "big").hex()
        tx = self.rpc("eth_sendTransaction", {"from": SENDER, "input": deploy})
        self.contract = self.rpc("eth_getTransactionReceipt", tx)["contractAddress"]

    def input(self, signature: str, *args: int) -> str:
        return self.selectors[signature] + "".join(a.to_bytes(32, "big").hex() for a in args)

    def simulate(self, *blocks: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
        result = self.rpc("eth_simulateV1", {"blockStateCalls": list(blocks), **options}, "latest")
        assert isinstance(result, list)
        return result

    def error(self, *blocks: dict[str, Any], **options: Any) -> dict[str, Any]:
        return self.rpc.error("eth_simulateV1", {"blockStateCalls": list(blocks), **options})


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    store = LmdbStore(Path(tmp_path_factory.mktemp("simulate")) / "lmdb")
    try:
        genesis = dev_genesis(1337, [private_key_to_address(KEY)], 10**24)
        ledger = Ledger(store, genesis, dev=True)
        queries = InlineQueries(ledger.engine, QueryLimits(gas_cap=GAS_CAP))
        yield Chain(DevNode(ledger, Clock(), [KEY], automine=True, queries=queries))
    finally:
        store.close()


def test_blocks_build_on_each_other_and_leave_the_chain_as_it_was(chain: Chain) -> None:
    head = chain.rpc("eth_getBlockByNumber", "latest", False)
    store = {"from": SENDER, "to": chain.contract, "input": chain.input("store(uint256)", 5)}
    read = {"from": SENDER, "to": chain.contract, "input": chain.input("value()")}
    blocks = chain.simulate(
        {"calls": [store, read]},
        {"calls": [read, {"from": SENDER, "input": PREVIOUS_HASH}]},
    )
    first, second = blocks
    assert [int(b["number"], 16) for b in blocks] == [
        int(head["number"], 16) + 1,
        int(head["number"], 16) + 2,
    ]
    assert int(first["timestamp"], 16) == int(head["timestamp"], 16) + 12
    assert first["parentHash"] == head["hash"] and second["parentHash"] == first["hash"]
    assert first["calls"][1]["returnData"] == "0x" + (5).to_bytes(32, "big").hex()
    assert second["calls"][0]["returnData"] == "0x" + (5).to_bytes(32, "big").hex()
    assert second["calls"][1]["returnData"] == first["hash"]  # BLOCKHASH sees the simulated block
    [stored] = first["calls"][0]["logs"]
    assert stored["address"] == chain.contract.lower() and stored["blockHash"] == first["hash"]
    assert stored["transactionHash"] == first["transactions"][0]
    assert int(first["gasUsed"], 16) == sum(int(c["gasUsed"], 16) for c in first["calls"])
    assert first["baseFeePerGas"] == "0x0"  # without validation, as in geth
    # nothing stayed: the head and the contract's value are as before
    assert chain.rpc("eth_getBlockByNumber", "latest", False)["hash"] == head["hash"]
    assert chain.rpc("eth_call", read, "latest") == "0x" + (7).to_bytes(32, "big").hex()


def test_failed_calls_are_results_and_refused_calls_refuse_the_request(chain: Chain) -> None:
    overrides = {"0x" + "aa" * 20: {"code": REVERTS}, "0x" + "bb" * 20: {"code": LOOPS}}
    unlucky = {"from": SENDER, "to": chain.contract, "input": chain.input("store(uint256)", 13)}
    [block] = chain.simulate(
        {
            "stateOverrides": overrides,
            "calls": [
                {"from": SENDER, "to": "0x" + "aa" * 20},
                {"from": SENDER, "to": "0x" + "bb" * 20, "gas": hex(30_000)},
                unlucky,
            ],
        }
    )
    reverted, looped, refused = block["calls"]
    assert reverted["status"] == "0x0" and reverted["returnData"] == "0x"
    assert reverted["error"] == {"code": 3, "message": "execution reverted", "data": "0x"}
    assert looped["error"] == {"code": -32015, "message": "out of gas"}
    assert looped["gasUsed"] == hex(30_000)
    assert refused["error"]["message"] == "execution reverted: unlucky"
    assert refused["returnData"] == "0x" and refused["error"]["data"].startswith("0x08c379a0")
    poor = "0x" + "dd" * 20
    error = chain.error({"calls": [{"from": poor, "to": OTHER, "value": "0x1"}]})
    assert error == {
        "code": -38014,
        "message": "err: insufficient funds for gas * price + value: address "
        f"{checksum_address(bytes.fromhex(poor[2:]))} have 0 want 1 (supplied gas {GAS_CAP})",
    }
    too_high = chain.error(
        {"calls": [{"from": SENDER, "to": OTHER, "nonce": "0x63"}]}, validation=True
    )
    assert too_high["code"] == -38011 and "nonce too high" in too_high["message"]
    no_fee = chain.error({"calls": [{"from": SENDER, "to": OTHER}]}, validation=True)
    assert no_fee["code"] == -38012
    full = chain.error(
        {
            "blockOverrides": {"gasLimit": hex(50_000)},
            "calls": [{"from": SENDER, "to": OTHER, "gas": hex(60_000)}],
        }
    )
    assert full == {"code": -38015, "message": "block gas limit reached: 0 >= 50000"}


def test_validation_prices_the_block_by_its_parent(chain: Chain) -> None:
    fee = int(chain.rpc("eth_getBlockByNumber", "pending", False)["baseFeePerGas"], 16)
    call = {"from": SENDER, "to": OTHER, "value": "0x5", "maxFeePerGas": hex(2 * fee)}
    [block] = chain.simulate({"calls": [call]}, validation=True, returnFullTransactions=True)
    assert int(block["baseFeePerGas"], 16) == fee
    [tx] = block["transactions"]
    assert (
        tx["from"] == SENDER and tx["gasPrice"] == hex(fee) and (tx["r"], tx["s"]) == ("0x0", "0x0")
    )


def test_transfers_are_logged_when_asked(chain: Chain) -> None:
    send = {"from": SENDER, "to": OTHER, "value": hex(1000)}
    [plain] = chain.simulate({"calls": [send]})
    assert plain["calls"][0]["logs"] == []
    [traced] = chain.simulate({"calls": [send]}, traceTransfers=True)
    [log] = traced["calls"][0]["logs"]
    assert log["address"] == "0x" + "ee" * 20
    assert log["topics"] == [
        "0x" + keccak256(b"Transfer(address,address,uint256)").hex(),
        "0x" + SENDER[2:].rjust(64, "0"),
        "0x" + OTHER[2:].rjust(64, "0"),
    ]
    assert log["data"] == "0x" + (1000).to_bytes(32, "big").hex()
    assert traced["logsBloom"] == plain["logsBloom"]  # not a log of the chain's receipts
    reverting = {"from": SENDER, "to": "0x" + "aa" * 20, "value": hex(1000)}
    [undone] = chain.simulate(
        {"stateOverrides": {"0x" + "aa" * 20: {"code": REVERTS}}, "calls": [reverting]},
        traceTransfers=True,
    )
    assert undone["calls"][0]["logs"] == []


def test_calls_share_the_gas_cap_and_requests_are_bounded(chain: Chain) -> None:
    read = {"from": SENDER, "to": chain.contract, "input": chain.input("value()")}
    [block] = chain.simulate({"calls": [read, read]}, returnFullTransactions=True)
    first, second = block["transactions"]
    assert int(first["gas"], 16) == GAS_CAP
    assert int(second["gas"], 16) == GAS_CAP - int(block["calls"][0]["gasUsed"], 16)
    too_many = chain.error({"calls": [{"from": SENDER, "to": OTHER}] * (MAX_CALLS + 1)})
    assert too_many == {
        "code": -38026,
        "message": f"too many calls: at most {MAX_CALLS} in one request",
    }
    assert chain.error(*[{}] * 257) == {"code": -38026, "message": "too many blocks"}
    # refused before its blocks are read: a huge request costs no more than its body
    huge = chain.error(*[{"calls": "not even calls"}] * 100_000)
    assert huge == {"code": -38026, "message": "too many blocks"}
    blob = {"from": SENDER, "to": OTHER, "blobVersionedHashes": ["0x01" + "00" * 31]}
    refused = chain.error({"calls": [blob]})
    assert (
        refused["code"] == -32602 and "blobVersionedHashes is not supported" in refused["message"]
    )
    later = chain.error({"blockOverrides": {"blobBaseFee": "0x1"}})
    assert later["code"] == -32602 and "blobBaseFee" in later["message"]
    assert chain.rpc.error("eth_simulateV1", {"blockStateCalls": []})["code"] == -32602


def test_answers_fit_the_schema(chain: Chain) -> None:
    store = {"from": SENDER, "to": chain.contract, "input": chain.input("store(uint256)", 9)}
    reverted = {"from": SENDER, "to": chain.contract, "input": chain.input("store(uint256)", 13)}
    for full in (False, True):
        result = chain.simulate({"calls": [store, reverted]}, {}, returnFullTransactions=full)
        OpenRpcSpec().validate_result("eth_simulateV1", result)


def test_precompiles_move_as_in_geth(chain: Chain) -> None:
    identity = "0x" + "00" * 19 + "04"
    moved = {identity: {"movePrecompileToAddress": OTHER}}
    calls = [
        {"from": SENDER, "to": OTHER, "input": "0x1234"},
        {"from": SENDER, "to": identity, "input": "0x1234"},
    ]
    [block] = chain.simulate({"stateOverrides": moved, "calls": calls})
    assert [c["returnData"] for c in block["calls"]] == ["0x1234", "0x"]
    # the same overrides in eth_call
    call = {"from": SENDER, "to": OTHER, "input": "0xabcd"}
    assert chain.rpc("eth_call", call, "latest", moved) == "0xabcd"
    not_one = chain.error({"stateOverrides": {OTHER: {"movePrecompileToAddress": identity}}})
    assert not_one == {
        "code": -32000,
        "message": f"account {checksum_address(bytes.fromhex(OTHER[2:]))} is not a precompile",
    }
    taken = {identity: {"movePrecompileToAddress": OTHER}, OTHER: {"balance": "0x1"}}
    assert chain.error({"stateOverrides": taken})["message"].endswith("is already overridden")
