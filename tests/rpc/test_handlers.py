"""Every JSON-RPC method against the in-memory FakeNodeView."""

from __future__ import annotations

import pytest

from peerchain.core.crypto import keccak256, recover_address_bytes
from peerchain.rpc import RpcConfig

from .fake_view import (
    BASE_FEE,
    CHAIN_ID,
    DEV_ACCOUNT,
    FAILER,
    OTHER,
    REVERT_DATA,
    REVERTER,
    TOKEN,
    TRANSFER_TOPIC,
    FakeNodeView,
)
from .harness import Rpc

DEV = "0x" + DEV_ACCOUNT.hex()
TOKEN_HEX = "0x" + TOKEN.hex()
ZERO_HASH = "0x" + "00" * 32


@pytest.fixture
def view() -> FakeNodeView:
    return FakeNodeView()


@pytest.fixture
def rpc(view: FakeNodeView) -> Rpc:
    return Rpc(view, RpcConfig(max_log_range=2))


def test_identity_methods(rpc: Rpc) -> None:
    assert rpc("eth_chainId") == hex(CHAIN_ID)
    assert rpc("net_version") == str(CHAIN_ID)
    assert rpc("net_listening") is True
    assert rpc("net_peerCount") == "0x0"
    assert rpc("web3_clientVersion") == "PeerChain/fake"
    assert rpc("web3_sha3", "0x68656c6c6f") == "0x" + keccak256(b"hello").hex()
    assert rpc("eth_blockNumber") == "0x2"
    assert rpc("eth_syncing") is False


def test_fee_methods(rpc: Rpc) -> None:
    assert rpc("eth_gasPrice") == hex(BASE_FEE + 1)
    assert rpc("eth_maxPriorityFeePerGas") == "0x1"
    history = rpc("eth_feeHistory", "0x2", "latest", [25, 75])
    assert history["oldestBlock"] == "0x1"
    assert len(history["baseFeePerGas"]) == 3 and len(history["gasUsedRatio"]) == 2
    assert history["reward"] == [["0x2", "0x2"], ["0x2", "0x2"]]
    assert "reward" not in rpc("eth_feeHistory", 2, "0x1", [])
    assert rpc("eth_feeHistory", "0x0", "latest", []) == {
        "oldestBlock": "0x0",
        "baseFeePerGas": [],
        "gasUsedRatio": [],
    }
    assert rpc.error("eth_feeHistory", "0x2", "latest", [75, 25])["code"] == -32602
    assert rpc.error("eth_feeHistory", "0x2", "latest", [101])["code"] == -32602
    assert rpc.error("eth_feeHistory", "0x2", "0x99", [])["code"] == -32000


def test_state_reads(rpc: Rpc) -> None:
    assert rpc("eth_getBalance", DEV) == hex(10**21 + 2)
    assert rpc("eth_getBalance", DEV, "0x1") == hex(10**21 + 1)
    assert rpc("eth_getBalance", DEV, "earliest") == hex(10**21)
    assert rpc("eth_getCode", TOKEN_HEX, "latest") == "0x60806040"
    assert rpc("eth_getCode", DEV) == "0x"
    assert rpc("eth_getStorageAt", TOKEN_HEX, "0x0", "latest") == "0x" + "00" * 31 + "2a"
    assert rpc("eth_getStorageAt", TOKEN_HEX, "0x1") == ZERO_HASH
    assert rpc("eth_getTransactionCount", DEV, "latest") == "0x2"


def test_unknown_blocks_in_state_reads_are_32000(rpc: Rpc) -> None:
    error = rpc.error("eth_getBalance", DEV, "0x5")
    assert error["code"] == -32000
    assert rpc.error("eth_getCode", TOKEN_HEX, ZERO_HASH)["code"] == -32000


def test_eip1898_block_objects(rpc: Rpc, view: FakeNodeView) -> None:
    block1 = "0x" + view.blocks[1].hash.hex()
    assert rpc("eth_getBalance", DEV, {"blockHash": block1}) == hex(10**21 + 1)
    assert rpc("eth_getBalance", DEV, block1) == hex(10**21 + 1)
    assert rpc("eth_getBalance", DEV, {"blockNumber": "0x0"}) == hex(10**21)
    assert rpc("eth_getBalance", DEV, {"blockHash": block1, "requireCanonical": True})
    # A block that is not on the canonical chain any more.
    view.orphans.append(view.blocks[1])
    view.blocks[1] = view.blocks[0]
    error = rpc.error("eth_getBalance", DEV, {"blockHash": block1, "requireCanonical": True})
    assert error["code"] == -32000 and "canonical" in error["message"]
    assert (
        rpc.error("eth_getBalance", DEV, {"blockHash": block1, "blockNumber": "0x1"})["code"]
        == -32602
    )


def test_pending_nonce(rpc: Rpc, view: FakeNodeView) -> None:
    rpc("eth_sendRawTransaction", "0x02aa")
    assert rpc("eth_getTransactionCount", DEV, "pending") == "0x3"
    assert rpc("eth_getTransactionCount", DEV, "latest") == "0x2"


def test_storage_key_errors_match_recorded_geth_messages(rpc: Rpc) -> None:
    address = "0xaa00000000000000000000000000000000000000"
    error = rpc.error("eth_getStorageAt", address, "0xasdf", "latest")
    assert error == {
        "code": -32602,
        "message": 'invalid argument 1: invalid hex in storage key: "0xasdf"',
    }
    too_long = "0x" + "0" * 65
    assert "storage key too long" in rpc.error("eth_getStorageAt", address, too_long)["message"]


def test_get_proof(rpc: Rpc) -> None:
    proof = rpc("eth_getProof", TOKEN_HEX, ["0x0", "0x1"], "latest")
    assert proof["address"] == TOKEN_HEX
    assert [p["value"] for p in proof["storageProof"]] == ["0x2a", "0x0"]
    assert proof["storageProof"][0]["key"] == ZERO_HASH
    assert rpc.error("eth_getProof", TOKEN_HEX, "0x0")["code"] == -32602


def test_blocks(rpc: Rpc, view: FakeNodeView) -> None:
    latest = rpc("eth_getBlockByNumber", "latest", False)
    assert latest["number"] == "0x2"
    assert latest["transactions"] == ["0x" + tx.hash.hex() for tx in view.blocks[2].transactions]
    assert latest["uncles"] == [] and latest["withdrawals"] == []
    assert latest["size"] == hex(view.blocks[2].size)
    full = rpc("eth_getBlockByHash", "0x" + view.blocks[1].hash.hex(), True)
    assert [t["transactionIndex"] for t in full["transactions"]] == ["0x0", "0x1"]
    assert full["transactions"][1]["blockHash"] == full["hash"]
    assert rpc("eth_getBlockByNumber", "0x9", False) is None
    assert rpc("eth_getBlockByHash", ZERO_HASH, False) is None
    assert rpc("eth_getBlockByNumber", "earliest", False)["number"] == "0x0"
    assert rpc.error("eth_getBlockByNumber", "latest")["code"] == -32602
    assert rpc.error("eth_getBlockByNumber", "latest", "yes")["code"] == -32602


def test_transaction_counts(rpc: Rpc, view: FakeNodeView) -> None:
    assert rpc("eth_getBlockTransactionCountByNumber", "0x1") == "0x2"
    assert rpc("eth_getBlockTransactionCountByNumber", "0x0") == "0x0"
    assert rpc("eth_getBlockTransactionCountByHash", "0x" + view.blocks[2].hash.hex()) == "0x2"
    assert rpc("eth_getBlockTransactionCountByNumber", "0x7") is None
    assert rpc("eth_getBlockTransactionCountByHash", ZERO_HASH) is None


def test_transactions(rpc: Rpc, view: FakeNodeView) -> None:
    legacy, dynamic = view.blocks[1].transactions
    tx = rpc("eth_getTransactionByHash", "0x" + dynamic.hash.hex())
    assert tx["type"] == "0x2" and tx["blockNumber"] == "0x1"
    assert tx["gasPrice"] == hex(dynamic.effective_gas_price(BASE_FEE))
    assert tx["maxFeePerGas"] == "0x14" and tx["yParity"] == "0x1"
    assert tx["blockTimestamp"] == hex(view.blocks[1].header.timestamp)
    created = rpc("eth_getTransactionByHash", "0x" + legacy.hash.hex())
    assert created["to"] is None and "accessList" not in created and "yParity" not in created
    assert created["v"] == hex(CHAIN_ID * 2 + 35)
    assert rpc("eth_getTransactionByHash", ZERO_HASH) is None
    block1 = "0x" + view.blocks[1].hash.hex()
    assert rpc("eth_getTransactionByBlockHashAndIndex", block1, "0x1") == tx
    assert rpc("eth_getTransactionByBlockNumberAndIndex", "0x1", "0x1") == tx
    assert rpc("eth_getTransactionByBlockNumberAndIndex", "0x1", "0x2") is None
    assert rpc("eth_getTransactionByBlockHashAndIndex", ZERO_HASH, "0x0") is None
    al = rpc("eth_getTransactionByBlockNumberAndIndex", "latest", "0x0")
    assert al["accessList"] == [
        {"address": TOKEN_HEX, "storageKeys": [ZERO_HASH, "0x" + "00" * 31 + "01"]}
    ]


def test_set_code_transaction(rpc: Rpc) -> None:
    tx = rpc("eth_getTransactionByBlockNumberAndIndex", "0x2", "0x1")
    assert tx["type"] == "0x4"
    assert tx["authorizationList"] == [
        {
            "chainId": hex(CHAIN_ID),
            "nonce": "0x4",
            "address": TOKEN_HEX,
            "yParity": "0x0",
            "r": "0x1",
            "s": "0x2",
        }
    ]


def test_pending_transaction_has_no_block(rpc: Rpc) -> None:
    tx_hash = rpc("eth_sendRawTransaction", "0x02bb")
    tx = rpc("eth_getTransactionByHash", tx_hash)
    assert tx["blockHash"] is None and tx["blockNumber"] is None
    assert tx["transactionIndex"] is None and tx["gasPrice"] == tx["maxFeePerGas"]


def test_receipts(rpc: Rpc, view: FakeNodeView) -> None:
    legacy, dynamic = view.blocks[1].transactions
    receipt = rpc("eth_getTransactionReceipt", "0x" + dynamic.hash.hex())
    assert receipt["status"] == "0x1" and receipt["contractAddress"] is None
    [log] = receipt["logs"]
    assert log["topics"][0] == "0x" + TRANSFER_TOPIC.hex()
    assert log["blockTimestamp"] == hex(view.blocks[1].header.timestamp)
    creation = rpc("eth_getTransactionReceipt", "0x" + legacy.hash.hex())
    assert creation["to"] is None and creation["contractAddress"] is not None
    assert rpc("eth_getTransactionReceipt", ZERO_HASH) is None
    receipts = rpc("eth_getBlockReceipts", "0x1")
    assert [r["transactionIndex"] for r in receipts] == ["0x0", "0x1"]
    assert rpc("eth_getBlockReceipts", "0x" + view.blocks[1].hash.hex()) == receipts
    assert rpc("eth_getBlockReceipts", {"blockNumber": "0x1"}) == receipts
    assert rpc("eth_getBlockReceipts", "earliest") == []
    assert rpc("eth_getBlockReceipts", "0x37") is None
    assert rpc("eth_getBlockReceipts", ZERO_HASH) is None


def test_call_and_estimate(rpc: Rpc) -> None:
    call = {"from": DEV, "to": TOKEN_HEX, "input": "0x70a08231"}
    assert rpc("eth_call", call, "latest") == "0x" + (42).to_bytes(32, "big").hex()
    assert rpc("eth_call", call) == rpc("eth_call", call, {"blockNumber": "0x1"})
    assert rpc("eth_estimateGas", {"from": DEV, "to": TOKEN_HEX}) == hex(21_000)
    assert rpc("eth_estimateGas", call, "latest") == hex(50_000)
    assert rpc("eth_call", call, "latest", None) is not None
    assert rpc.error("eth_call", call, "latest", {DEV: {"balance": 1}})["code"] == -32602
    both = {DEV: {"state": {}, "stateDiff": {}}}
    assert "both" in rpc.error("eth_call", call, "latest", both)["message"]
    assert rpc.error("eth_call", call, "latest", None, {"time": "1"})["code"] == -32602
    assert rpc.error("eth_call", call, "0x10")["code"] == -32000


def test_reverts_carry_reason_and_data(rpc: Rpc) -> None:
    call = {"to": "0x" + REVERTER.hex()}
    for method in ("eth_call", "eth_estimateGas"):
        assert rpc.error(method, call) == {
            "code": 3,
            "message": "execution reverted: boom",
            "data": "0x" + REVERT_DATA.hex(),
        }
    assert rpc.error("eth_call", {"to": "0x" + FAILER.hex()}) == {
        "code": -32000,
        "message": "invalid opcode: INVALID",
    }


def test_node_bug_is_an_internal_error(rpc: Rpc, view: FakeNodeView) -> None:
    view.broken = True
    error = rpc.error("eth_call", {"to": TOKEN_HEX})
    assert error == {"code": -32603, "message": "internal error"}


def test_send_raw_transaction(rpc: Rpc, view: FakeNodeView) -> None:
    tx_hash = rpc("eth_sendRawTransaction", "0x02cafe")
    assert tx_hash == "0x" + keccak256(b"\x02\xca\xfe").hex()
    assert rpc.error("eth_sendRawTransaction", "0x02cafe") == {
        "code": -32000,
        "message": "already known",
    }
    nonce_low = rpc.error("eth_sendRawTransaction", "0x01cafe")
    assert nonce_low["code"] == -32000 and nonce_low["message"].startswith("nonce too low")
    decode = rpc.error("eth_sendRawTransaction", "0x")
    assert decode == {"code": -32000, "message": "typed transaction too short"}
    assert rpc.error("eth_sendRawTransaction", "0x2")["code"] == -32602
    assert rpc.error("eth_sendRawTransaction", "02ca")["code"] == -32602


def test_dev_accounts_and_signing(rpc: Rpc, view: FakeNodeView) -> None:
    assert rpc("eth_accounts") == [DEV]
    message = b"hello"
    signature = bytes.fromhex(rpc("eth_sign", DEV, "0x" + message.hex())[2:])
    assert len(signature) == 65
    digest = keccak256(b"\x19Ethereum Signed Message:\n5hello")
    recovered = recover_address_bytes(digest, signature[:64] + bytes([signature[64] - 27]))
    assert recovered == DEV_ACCOUNT
    assert rpc("personal_sign", "0x" + message.hex(), DEV) == "0x" + signature.hex()
    assert rpc("personal_sign", "0x" + message.hex(), DEV, "password") == "0x" + signature.hex()
    unknown = rpc.error("eth_sign", "0x" + OTHER.hex(), "0x00")
    assert unknown == {"code": -32000, "message": "unknown account"}


def test_send_transaction(rpc: Rpc, view: FakeNodeView) -> None:
    tx_hash = rpc("eth_sendTransaction", {"from": DEV, "to": TOKEN_HEX, "value": "0x1"})
    assert rpc("eth_getTransactionReceipt", tx_hash)["blockNumber"] == "0x3"
    assert rpc.error("eth_sendTransaction", {"to": TOKEN_HEX})["code"] == -32602
    assert rpc.error("eth_sendTransaction", {"from": "0x" + OTHER.hex()})["code"] == -32000


def test_txpool(rpc: Rpc) -> None:
    assert rpc("txpool_status") == {"pending": "0x0", "queued": "0x1"}
    rpc("eth_sendRawTransaction", "0x02dd")
    assert rpc("txpool_status") == {"pending": "0x1", "queued": "0x1"}
    content = rpc("txpool_content")
    [sender] = content["pending"]
    assert sender.lower() == DEV and sender != DEV  # checksummed
    assert list(content["pending"][sender]) == ["2"]
    assert list(content["queued"][sender]) == ["99"]
    assert content["pending"][sender]["2"]["blockHash"] is None


def test_dev_methods(rpc: Rpc, view: FakeNodeView) -> None:
    assert rpc("evm_snapshot") == "0x1"
    assert rpc("evm_revert", "0x1") is True
    assert rpc("evm_revert", 2) is False
    assert rpc("evm_mine") == "0x0"
    assert rpc("evm_mine", 1_800_000_000) == "0x0"
    assert rpc("evm_increaseTime", 3600) == "3600"
    assert rpc("evm_increaseTime", "0x10") == "16"
    assert rpc("evm_setNextBlockTimestamp", 1_900_000_000) == "1900000000"
    assert rpc("evm_setAutomine", False) is True
    assert rpc("evm_setIntervalMining", 1000) is True
    assert view.dev_calls == [
        ("snapshot", None),
        ("revert", 1),
        ("revert", 2),
        ("mine", None),
        ("mine", 1_800_000_000),
        ("increase_time", 3600),
        ("increase_time", 16),
        ("set_next_block_timestamp", 1_900_000_000),
        ("set_automine", False),
        ("set_interval_mining", 1000),
    ]
    assert view.block_number() == 4
    assert rpc.error("evm_setAutomine", "yes")["code"] == -32602
    assert rpc.error("evm_increaseTime", -5)["code"] == -32602


def test_dev_methods_can_be_left_out(view: FakeNodeView) -> None:
    rpc = Rpc(view, RpcConfig(dev_methods=False))
    assert rpc.error("evm_mine")["code"] == -32601


def test_subscribe_needs_a_websocket(rpc: Rpc) -> None:
    assert rpc.error("eth_subscribe", "newHeads") == {
        "code": -32601,
        "message": "notifications not supported",
    }
