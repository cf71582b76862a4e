"""A dev node killed with SIGKILL mid-stream restarts with every committed block intact."""

from __future__ import annotations

import threading
from typing import Any

from web3 import Web3

from .conftest import DevProcess


def test_sigkill_during_writes_loses_no_committed_block(dev_node: DevProcess) -> None:
    # A generous client bound: the load stops at its first failure, and a slow answer on
    # a busy machine is no failure of the node. Transfers name their gas, so that they
    # need no estimate from the query workers (at a lower CPU priority).
    w3 = Web3(Web3.HTTPProvider(dev_node.url, request_kwargs={"timeout": 60}))
    sender, receiver = w3.eth.accounts[0], w3.eth.accounts[1]
    transfer = {"from": sender, "to": receiver, "value": 1, "gas": 21000}
    confirmed: list[dict[str, Any]] = []
    enough = threading.Event()

    def load() -> None:
        # Bounded: at most 200 transactions, stops at the first failure (the kill).
        for _ in range(200):
            try:
                tx_hash = w3.eth.send_transaction(transfer)
                confirmed.append(dict(w3.eth.get_transaction_receipt(tx_hash)))
            except Exception:
                return
            if len(confirmed) >= 15:
                enough.set()
        enough.set()

    worker = threading.Thread(target=load)
    worker.start()
    assert enough.wait(120), "the node did not confirm transactions"
    dev_node.process.kill()  # while the load goes on
    worker.join(60)
    assert len(confirmed) >= 15

    dev_node.start(heavy_queries=False)  # transfers with their gas need no query worker
    w3 = Web3(Web3.HTTPProvider(dev_node.url, request_kwargs={"timeout": 60}))
    assert w3.eth.block_number >= confirmed[-1]["blockNumber"]
    for receipt in confirmed:
        again = w3.eth.get_transaction_receipt(receipt["transactionHash"])
        assert again["blockHash"] == receipt["blockHash"]
        assert w3.eth.get_block(receipt["blockNumber"])["hash"] == receipt["blockHash"]
    # Blocks link up from genesis to head and the node keeps going.
    head = w3.eth.get_block("latest")
    parent = w3.eth.get_block(head["number"] - 1)
    assert head["parentHash"] == parent["hash"]
    tx_hash = w3.eth.send_transaction(transfer)
    assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
