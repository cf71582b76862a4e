"""The example dApps (examples/) used as a dApp developer uses them: deployed and driven with
web3.py, transactions signed locally (as they must be on a network node), reverts read as
the client reports them. Each scenario runs on a `peerchain dev` node and on a devnet."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from peerchain.cli.contracts import compile_contract
from peerchain.drivers.keystore import dev_private_keys

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ETHER = 10**18


@dataclass
class Chain:
    """A node to talk to, the funded dev accounts, and a way to let chain time pass."""

    w3: Web3
    advance: Callable[[int], None]
    accounts: list[LocalAccount]

    @classmethod
    def of(cls, w3: Web3, advance: Callable[[int], None]) -> Chain:
        return cls(w3, advance, [Account.from_key(k) for k in dev_private_keys(5)])

    def address(self, index: int) -> str:
        return str(self.accounts[index].address)

    def transact(self, sender: int, tx: dict[str, Any]) -> Any:
        """Sign `tx` with dev account `sender`, send it raw and wait for a successful receipt."""
        account = self.accounts[sender]
        tx = {**tx, "from": account.address, "chainId": self.w3.eth.chain_id}
        tx["nonce"] = self.w3.eth.get_transaction_count(account.address, "pending")
        tx.setdefault("gas", self.w3.eth.estimate_gas(tx))
        tx.setdefault("maxFeePerGas", 2 * self.w3.eth.get_block("latest")["baseFeePerGas"] + 10**9)
        tx.setdefault("maxPriorityFeePerGas", 10**9)
        signed = account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        assert receipt["status"] == 1, receipt
        return receipt

    def deploy(self, source: str, *args: Any, sender: int = 0) -> Contract:
        compiled = compile_contract(EXAMPLES / source)
        factory = self.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        receipt = self.transact(
            sender, factory.constructor(*args).build_transaction({"from": self.address(sender)})
        )
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=compiled.abi)

    def call(self, sender: int, function: Any, value: int = 0) -> Any:
        """Run a contract function as a transaction from dev account `sender`."""
        tx = function.build_transaction({"from": self.address(sender), "value": value})
        return self.transact(sender, tx)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


def reverts(reason: str, function: Any, sender: str, value: int = 0) -> None:
    """The function reverts with `reason` when run from `sender`."""
    with pytest.raises(ContractLogicError, match=reason):
        function.call({"from": sender, "value": value})
    with pytest.raises(ContractLogicError, match=reason):
        function.estimate_gas({"from": sender, "value": value})


def token(chain: Chain) -> None:
    supply = 1_000_000 * ETHER
    contract = chain.deploy("Token.vy", "Peer", "PEER", supply)
    alice, bob, carol = chain.address(0), chain.address(1), chain.address(2)
    receipt = chain.call(0, contract.functions.transfer(bob, 250 * ETHER))
    (event,) = contract.events.Transfer().process_receipt(receipt)
    assert (event["args"]["sender"], event["args"]["receiver"]) == (alice, bob)
    chain.call(1, contract.functions.approve(carol, 100 * ETHER))
    chain.call(2, contract.functions.transferFrom(bob, carol, 60 * ETHER))
    assert contract.functions.balanceOf(bob).call() == 190 * ETHER
    assert contract.functions.balanceOf(carol).call() == 60 * ETHER
    assert contract.functions.allowance(bob, carol).call() == 40 * ETHER
    reverts("insufficient balance", contract.functions.transfer(alice, 61 * ETHER), carol)


def dao(chain: Chain, voting_period: int) -> None:
    members = [chain.address(0), chain.address(1), chain.address(2)]
    contract = chain.deploy("Dao.vy", members, [3, 2, 1], 3, voting_period)
    outsider, payee = chain.address(3), chain.address(4)
    chain.transact(3, {"to": contract.address, "value": ETHER})
    assert chain.w3.eth.get_balance(contract.address) == ETHER
    receipt = chain.call(1, contract.functions.propose(payee, 4 * ETHER // 10, "pay the artist"))
    (proposed,) = contract.events.Proposed().process_receipt(receipt)
    first = proposed["args"]["proposal_id"]
    reverts("only members propose", contract.functions.propose(payee, 1, "me too"), outsider)
    chain.call(0, contract.functions.vote(first, True))
    chain.call(2, contract.functions.vote(first, False))
    reverts("already voted", contract.functions.vote(first, True), members[0])
    reverts("only members vote", contract.functions.vote(first, True), outsider)
    reverts("voting is still open", contract.functions.execute(first), outsider)
    assert contract.functions.state(first).call() == "Active"
    second = contract.functions.propose(payee, ETHER, "too much").call({"from": members[0]})
    chain.call(0, contract.functions.propose(payee, ETHER, "too much"))
    chain.call(0, contract.functions.vote(second, False))
    chain.advance(voting_period)
    assert contract.functions.state(first).call() == "Passed"
    assert contract.functions.state(second).call() == "Rejected"
    reverts("voting is over", contract.functions.vote(first, True), members[1])
    before = chain.w3.eth.get_balance(payee)
    chain.call(3, contract.functions.execute(first))  # anyone may execute
    assert chain.w3.eth.get_balance(payee) == before + 4 * ETHER // 10
    assert contract.functions.state(first).call() == "Executed"
    reverts("already executed", contract.functions.execute(first), outsider)
    reverts("proposal did not pass", contract.functions.execute(second), outsider)
    votes = contract.events.Voted.get_logs(from_block=0, argument_filters={"proposal_id": first})
    assert [(v["args"]["voter"], v["args"]["weight"]) for v in votes] == [
        (members[0], 3),
        (members[2], 1),
    ]


def escrow(chain: Chain, wait: int) -> None:
    contract = chain.deploy("Escrow.sol")
    buyer, seller, arbiter = chain.address(0), chain.address(1), chain.address(2)
    deadline = chain.now() + wait
    receipt = chain.call(0, contract.functions.open(seller, arbiter, deadline), value=ETHER)
    (opened,) = contract.events.Opened().process_receipt(receipt)
    deal = opened["args"]["id"]
    assert chain.w3.eth.get_balance(contract.address) == ETHER
    reverts("only buyer or arbiter", contract.functions.release(deal), seller)
    before = chain.w3.eth.get_balance(seller)
    chain.call(0, contract.functions.release(deal))
    assert chain.w3.eth.get_balance(seller) == before + ETHER
    reverts("deal is not open", contract.functions.refund(deal), seller)
    # A second deal: the buyer may take the money back only after the deadline.
    deadline = chain.now() + wait
    receipt = chain.call(0, contract.functions.open(seller, arbiter, deadline), value=ETHER // 2)
    (opened,) = contract.events.Opened().process_receipt(receipt)
    late = opened["args"]["id"]
    reverts("not allowed to refund yet", contract.functions.refund(late), buyer)
    chain.advance(wait)
    receipt = chain.call(0, contract.functions.refund(late))
    (refunded,) = contract.events.Refunded().process_receipt(receipt)
    assert refunded["args"]["amount"] == ETHER // 2
    assert chain.w3.eth.get_balance(contract.address) == 0
    assert contract.functions.deals(late).call()[-1] == 3  # State.Refunded
    reverts("nothing to hold", contract.functions.open(seller, arbiter, deadline + 99), buyer)


def content_registry(chain: Chain) -> None:
    contract = chain.deploy("ContentRegistry.vy")
    owner, peer, other = chain.address(0), chain.address(1), chain.address(2)
    data = b"PeerChain: shared files are found by their hash.\n" * 100
    content_hash = hashlib.sha256(data).digest()
    chain.call(0, contract.functions.register(content_hash, "notes.txt", len(data), "text/plain"))
    reverts("already registered", contract.functions.register(content_hash, "x", 1, "x"), peer)
    reverts("not registered", contract.functions.add_mirror(b"\x01" * 32, "https://x"), peer)
    chain.call(0, contract.functions.add_mirror(content_hash, "https://files.example/notes.txt"))
    chain.call(1, contract.functions.add_mirror(content_hash, "peer://127.0.0.1:7000/notes.txt"))
    reverts(
        "mirror already listed",
        contract.functions.add_mirror(content_hash, "https://files.example/notes.txt"),
        other,
    )
    entry = contract.functions.lookup(content_hash).call()
    assert entry[:4] == [owner, "notes.txt", len(data), "text/plain"] or entry[:4] == (
        owner,
        "notes.txt",
        len(data),
        "text/plain",
    )
    assert contract.functions.mirrors(content_hash).call() == [
        "https://files.example/notes.txt",
        "peer://127.0.0.1:7000/notes.txt",
    ]
    reverts(
        "only the owner removes mirrors", contract.functions.remove_mirror(content_hash, 0), peer
    )
    chain.call(0, contract.functions.remove_mirror(content_hash, 0))
    assert contract.functions.mirrors(content_hash).call() == ["peer://127.0.0.1:7000/notes.txt"]
    chain.call(0, contract.functions.transfer(content_hash, peer))
    assert contract.functions.lookup(content_hash).call()[0] == peer
    unknown = contract.functions.lookup(b"\x02" * 32).call()
    assert unknown[0] == "0x" + "00" * 20
    announced = contract.events.MirrorAdded.get_logs(
        from_block=0, argument_filters={"content_hash": content_hash}
    )
    assert [(e["args"]["host"], e["args"]["location"]) for e in announced] == [
        (owner, "https://files.example/notes.txt"),
        (peer, "peer://127.0.0.1:7000/notes.txt"),
    ]
    assert contract.functions.entry_count().call() == 1
