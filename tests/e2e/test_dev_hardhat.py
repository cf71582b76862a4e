"""End to end: `peerchain dev --compat hardhat` driven by web3.py as Hardhat-style tests do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from peerchain.testing.processes import free_port

from .conftest import DevProcess


@pytest.fixture
def hardhat_node(tmp_path: Path) -> Iterator[DevProcess]:
    node = DevProcess(tmp_path / "data", free_port(), tmp_path / "node.log", None)  # type: ignore[arg-type]
    node.start("--compat", "hardhat")
    yield node
    node.process.stop()


def test_hardhat_helpers_work_over_http(hardhat_node: DevProcess) -> None:
    w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
    assert w3.client_version.lower().startswith("hardhatnetwork")
    # The chain starts when it is made, as Hardhat's does (not at 1970).
    assert w3.eth.get_block(0)["timestamp"] > 1_700_000_000
    whale = Web3.to_checksum_address("0x" + "ab" * 20)
    receiver = w3.eth.accounts[1]
    w3.provider.make_request("hardhat_setBalance", [whale, hex(10**18)])
    w3.provider.make_request("hardhat_impersonateAccount", [whale])
    tx_hash = w3.eth.send_transaction({"from": whale, "to": receiver, "value": 1000})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1 and receipt["from"] == whale
    start = w3.eth.block_number
    w3.provider.make_request("hardhat_mine", [hex(100_000), "0xc"])
    assert w3.eth.block_number == start + 100_000
    middle = w3.eth.get_block(start + 50_000)
    assert middle["timestamp"] - w3.eth.get_block(start + 49_999)["timestamp"] == 12
    assert w3.eth.get_balance(whale, start + 50_000) == w3.eth.get_balance(whale)
    pending = w3.eth.get_block("pending")
    assert pending["number"] == w3.eth.block_number + 1


def test_state_file_flags(tmp_path: Path) -> None:
    dump = tmp_path / "state.json"
    first = DevProcess(tmp_path / "a", free_port(), tmp_path / "a.log", None)  # type: ignore[arg-type]
    first.start("--dump-state", str(dump))
    w3 = Web3(Web3.HTTPProvider(first.url))
    whale = Web3.to_checksum_address("0x" + "cd" * 20)
    w3.provider.make_request("anvil_setBalance", [whale, "0x777"])
    first.process.stop()
    assert dump.exists()
    second = DevProcess(tmp_path / "b", free_port(), tmp_path / "b.log", None)  # type: ignore[arg-type]
    second.start("--load-state", str(dump))
    try:
        assert Web3(Web3.HTTPProvider(second.url)).eth.get_balance(whale) == 0x777
    finally:
        second.process.stop()
