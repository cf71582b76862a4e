"""Real validator processes and their own disks: a validator whose WAL is deleted while it
waits in an undecided height never signs a conflicting message after the restart (its
last-signed record), and a validator whose disk fills up halts with one line naming the
cause, shows the fault over JSON-RPC, and resumes after a restart once space is freed;
a transaction accepted just before every validator is killed is mined after the restart
(the mempool journal)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from .harness import DEV_KEY_0, Devnet, wait_until

ALL = (0, 1, 2, 3)


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[Devnet]:
    net = Devnet.create(tmp_path / "devnet", len(ALL))
    try:
        yield net
    finally:
        net.close()


def _no_double_signing(devnet: Devnet) -> None:
    for i in ALL:
        assert devnet.rpc(i, "peerchain_evidence") == [], f"node{i} holds evidence"
        log = devnet.log(i)
        assert "evidence of double signing" not in log, f"node{i} saw a double signature"
        assert "consensus halted" not in log and "local fault" not in log, f"node{i} halted"


def test_a_validator_whose_wal_is_deleted_in_an_undecided_height_does_not_sign_twice(
    devnet: Devnet,
) -> None:
    devnet.start()
    devnet.wait_for_height(ALL, 2, timeout=60)
    devnet.kill(2)
    devnet.kill(3)
    survivors = (0, 1)
    height = devnet.wait_until_waiting(survivors, timeout=60)  # both signed in `height`
    state = devnet.rpc(0, "peerchain_consensusState")
    addresses = [v["address"] for v in devnet.rpc(0, "peerchain_validators")]
    proposer = addresses.index(state["proposer"]) if state["proposer"] in addresses else -1
    # The proposer of the round would otherwise build and sign another block.
    victim = proposer if proposer in survivors else 1
    devnet.kill(victim)
    wal = devnet.nodes[victim].directory / "data" / "consensus.wal"
    assert wal.exists()
    wal.unlink()
    assert list(devnet.nodes[victim].directory.glob("*.last_signed.json"))

    devnet.start(victim, 2, 3)
    devnet.wait_for_height(ALL, height + 2, timeout=90)
    devnet.assert_same_chain(ALL, 1, height + 2)
    _no_double_signing(devnet)


def _mount_tmpfs(path: Path, size: str) -> None:
    saved = path.with_name(path.name + ".saved")
    shutil.move(path, saved)
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        path.rmdir()
        shutil.move(saved, path)
        pytest.skip(f"cannot mount a tmpfs ({done.stderr.decode().strip()}): needs root")
    for item in saved.iterdir():
        shutil.move(item, path / item.name)
    saved.rmdir()


def _fill(path: Path) -> Path:
    """Write a file until the filesystem is full (bounded by its size)."""
    filler = path / "filler"
    chunk = b"\0" * (1 << 20)
    with filler.open("wb") as out:
        for _ in range(10_000):
            try:
                out.write(chunk)
                out.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    return filler


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_validator_with_a_full_disk_halts_with_one_line_and_resumes(devnet: Devnet) -> None:
    data = devnet.nodes[3].directory / "data"
    _mount_tmpfs(data, "64m")
    try:
        devnet.start()
        devnet.wait_for_height(ALL, 3, timeout=60)
        filler = _fill(data)
        fault = wait_until(
            lambda: devnet.rpc(3, "peerchain_consensusState")["fault"],
            60,
            "node3 to report a local fault",
        )
        assert fault["cause"] == "no space left on device", fault
        assert fault["path"].startswith(str(data)), fault
        assert "free space" in fault["action"]
        log = devnet.log(3)
        assert log.count("local fault: no space left on device") == 1, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
        stuck = devnet.height(3)
        others = (0, 1, 2)
        devnet.wait_for_height(others, stuck + 3, timeout=60)  # the others go on
        assert devnet.height(3) == stuck
        answer = devnet.web3(3).provider.make_request("eth_sendRawTransaction", ["0x00"])  # type: ignore[arg-type]
        assert answer["error"]["code"] == -32603, answer
        assert "no space left on device" in answer["error"]["message"]

        filler.unlink()
        devnet.kill(3)
        devnet.start(3)
        target = max(devnet.heights(others)) + 2
        devnet.wait_for_height(ALL, target, timeout=90)
        assert devnet.rpc(3, "peerchain_consensusState")["fault"] is None
        devnet.assert_same_chain(ALL, 1, target)
    finally:
        devnet.close()
        with contextlib.suppress(OSError):
            subprocess.run(["umount", "-l", str(data)], check=False, capture_output=True)


@pytest.mark.slow
def test_a_transaction_accepted_just_before_every_validator_is_killed_is_not_lost(
    devnet: Devnet,
) -> None:
    devnet.start()
    devnet.wait_for_height(ALL, 2, timeout=60)
    w3 = devnet.web3(0)
    sender = Account.from_key(DEV_KEY_0)
    nonce = w3.eth.get_transaction_count(sender.address)
    signed = sender.sign_transaction(
        {
            "to": "0x000000000000000000000000000000000000dEaD",
            "value": 7,
            "gas": 21000,
            "maxFeePerGas": 2 * w3.eth.gas_price,
            "maxPriorityFeePerGas": 1,
            "nonce": nonce,
            "chainId": 1337,
        }
    )
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    for i in ALL:  # right after the answer, before a block can carry it
        devnet.kill(i)
    devnet.start()
    receipt = wait_until(
        lambda: devnet.rpc(1, "eth_getTransactionReceipt", "0x" + tx_hash.hex()),
        90,
        "the transaction to be mined after the restart",
    )
    assert int(receipt["status"], 16) == 1
