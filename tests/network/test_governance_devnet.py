"""Validator set changes by on-chain vote on a devnet of real processes, driven with the
`peerchain validators` command: two of four validators are voted out and stopped, the
other two go on alone (with the old set they could not), one is voted back in and signs
again; every block commits to the next height's set, which a light client follows. A
validator whose key double signs is reported on chain and leaves the set."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rlp
from click.testing import CliRunner

from peerchain.cli.main import cli
from peerchain.core.consensus.certificate import CommitCertificate
from peerchain.core.consensus.lightclient import LightClient
from peerchain.core.consensus.messages import InvalidMessage, VoteKind, sign_vote
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.consensus.wire import encode_message
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.genesis import Validator
from peerchain.core.p2p.identity import NodeKey, parse_address
from peerchain.core.p2p.messages import Channel, Gossip
from peerchain.testing.rawpeer import RawPeer

from .harness import Devnet, wait_until

CHAIN_ID = 1337


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[Devnet]:
    net = Devnet.create(tmp_path / "devnet", 4)
    try:
        net.start(0, 1, 2, 3)
        net.wait_for_height([0, 1, 2, 3], 2, timeout=60)
        # Votes are sent with eth_estimateGas, and the sets of other heights are read by
        # the query workers.
        net.wait_for_heavy_queries([0, 1, 2, 3])
        yield net
    finally:
        net.close()


def _key_file(devnet: Devnet, index: int) -> Path:
    return devnet.nodes[index].directory / "validator.key"


def _address(devnet: Devnet, index: int) -> str:
    key = bytes.fromhex(_key_file(devnet, index).read_text().strip())
    return "0x" + private_key_to_address(key).hex()


def _peerchain(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _vote(devnet: Devnet, voter: int, *change: str) -> str:
    return _peerchain(
        "validators", "propose", "--rpc", devnet.nodes[voter].rpc_url,
        "--key-file", str(_key_file(devnet, voter)), *change,
    )  # fmt: skip


def _refused(devnet: Devnet, voter: int, *change: str) -> str:
    result = CliRunner().invoke(
        cli,
        ["validators", "propose", "--rpc", devnet.nodes[voter].rpc_url,
         "--key-file", str(_key_file(devnet, voter)), *change],
    )  # fmt: skip
    assert result.exit_code != 0
    return f"{result.output} {result.exception}"


def _members(devnet: Devnet, via: int, height: int) -> set[str]:
    return {m["address"] for m in devnet.rpc(via, "peerchain_validators", hex(height))}


def _set_of(devnet: Devnet, via: int, height: int) -> ValidatorSet:
    return ValidatorSet(
        Validator(bytes.fromhex(m["address"][2:]), int(m["power"], 16))
        for m in devnet.rpc(via, "peerchain_validators", hex(height))
    )


def _signers(devnet: Devnet, via: int, height: int) -> set[str]:
    commit = devnet.rpc(via, "peerchain_getCommit", hex(height))
    return {s["validator"] for s in commit["signatures"]}


def test_remove_two_run_on_two_then_add_one_back(devnet: Devnet) -> None:
    everyone = {_address(devnet, i) for i in range(4)}
    # Two votes of four: the proposal stays open with its tally.
    _vote(devnet, 0, "--remove", _address(devnet, 3))
    out = _vote(devnet, 1, "--remove", _address(devnet, 3))
    assert "20 of 40 power voted" in out, out
    open_ = devnet.rpc(0, "peerchain_proposals")
    assert [p["address"] for p in open_] == [_address(devnet, 3)]
    assert len(open_[0]["voters"]) == 2
    out = _vote(devnet, 2, "--remove", _address(devnet, 3))
    assert "decided in block" in out, out
    decided = int(out.split("decided in block ")[1].split(",")[0])
    assert devnet.rpc(0, "peerchain_proposals") == []
    devnet.wait_for_height([0, 1, 2], decided + 3, timeout=60)
    assert _members(devnet, 0, decided + 1) == everyone
    assert _members(devnet, 0, decided + 2) == everyone - {_address(devnet, 3)}
    assert _address(devnet, 3) not in _signers(devnet, 0, decided + 2)
    # Refusals, with their reason, before anything is sent.
    refused = _refused(devnet, 3, "--add", _address(devnet, 3), "--power", "10")
    assert "only a validator of the current set may vote" in refused
    assert "--power must be positive" in _refused(
        devnet, 0, "--add", _address(devnet, 3), "--power", "0"
    )

    # Of three validators of 10 each, all three are needed for more than 2/3.
    for voter in (0, 1, 2):
        out = _vote(devnet, voter, "--remove", _address(devnet, 2))
    decided = int(out.split("decided in block ")[1].split(",")[0])
    two = {_address(devnet, 0), _address(devnet, 1)}
    devnet.wait_for_height([0, 1], decided + 2, timeout=60)
    assert _members(devnet, 0, decided + 2) == two
    devnet.kill(2)
    devnet.kill(3)
    start = max(devnet.heights([0, 1]))
    devnet.wait_for_height([0, 1], start + 3, timeout=60)  # with the old set: no quorum
    assert _signers(devnet, 0, start + 2) <= two

    # Node 2 is voted back in (2 of 2), restarted, and signs the later certificates.
    _vote(devnet, 0, "--add", _address(devnet, 2), "--power", "10")
    out = _vote(devnet, 1, "--add", _address(devnet, 2), "--power", "10")
    decided = int(out.split("decided in block ")[1].split(",")[0])
    devnet.start(2)
    devnet.wait_for_height([0, 1, 2], decided + 4, timeout=120)
    assert _members(devnet, 0, decided + 2) == two | {_address(devnet, 2)}
    assert _address(devnet, 2) in _signers(devnet, 0, decided + 3)

    # A light client that trusts the genesis set follows every change: each certificate
    # checks against the set it holds, and each block names the hash of the next set.
    listing = _peerchain("validators", "list", "--rpc", devnet.nodes[0].rpc_url)
    assert _address(devnet, 2) in listing and _address(devnet, 3) not in listing
    client = LightClient(CHAIN_ID, 1, _set_of(devnet, 1, 1))
    for height in range(1, decided + 4):
        block = devnet.rpc(1, "eth_getBlockByNumber", hex(height), False)
        certificate = _certificate(devnet.rpc(1, "peerchain_getCommit", hex(height)))
        assert "0x" + certificate.block_hash.hex() == block["hash"] == _header_hash(block)
        commitment = bytes.fromhex(block["parentBeaconBlockRoot"][2:])
        client.advance(certificate, commitment, _set_of(devnet, 1, height + 1))
    assert client.trusted == _set_of(devnet, 0, decided + 4)
    # A set that the chain did not commit to is refused.
    certificate = _certificate(devnet.rpc(1, "peerchain_getCommit", hex(client.height)))
    with pytest.raises(InvalidMessage, match="not the one"):
        client.advance(certificate, commitment, _set_of(devnet, 1, 1))
    wait_until(lambda: max(devnet.heights([0, 1, 2])) > decided + 4, 60, "more blocks")


def _certificate(commit: dict[str, Any]) -> CommitCertificate:
    return CommitCertificate(
        int(commit["height"], 16),
        int(commit["round"], 16),
        bytes.fromhex(commit["blockHash"][2:]),
        tuple(
            (bytes.fromhex(s["validator"][2:]), bytes.fromhex(s["signature"][2:]))
            for s in commit["signatures"]
        ),
    )


_HEADER_FIELDS = (
    "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot",
    "logsBloom", "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData",
    "mixHash", "nonce", "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas",
    "parentBeaconBlockRoot", "requestsHash",
)  # fmt: skip
_NUMBERS = {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas",
            "blobGasUsed", "excessBlobGas"}  # fmt: skip


def _header_hash(block: dict[str, Any]) -> str:
    """The hash of the header a light client rebuilds from the block's fields."""
    items = [
        int(block[f], 16) if f in _NUMBERS else bytes.fromhex(block[f][2:]) for f in _HEADER_FIELDS
    ]
    return "0x" + keccak256(rlp.encode(items)).hex()


def test_a_double_signer_is_reported_on_chain_and_jailed(devnet: Devnet) -> None:
    """Validator 3's key signs two different prevotes for one height and round (a
    double signer's messages, injected by a raw peer); the validators that see them
    report the evidence to the governance contract and 3 leaves the set."""
    genesis = bytes.fromhex(devnet.rpc(0, "eth_getBlockByNumber", "0x0", False)["hash"][2:])
    key = bytes.fromhex(_key_file(devnet, 3).read_text().strip())
    offender = _address(devnet, 3)

    async def double_sign() -> None:
        peer = await RawPeer.connect(
            parse_address(devnet.nodes[0].p2p_address),
            NodeKey.from_private_key(keccak256(b"double signer's relay")),
            CHAIN_ID,
            genesis,
        )
        try:
            height = int(devnet.rpc(0, "peerchain_consensusState")["height"], 16)
            votes = [
                sign_vote(key, CHAIN_ID, VoteKind.PREVOTE, h, 0, keccak256(b"%d/%d" % (h, i)))
                for h in (height, height + 1)
                for i in range(2)
            ]
            await peer.send(*(Gossip(Channel.CONSENSUS, encode_message(v)) for v in votes))
        finally:
            peer.close()

    def jailed() -> bool:
        asyncio.run(double_sign())
        head = devnet.height(0)
        return offender not in _members(devnet, 0, head + 2)

    wait_until(jailed, 90, "the double signer to leave the validator set")
    assert "reported double signing on chain" in devnet.log(0) + devnet.log(1) + devnet.log(2)
    head = devnet.height(0)
    devnet.wait_for_height([0, 1, 2], head + 4, timeout=60)
    assert offender not in _signers(devnet, 0, head + 3)
