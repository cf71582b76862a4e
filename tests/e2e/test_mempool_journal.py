"""A dev node killed with SIGKILL right after accepting a transaction still has it after
the restart (the mempool journal), and mines it."""

from __future__ import annotations

from eth_account import Account
from web3 import Web3

from .conftest import DevProcess

DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def test_pending_transaction_survives_kill_9(dev_node: DevProcess) -> None:
    dev_node.process.stop()
    # Interval mining: sent transactions stay pending. No call here needs the query workers.
    dev_node.start("--block-time", "3600", heavy_queries=False)
    w3 = Web3(Web3.HTTPProvider(dev_node.url, request_kwargs={"timeout": 10}))
    sender = Account.from_key(DEV_KEY_0)
    hashes = []
    for nonce in range(3):
        signed = sender.sign_transaction(
            {
                "to": "0x000000000000000000000000000000000000dEaD",
                "value": nonce + 1,
                "gas": 21000,
                "maxFeePerGas": 2 * w3.eth.gas_price,
                "maxPriorityFeePerGas": 1,
                "nonce": nonce,
                "chainId": 1337,
            }
        )
        hashes.append(w3.eth.send_raw_transaction(signed.raw_transaction))
    head = w3.eth.block_number
    dev_node.process.kill()  # SIGKILL right after the last answer

    dev_node.start("--block-time", "3600", heavy_queries=False)
    w3 = Web3(Web3.HTTPProvider(dev_node.url, request_kwargs={"timeout": 10}))
    assert "3 pending transactions restored from the journal" in dev_node.process.output()
    assert w3.eth.block_number == head
    for tx_hash in hashes:
        assert w3.eth.get_transaction(tx_hash)["blockNumber"] is None
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    receipts = [w3.eth.get_transaction_receipt(h) for h in hashes]
    assert [r["status"] for r in receipts] == [1, 1, 1]
    assert {r["blockNumber"] for r in receipts} == {head + 1}
