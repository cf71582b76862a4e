"""The client commands (deploy, call, send, status) against a real dev node process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from web3 import Web3

from .conftest import DevProcess

TOKEN = Path(__file__).resolve().parents[2] / "examples" / "Token.vy"
DEV_0 = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
DEV_1 = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"


def peerchain(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peerchain.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_call_send_status(dev_node: DevProcess, tmp_path: Path) -> None:
    rpc = ["--rpc", dev_node.url]
    keystore = ["--keystore", str(tmp_path / "keys")]
    deployed = peerchain(
        "deploy", *rpc, *keystore, "--from", DEV_0, str(TOKEN), "Peer", "PEER", "1000"
    )
    assert deployed.returncode == 0, deployed.stderr
    address = deployed.stdout.strip().splitlines()[-1].split()[-1]
    assert address.startswith("0x") and len(address) == 42

    sent = peerchain(
        "send",
        *rpc,
        *keystore,
        "--from",
        DEV_0,
        "--to",
        address,
        "--data",
        "0xa9059cbb" + "00" * 12 + DEV_1[2:] + f"{25:064x}",
    )
    assert sent.returncode == 0, sent.stderr
    assert "success" in sent.stdout

    called = peerchain("call", *rpc, "--to", address, "--sig", "balanceOf(address)(uint256)", DEV_1)
    assert called.returncode == 0, called.stderr
    assert called.stdout.strip() == "25"

    eth = peerchain(
        "send", *rpc, *keystore, "--from", DEV_1, "--to", "0x" + "ab" * 20, "--value", "1.5ether"
    )
    assert eth.returncode == 0, eth.stderr
    receiver = Web3.to_checksum_address("0x" + "ab" * 20)
    balance = Web3(Web3.HTTPProvider(dev_node.url)).eth.get_balance(receiver)
    assert balance == 15 * 10**17
    status = peerchain("status", *rpc)
    assert status.returncode == 0, status.stderr
    assert "chain id   1337" in status.stdout


def test_errors_are_one_clear_line(dev_node: DevProcess, tmp_path: Path) -> None:
    rpc = ["--rpc", dev_node.url]
    reverted = peerchain("call", *rpc, "--to", "0x" + "00" * 20, "--sig", "f(uint256)", "xyz")
    assert reverted.returncode != 0
    assert "Traceback" not in reverted.stderr
    assert "'xyz' is not a valid uint256" in reverted.stderr
    unreachable = peerchain("status", "--rpc", "http://127.0.0.1:1")
    assert unreachable.returncode == 1
    assert unreachable.stderr.strip().startswith("error: cannot reach")
    assert len(unreachable.stderr.strip().splitlines()) == 1
    broken = tmp_path / "Broken.vy"
    broken.write_text("this is not vyper\n")
    failed = peerchain("deploy", *rpc, "--from", DEV_0, str(broken))
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr and "Broken.vy" in failed.stderr
