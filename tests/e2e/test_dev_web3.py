"""End to end: a real `peerchain dev` process driven by web3.py over HTTP and WebSocket."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractLogicError

from peerchain.cli.contracts import compile_vyper

from .conftest import DevProcess

TOKEN = Path(__file__).resolve().parents[2] / "examples" / "Token.vy"
SUPPLY = 10**24
# Dev account 0 of the well-known development mnemonic.
DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@pytest.fixture(scope="module")
def token_artifacts() -> tuple[list[dict[str, Any]], bytes]:
    compiled = compile_vyper(TOKEN)
    return compiled.abi, compiled.bytecode


def deploy_token(w3: Web3, artifacts: tuple[list[dict[str, Any]], bytes]) -> Any:
    abi, bytecode = artifacts
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    tx_hash = factory.constructor("Peer", "PEER", SUPPLY).transact({"from": w3.eth.accounts[0]})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi)


def test_erc20_lifecycle_and_restart(dev_node: DevProcess, token_artifacts: Any) -> None:
    w3 = Web3(Web3.HTTPProvider(dev_node.url))
    assert w3.eth.chain_id == 1337
    accounts = w3.eth.accounts
    assert len(accounts) == 10
    assert accounts[0] == Account.from_key(DEV_KEY_0).address
    token = deploy_token(w3, token_artifacts)
    assert token.functions.totalSupply().call() == SUPPLY
    assert token.functions.symbol().call() == "PEER"

    # A transfer signed locally and sent raw, with its event in the receipt.
    sender = Account.from_key(DEV_KEY_0)
    tx = token.functions.transfer(accounts[1], 1234).build_transaction(
        {"from": sender.address, "nonce": w3.eth.get_transaction_count(sender.address)}
    )
    signed = sender.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1
    (event,) = token.events.Transfer().process_receipt(receipt)
    assert event["args"]["receiver"] == accounts[1]
    assert event["args"]["value"] == 1234
    assert token.functions.balanceOf(accounts[1]).call() == 1234

    # A transfer through eth_sendTransaction, then eth_getLogs over the whole range.
    token.functions.transfer(accounts[2], 99).transact({"from": accounts[0]})
    logs = token.events.Transfer.get_logs(from_block=0)
    assert [log["args"]["value"] for log in logs] == [SUPPLY, 1234, 99]
    by_topic = w3.eth.get_logs(
        {
            "fromBlock": 0,
            "toBlock": "latest",
            "address": token.address,
            "topics": [None, None, "0x" + "00" * 12 + accounts[2][2:].lower()],
        }
    )
    assert len(by_topic) == 1

    # A revert comes back with its reason decoded by the client.
    with pytest.raises(ContractLogicError, match="insufficient balance"):
        token.functions.transfer(accounts[0], 10**30).call({"from": accounts[3]})
    with pytest.raises(ContractLogicError, match="insufficient balance"):
        token.functions.transfer(accounts[0], 10**30).estimate_gas({"from": accounts[3]})

    # ETH transfer and balances.
    before = w3.eth.get_balance(accounts[5])
    w3.eth.send_transaction({"from": accounts[4], "to": accounts[5], "value": 10**18})
    assert w3.eth.get_balance(accounts[5]) == before + 10**18

    head = w3.eth.get_block("latest")
    balance_1 = token.functions.balanceOf(accounts[1]).call()
    dev_node.process.stop()

    # Everything is still there after a restart.
    dev_node.start()
    w3 = Web3(Web3.HTTPProvider(dev_node.url))
    assert w3.eth.block_number == head["number"]
    assert w3.eth.get_block("latest")["hash"] == head["hash"]
    again = w3.eth.contract(address=token.address, abi=token.abi)
    assert again.functions.balanceOf(accounts[1]).call() == balance_1
    assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
    assert w3.eth.get_code(token.address) != b""
    # The chain goes on from where it was.
    again.functions.transfer(accounts[1], 1).transact({"from": accounts[0]})
    assert again.functions.balanceOf(accounts[1]).call() == balance_1 + 1


def test_websocket_subscriptions(dev_node: DevProcess, token_artifacts: Any) -> None:
    w3 = Web3(Web3.HTTPProvider(dev_node.url))
    token = deploy_token(w3, token_artifacts)
    accounts = w3.eth.accounts

    async def watch() -> tuple[dict[str, Any], dict[str, Any], Any]:
        async with AsyncWeb3(AsyncWeb3.WebSocketProvider(dev_node.ws_url)) as aw3:
            heads_id = await aw3.eth.subscribe("newHeads")
            logs_id = await aw3.eth.subscribe("logs", {"address": token.address})
            # Send the transfer from another thread so the subscription sees it.
            loop = asyncio.get_running_loop()
            send = loop.run_in_executor(
                None,
                lambda: token.functions.transfer(accounts[7], 77).transact({"from": accounts[0]}),
            )
            got: dict[str, dict[str, Any]] = {}
            async with asyncio.timeout(30):
                async for message in aw3.socket.process_subscriptions():
                    sub = message["subscription"]
                    kind = "heads" if sub == heads_id else "logs" if sub == logs_id else "?"
                    got.setdefault(kind, dict(message["result"]))
                    if "heads" in got and "logs" in got:
                        break
            return got["heads"], got["logs"], await send

    head, log, tx_hash = asyncio.run(watch())
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    # The one block and log since subscribing: those of the transfer.
    assert (head["hash"], head["number"]) == (receipt["blockHash"], receipt["blockNumber"])
    assert (log["transactionHash"], log["blockHash"]) == (tx_hash, receipt["blockHash"])
    assert log["address"] == token.address
    assert log["topics"][2] == bytes(12) + bytes.fromhex(accounts[7][2:])
    assert int.from_bytes(log["data"], "big") == 77
    assert int.from_bytes(bytes(log["data"]), "big") == 77
