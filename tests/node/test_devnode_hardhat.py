"""Hardhat's and Anvil's dev methods and block semantics on a real dev node (py-evm, LMDB),
driven through the JSON-RPC dispatcher."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from tests.rpc.harness import Rpc
from web3 import Web3

from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import dev_genesis
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.storage import LmdbStore
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger

KEYS = dev_private_keys(2)
DEV = "0x" + private_key_to_address(KEYS[0]).hex()
OTHER = "0x" + private_key_to_address(KEYS[1]).hex()
STRANGER = "0x" + "ab" * 20
CONTRACT = "0x" + "c0" * 20
# Returns (block.number, block.timestamp, block.basefee).
CONTEXT_CODE = "0x4360005242602052486040526060" + "6000f3"
# Reverts with the 4 bytes 0xdeadbeef.
REVERT_CODE = "0x63deadbeef60005260046" + "01cfd"


class Clock:
    def __init__(self) -> None:
        self.time = 1_700_000_000.0

    def now(self) -> float:
        return self.time


def open_node(path: Path) -> tuple[DevNode, LmdbStore]:
    genesis = dev_genesis(1337, [private_key_to_address(k) for k in KEYS], 10**24)
    store = LmdbStore(path)
    return DevNode(Ledger(store, genesis, dev=True), Clock(), KEYS), store


@pytest.fixture
def node(tmp_path: Path) -> Iterator[DevNode]:
    dev, store = open_node(tmp_path / "chain")
    yield dev
    store.close()


@pytest.fixture
def rpc(node: DevNode) -> Rpc:
    return Rpc(node)


def words(hex_data: str) -> list[int]:
    raw = bytes.fromhex(hex_data[2:])
    return [int.from_bytes(raw[i : i + 32], "big") for i in range(0, len(raw), 32)]


@pytest.mark.parametrize("ns", ["hardhat", "anvil"])
def test_account_edits_show_at_once_and_last(rpc: Rpc, ns: str) -> None:
    assert rpc(f"{ns}_setBalance", STRANGER, "0x1234") is True
    assert rpc("eth_getBalance", STRANGER, "latest") == "0x1234"
    number = rpc("eth_blockNumber")
    assert rpc("eth_getBalance", STRANGER, number) == "0x1234"
    rpc(f"{ns}_setNonce", STRANGER, "0x7")
    assert rpc("eth_getTransactionCount", STRANGER, "latest") == "0x7"
    rpc(f"{ns}_setCode", CONTRACT, CONTEXT_CODE)
    assert rpc("eth_getCode", CONTRACT, "latest") == CONTEXT_CODE
    rpc(f"{ns}_setStorageAt", CONTRACT, "0x5", "0x" + "00" * 31 + "2a")
    assert int(rpc("eth_getStorageAt", CONTRACT, "0x5", "latest"), 16) == 42
    # The head block itself is unchanged; the next block starts from the edited state.
    block = rpc("eth_getBlockByNumber", "latest", False)
    rpc("evm_mine")
    assert rpc("eth_getBalance", STRANGER, "latest") == "0x1234"
    assert rpc("eth_getBlockByNumber", block["number"], False)["hash"] == block["hash"]
    assert rpc("eth_getBlockByNumber", "latest", False)["stateRoot"] != block["stateRoot"]


def test_snapshot_restores_edited_state(rpc: Rpc) -> None:
    rpc("hardhat_setBalance", STRANGER, "0x10")
    snap = rpc("evm_snapshot")
    rpc("hardhat_setBalance", STRANGER, "0x20")
    rpc("evm_mine")
    assert rpc("evm_revert", snap) is True
    assert rpc("eth_getBalance", STRANGER, "latest") == "0x10"


def test_impersonated_sender_needs_no_key(rpc: Rpc) -> None:
    rpc("hardhat_setBalance", STRANGER, hex(10**18))
    tx = {"from": STRANGER, "to": OTHER, "value": "0x5"}
    assert rpc.error("eth_sendTransaction", tx)["code"] == -32000
    rpc("hardhat_impersonateAccount", STRANGER)
    tx_hash = rpc("eth_sendTransaction", tx)
    receipt = rpc("eth_getTransactionReceipt", tx_hash)
    assert receipt["status"] == "0x1" and receipt["from"] == STRANGER
    assert rpc("eth_getTransactionByHash", tx_hash)["from"] == STRANGER
    block = rpc("eth_getBlockByNumber", receipt["blockNumber"], True)
    assert block["transactions"][0]["from"] == STRANGER
    rpc("hardhat_stopImpersonatingAccount", STRANGER)
    assert rpc.error("eth_sendTransaction", tx)["code"] == -32000
    rpc("anvil_autoImpersonateAccount", True)
    assert rpc("eth_getTransactionReceipt", rpc("eth_sendTransaction", tx))["status"] == "0x1"


def test_raw_transactions_cannot_pose_as_impersonated(rpc: Rpc, node: DevNode) -> None:
    from peerchain.core.transactions import UnsignedTransaction, impersonate_transaction

    unsigned = UnsignedTransaction(
        type=2, chain_id=1337, nonce=0, gas_limit=21000, max_fee_per_gas=10**10, to=bytes(20)
    )
    raw = impersonate_transaction(unsigned, bytes.fromhex(DEV[2:])).raw
    error = rpc.error("eth_sendRawTransaction", "0x" + raw.hex())
    assert error["code"] == -32000 and "impersonated" in error["message"]


def test_a_million_blocks_are_reserved_consistently(rpc: Rpc, tmp_path: Path) -> None:
    start = int(rpc("eth_blockNumber"), 16)
    before = rpc("eth_getBlockByNumber", "latest", False)
    rpc("hardhat_setBalance", STRANGER, "0x99")
    assert rpc("hardhat_mine", hex(1_000_000), "0x2") is True
    head = int(rpc("eth_blockNumber"), 16)
    assert head == start + 1_000_000
    first = rpc("eth_getBlockByNumber", hex(start + 1), False)
    assert first["parentHash"] == before["hash"]
    for number in (start + 2, start + 500_000, head - 1, head):
        block = rpc("eth_getBlockByNumber", hex(number), False)
        parent = rpc("eth_getBlockByNumber", hex(number - 1), False)
        assert int(block["number"], 16) == number
        assert block["parentHash"] == parent["hash"]
        assert int(block["timestamp"], 16) - int(parent["timestamp"], 16) == 2
        assert rpc("eth_getBlockByHash", block["hash"], False) == block
        assert rpc("eth_getBalance", STRANGER, hex(number)) == "0x99"
    assert rpc("eth_getLogs", {"fromBlock": hex(head - 100), "toBlock": "latest"}) == []
    history = rpc("eth_feeHistory", "0x5", "latest", [])
    assert len(history["baseFeePerGas"]) == 6
    # A transaction after the run is mined on top of it.
    tx_hash = rpc("eth_sendTransaction", {"from": DEV, "to": OTHER, "value": "0x1"})
    receipt = rpc("eth_getTransactionReceipt", tx_hash)
    assert int(receipt["blockNumber"], 16) == head + 1
    mined = rpc("eth_getBlockByNumber", receipt["blockNumber"], False)
    assert mined["parentHash"] == rpc("eth_getBlockByNumber", hex(head), False)["hash"]
    assert int(mined["timestamp"], 16) > int(
        rpc("eth_getBlockByNumber", hex(head), False)["timestamp"], 16
    )


def test_reserved_blocks_survive_restart_and_revert(tmp_path: Path) -> None:
    node, store = open_node(tmp_path / "chain")
    rpc = Rpc(node)
    snap = rpc("evm_snapshot")
    rpc("hardhat_mine", "0x3e8")
    middle = rpc("eth_getBlockByNumber", "0x1f4", False)
    store.close()
    node, store = open_node(tmp_path / "chain")
    rpc = Rpc(node)
    assert rpc("eth_blockNumber") == "0x3e8"
    assert rpc("eth_getBlockByNumber", "0x1f4", False) == middle
    snap = rpc("evm_snapshot")
    rpc("hardhat_mine", "0x3e8")
    assert rpc("evm_revert", snap) is True
    assert rpc("eth_blockNumber") == "0x3e8"
    assert rpc("eth_getBlockByNumber", "0x5dc", False) is None
    rpc("evm_mine")
    assert rpc("eth_blockNumber") == "0x3e9"
    store.close()


def test_pending_is_the_next_block(rpc: Rpc) -> None:
    rpc("hardhat_setCode", CONTRACT, CONTEXT_CODE)
    latest = rpc("eth_getBlockByNumber", "latest", False)
    target = int(latest["timestamp"], 16) + 1000
    rpc("evm_setNextBlockTimestamp", target)
    pending = rpc("eth_getBlockByNumber", "pending", False)
    assert int(pending["number"], 16) == int(latest["number"], 16) + 1
    assert int(pending["timestamp"], 16) == target
    number, timestamp, _ = words(rpc("eth_call", {"to": CONTRACT}, "pending"))
    assert (number, timestamp) == (int(pending["number"], 16), target)
    assert words(rpc("eth_call", {"to": CONTRACT}, "latest"))[0] == int(latest["number"], 16)
    rpc("evm_mine")
    mined = rpc("eth_getBlockByNumber", "latest", False)
    assert int(mined["timestamp"], 16) == target
    assert mined["baseFeePerGas"] == pending["baseFeePerGas"]


def test_failing_transaction_is_mined_and_reported(rpc: Rpc) -> None:
    rpc("hardhat_setCode", CONTRACT, REVERT_CODE)
    number = int(rpc("eth_blockNumber"), 16)
    error = rpc.error("eth_sendTransaction", {"from": DEV, "to": CONTRACT, "gas": "0x10000"})
    assert error["code"] == 3 and error["data"] == "0xdeadbeef"
    assert int(rpc("eth_blockNumber"), 16) == number + 1
    block = rpc("eth_getBlockByNumber", "latest", True)
    receipt = rpc("eth_getTransactionReceipt", block["transactions"][0]["hash"])
    assert receipt["status"] == "0x0"


def test_estimate_respects_calldata_floor(rpc: Rpc) -> None:
    data = "0x" + "ff" * 100
    estimate = int(rpc("eth_estimateGas", {"from": DEV, "to": OTHER, "data": data}), 16)
    assert estimate == 21_000 + 10 * 4 * 100
    tx = {"from": DEV, "to": OTHER, "data": data, "gas": hex(estimate)}
    assert rpc("eth_getTransactionReceipt", rpc("eth_sendTransaction", tx))["status"] == "0x1"


def test_state_and_block_overrides(rpc: Rpc) -> None:
    overrides = {CONTRACT: {"code": CONTEXT_CODE}}
    number, timestamp, _ = words(
        rpc("eth_call", {"to": CONTRACT}, "latest", overrides, {"number": "0x99", "time": "0x7"})
    )
    assert (number, timestamp) == (0x99, 7)
    assert rpc("eth_getCode", CONTRACT, "latest") == "0x"
    balance = {STRANGER: {"balance": hex(10**18)}}
    tx = {"from": STRANGER, "to": OTHER, "value": hex(10**17), "maxFeePerGas": hex(10**10)}
    assert int(rpc("eth_estimateGas", tx, "latest", balance), 16) == 21_000
    assert rpc.error("eth_estimateGas", tx, "latest")["code"] == -32000


def test_signing_for_dev_accounts(rpc: Rpc) -> None:
    typed: dict[str, Any] = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}],
            "Mail": [{"name": "to", "type": "address"}, {"name": "note", "type": "string"}],
        },
        "primaryType": "Mail",
        "domain": {"name": "Test"},
        "message": {"to": OTHER, "note": "hi"},
    }
    signature = rpc("eth_signTypedData_v4", DEV, typed)
    signed = encode_typed_data(full_message=typed)
    assert Account.recover_message(signed, signature=signature).lower() == DEV
    result = rpc("eth_signTransaction", {"from": DEV, "to": OTHER, "value": "0x1"})
    assert Account.recover_transaction(result["raw"]).lower() == DEV
    assert result["tx"]["from"] == DEV
    assert rpc.error("eth_signTypedData_v4", DEV, {"types": 1})["code"] == -32602


def test_block_settings_for_the_next_block(rpc: Rpc) -> None:
    rpc("hardhat_setNextBlockBaseFeePerGas", "0x3b9aca00")
    assert rpc("eth_getBlockByNumber", "pending", False)["baseFeePerGas"] == "0x3b9aca00"
    rpc("hardhat_setCoinbase", OTHER)
    rpc("hardhat_setPrevRandao", "0x" + "11" * 32)
    rpc("evm_setBlockGasLimit", hex(20_000_000))
    rpc("evm_mine")
    block = rpc("eth_getBlockByNumber", "latest", False)
    assert block["baseFeePerGas"] == "0x3b9aca00"
    assert block["miner"] == OTHER and rpc("eth_coinbase") == OTHER
    assert block["mixHash"] == "0x" + "11" * 32
    assert block["gasLimit"] == hex(20_000_000)
    rpc("hardhat_mine", "0x3e8")  # a reserved run keeps the settings of the block before
    assert rpc("eth_getBlockByNumber", "latest", False)["gasLimit"] == hex(20_000_000)
    assert rpc("eth_getBlockByNumber", hex(int(block["number"], 16) + 500), False)["miner"] == OTHER


def test_pool_and_node_settings(rpc: Rpc, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert rpc("hardhat_getAutomine") is True and rpc("eth_mining") is True
    rpc("evm_setAutomine", False)
    assert rpc("anvil_getAutomine") is False and rpc("eth_mining") is False
    tx_hash = rpc("eth_sendTransaction", {"from": DEV, "to": OTHER, "value": "0x1"})
    assert rpc("hardhat_dropTransaction", tx_hash) is True
    assert rpc("hardhat_dropTransaction", tx_hash) is False
    assert rpc("eth_getTransactionByHash", tx_hash) is None
    meta = rpc("hardhat_metadata")
    assert meta["chainId"] == 1337 and meta["latestBlockNumber"] == 0
    assert logging.getLogger("peerchain.node.devnode").isEnabledFor(logging.INFO)
    assert rpc("hardhat_setLoggingEnabled", False) is True
    try:
        assert not logging.getLogger("peerchain.node.devnode").isEnabledFor(logging.INFO)
    finally:
        assert rpc("hardhat_setLoggingEnabled", True) is True  # the logger is process-wide
    assert logging.getLogger("peerchain.node.devnode").isEnabledFor(logging.INFO)
    assert rpc.error("hardhat_setMinGasPrice", "0x1")["code"] == -32000
    rpc("evm_mine")
    rpc("hardhat_reset")
    assert rpc("eth_blockNumber") == "0x0"
    assert rpc.error("hardhat_reset", {"forking": {"jsonRpcUrl": "x"}})["code"] == -32602


def test_access_list_blob_fee_and_pool_summary(rpc: Rpc) -> None:
    # SLOAD slots 0 and 1, then BALANCE of STRANGER.
    rpc("hardhat_setCode", CONTRACT, "0x600054600154" + "73" + STRANGER[2:] + "3100")
    result = rpc("eth_createAccessList", {"from": DEV, "to": CONTRACT}, "latest")
    slots = ["0x" + "00" * 32, "0x" + "00" * 31 + "01"]
    assert result["accessList"] == [
        {"address": STRANGER, "storageKeys": []},
        {"address": CONTRACT, "storageKeys": slots},
    ]
    listed = {"from": DEV, "to": CONTRACT, "accessList": result["accessList"]}
    assert int(result["gasUsed"], 16) == int(rpc("eth_estimateGas", listed), 16)
    assert "error" not in result
    rpc("hardhat_setCode", CONTRACT, REVERT_CODE)
    assert "reverted" in rpc("eth_createAccessList", {"to": CONTRACT})["error"]
    assert rpc("eth_blobBaseFee") == "0x1"
    rpc("evm_setAutomine", False)
    rpc("eth_sendTransaction", {"from": DEV, "to": OTHER, "value": "0x5", "gas": "0x5208"})
    pending = rpc("txpool_inspect")["pending"]
    (line,) = [entry for sender in pending.values() for entry in sender.values()]
    assert line.startswith(Web3.to_checksum_address(OTHER) + ": 5 wei + 21000 gas × ")  # noqa: RUF001


def test_state_dump_loads_back(rpc: Rpc, node: DevNode) -> None:
    rpc("hardhat_setCode", CONTRACT, CONTEXT_CODE)
    rpc("hardhat_setStorageAt", CONTRACT, "0x1", "0x" + "00" * 31 + "07")
    rpc("hardhat_setBalance", STRANGER, "0x1234")
    dumped = rpc("anvil_dumpState")
    document = node.dump_state()
    assert document["version"] == 1 and document["format"] == "peerchain-state"
    named = {a["address"] for a in document["accounts"] if a["address"]}
    assert DEV in named
    rpc("hardhat_reset")
    assert rpc("eth_getCode", CONTRACT, "latest") == "0x"
    assert rpc("hardhat_loadState", dumped) is True
    assert rpc("eth_getCode", CONTRACT, "latest") == CONTEXT_CODE
    assert int(rpc("eth_getStorageAt", CONTRACT, "0x1", "latest"), 16) == 7
    assert rpc("eth_getBalance", STRANGER, "latest") == "0x1234"
    assert node.dump_state()["stateRoot"] == document["stateRoot"]
    assert rpc.error("anvil_loadState", "0x1234")["code"] == -32602
    assert rpc.error("anvil_loadState", {"format": "other"})["code"] == -32000
