"""A 4-validator devnet of real processes (written by the code of `peerchain devnet`),
driven with web3.py: agreement on blocks and state, an observer that finds the network
from one address and syncs, hostile peers that get banned while blocks keep coming, and the
operators' endpoints (/metrics, /health, /ready) of a running validator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from hexbytes import HexBytes
from prometheus_client.parser import text_string_to_metric_families
from web3 import Web3
from web3.exceptions import TransactionNotFound

from peerchain.core.consensus.messages import BlockValue, Proposal, Vote, VoteKind, sign_vote
from peerchain.core.consensus.wire import decode_message as decode_consensus
from peerchain.core.consensus.wire import encode_message as encode_consensus
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.p2p.identity import NodeKey, parse_address
from peerchain.core.p2p.messages import Channel, Disconnect, Gossip, Ping, Pong
from peerchain.testing.rawpeer import RawPeer

from .harness import DEV_KEY_0, Devnet, RpcFailed, send_transfer, wait_until

VALIDATORS = (0, 1, 2, 3)
OBSERVER = 4
CHAIN_ID = 1337
RECIPIENT = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    net = Devnet.create(tmp_path_factory.mktemp("devnet"), len(VALIDATORS), observers=1)
    try:
        net.start(*VALIDATORS)
        net.wait_for_height(VALIDATORS, 2, timeout=60)
        yield net
    finally:
        net.close()


def receipt_on(devnet: Devnet, index: int, tx_hash: HexBytes) -> dict[str, Any] | None:
    try:
        return dict(devnet.web3(index).eth.get_transaction_receipt(tx_hash))
    except TransactionNotFound:
        return None


def wait_for_receipts(devnet: Devnet, tx_hash: HexBytes, nodes: Sequence[int]) -> int:
    """Wait until every node of `nodes` has the receipt; check that all name one block, and
    a success; return the block number."""

    def receipts_everywhere() -> list[dict[str, Any]] | None:
        found = [receipt_on(devnet, i, tx_hash) for i in nodes]
        return [r for r in found if r is not None] if None not in found else None

    receipts = wait_until(receipts_everywhere, 30, f"the receipt on nodes {list(nodes)}")
    assert {(r["blockNumber"], r["blockHash"], r["status"]) for r in receipts} == {
        (receipts[0]["blockNumber"], receipts[0]["blockHash"], 1)
    }
    return int(receipts[0]["blockNumber"])


def test_a_transaction_lands_in_one_block_that_every_node_agrees_on(devnet: Devnet) -> None:
    before = devnet.web3(1).eth.get_balance(RECIPIENT)
    tx_hash = send_transfer(devnet, via=1, to=RECIPIENT, value=12345)
    number = wait_for_receipts(devnet, tx_hash, VALIDATORS)
    for i in VALIDATORS:
        assert devnet.web3(i).eth.get_balance(RECIPIENT, number) == before + 12345

    devnet.wait_for_height(VALIDATORS, number + 2, timeout=30)
    tip = min(devnet.heights(VALIDATORS))
    devnet.assert_same_chain(VALIDATORS, 0, tip)
    block_hash = devnet.block(0, number)["hash"]  # type: ignore[index]
    for i in VALIDATORS:
        commit = devnet.rpc(i, "peerchain_getCommit", hex(number))
        assert commit["blockHash"] == block_hash
        assert len(commit["signatures"]) >= 3  # more than 2/3 of four equal powers


def test_validators_simulate_alike(devnet: Devnet) -> None:
    """eth_simulateV1 runs on network nodes too (the query path is the dev node's): two
    validators simulating on the same block give the same blocks."""
    devnet.wait_for_heavy_queries([0, 2])
    sender = Account.from_key(DEV_KEY_0).address
    calls = [{"from": sender, "to": RECIPIENT, "value": hex(7)}]
    request = {"blockStateCalls": [{"calls": calls}, {}], "traceTransfers": True}
    first, second = (devnet.rpc(i, "eth_simulateV1", request, "0x1") for i in (0, 2))
    assert first == second
    assert [int(b["number"], 16) for b in first] == [2, 3]
    [call] = first[0]["calls"]
    assert call["status"] == "0x1" and call["logs"][0]["data"] == "0x" + "07".rjust(64, "0")


def node_id_of(node_address: str) -> str:
    return "0x" + parse_address(node_address).node_id.hex()


def connected_peers(devnet: Devnet, index: int) -> set[str]:
    return {p["id"] for p in devnet.rpc(index, "peerchain_peers") if not p["banned"]}


def test_an_observer_given_one_address_discovers_the_network_syncs_and_serves_it(
    devnet: Devnet,
) -> None:
    config = devnet.nodes[OBSERVER].config.read_text()
    assert "validator_key" not in config and "persistent = []" in config
    assert config.count("peerchain://") == 1  # its only way in is node 0
    devnet.wait_for_height(VALIDATORS, 4, timeout=30)

    devnet.start(OBSERVER)
    validator_ids = {node_id_of(devnet.nodes[i].p2p_address) for i in VALIDATORS}
    wait_until(
        lambda: connected_peers(devnet, OBSERVER) >= validator_ids,
        30,
        "the observer to connect to every validator",
        state=lambda: connected_peers(devnet, OBSERVER),
    )
    target = max(devnet.heights(VALIDATORS))
    devnet.wait_for_height([OBSERVER], target, timeout=30)
    wait_until(
        lambda: devnet.rpc(OBSERVER, "eth_syncing") is False,
        30,
        "the observer to finish block sync",
    )
    height = devnet.height(OBSERVER)
    devnet.assert_same_chain([0, 2, OBSERVER], 0, height)
    sender = Account.from_key(DEV_KEY_0).address
    balances = {devnet.web3(i).eth.get_balance(sender, height) for i in (0, OBSERVER)}
    assert len(balances) == 1
    # It follows the chain from here (node 0 may persist a block after the observer).
    devnet.wait_for_height([0, OBSERVER], height + 2, timeout=30)
    devnet.assert_same_chain([0, OBSERVER], height, height + 2)

    # A transaction sent to the observer reaches the validators by gossip.
    sent = send_transfer(devnet, via=OBSERVER, to=RECIPIENT, value=7)
    number = wait_for_receipts(devnet, sent, (3, OBSERVER))
    devnet.assert_same_chain([3, OBSERVER], number, number)


def hostile_key(name: str) -> NodeKey:
    return NodeKey.from_private_key(keccak256(b"hostile:" + name.encode()))


def peer_record(devnet: Devnet, index: int, key: NodeKey) -> dict[str, Any] | None:
    wanted = "0x" + key.node_id.hex()
    return next((p for p in devnet.rpc(index, "admin_peers") if p["id"] == wanted), None)


def is_banned(devnet: Devnet, index: int, key: NodeKey) -> bool:
    record = peer_record(devnet, index, key)
    return record is not None and bool(record["banned"])


def test_hostile_peers_are_disconnected_and_banned_while_the_network_commits(
    devnet: Devnet,
) -> None:
    target = 1
    address = parse_address(devnet.nodes[target].p2p_address)
    genesis = bytes.fromhex(devnet.rpc(target, "eth_getBlockByNumber", "0x0", False)["hash"][2:])
    start = max(devnet.heights(VALIDATORS))
    impostor_key = (devnet.nodes[2].directory / "validator.key").read_text().strip()
    impostor = private_key_to_address(bytes.fromhex(impostor_key))

    async def attacks() -> dict[str, NodeKey]:
        # Garbage before any handshake: the connection is dropped (there is no identity).
        plain = await RawPeer.plain(address)
        await plain.send_raw(b"\xff\xff" + bytes(range(256)) * 8)
        assert await plain.read_until_closed() == []

        keys = {name: hostile_key(name) for name in ("junk", "big", "chain", "votes")}

        junk = await RawPeer.connect(address, keys["junk"], CHAIN_ID, genesis)
        await junk.send_raw(b"\x00\x20" + b"\x13" * 32)  # a packet that fails to decrypt
        *_, farewell = await junk.read_until_closed()
        assert isinstance(farewell, Disconnect) and "malformed" in farewell.reason

        big = await RawPeer.connect(address, keys["big"], CHAIN_ID, genesis)
        assert big.channel is not None
        packet = big.channel._session.encrypt(b"\xff\xff\xff\xff")  # a 4 GiB message length
        await big.send_raw(len(packet).to_bytes(2, "big") + packet)
        *_, farewell = await big.read_until_closed()
        assert isinstance(farewell, Disconnect) and "exceeds the limit" in farewell.reason

        stranger = await RawPeer.connect(address, keys["chain"], CHAIN_ID + 1, genesis)
        assert stranger.result is not None and stranger.result.incompatible
        *_, farewell = await stranger.read_until_closed()
        assert isinstance(farewell, Disconnect) and "chain id" in farewell.reason

        # Votes signed by a key that is no validator's, and votes that claim to be
        # validator 2's but are signed by another key, at the heights being decided.
        voter = await RawPeer.connect(address, keys["votes"], CHAIN_ID, genesis)
        height = int(devnet.rpc(target, "peerchain_consensusState")["height"], 16)
        forged: list[Vote] = []
        for offset in range(8):
            h = height + offset % 2
            outsider = keccak256(b"outsider:%d" % offset)
            vote = sign_vote(outsider, CHAIN_ID, VoteKind.PREVOTE, h, 0, None)
            forged.append(vote)
            forged.append(
                Vote(VoteKind.PRECOMMIT, h, offset, None, impostor, vote.signature)  # not 2's
            )
        await voter.send(*(Gossip(Channel.CONSENSUS, encode_consensus(v)) for v in forged))
        *_, farewell = await voter.read_until_closed()
        assert isinstance(farewell, Disconnect) and "banned" in farewell.reason
        return keys

    keys = asyncio.run(attacks())

    public = {p["id"]: p for p in devnet.rpc(target, "peerchain_peers")}
    for name, key in keys.items():
        record = peer_record(devnet, target, key)
        assert record is not None and record["banned"], (name, record)
        assert record["direction"] is None  # not connected any more
        assert record["bannedUntil"] is not None
        assert public["0x" + key.node_id.hex()]["banned"]

    # A banned identity that comes back is told so and dropped at once.

    async def comeback() -> None:
        again = await RawPeer.connect(address, keys["big"], CHAIN_ID, genesis)
        *_, farewell = await again.read_until_closed()
        assert isinstance(farewell, Disconnect) and "banned" in farewell.reason

    asyncio.run(comeback())

    devnet.wait_for_height(VALIDATORS, start + 3, timeout=30)
    for i in VALIDATORS:  # the honest nodes did not blame each other for what they relayed
        peers = devnet.rpc(i, "peerchain_peers")
        honest = [p for p in peers if p["id"] in _validator_ids(devnet)]
        assert len(honest) == len(VALIDATORS) - 1, (i, peers)
        assert not any(p["banned"] for p in honest), (i, peers)
    devnet.assert_same_chain(VALIDATORS, start, min(devnet.heights(VALIDATORS)))


def test_a_peer_claiming_a_height_it_cannot_serve_does_not_stop_consensus(
    devnet: Devnet,
) -> None:
    target = 3
    address = parse_address(devnet.nodes[target].p2p_address)
    genesis = bytes.fromhex(devnet.rpc(target, "eth_getBlockByNumber", "0x0", False)["hash"][2:])
    start = max(devnet.heights(VALIDATORS))

    async def lie() -> None:
        liar = await RawPeer.connect(address, hostile_key("liar"), CHAIN_ID, genesis, height=10**9)
        try:
            # Stay connected and answer no block request while the network goes on.
            await asyncio.to_thread(devnet.wait_for_height, [target], start + 4, 60)
            # Its claim is beyond what any chain can have reached: operators never see it.
            metrics = await asyncio.to_thread(scrape, devnet.nodes[target].rpc_url)
            assert metrics["ethereum_best_known_block_number"][()] < start + 1000
        finally:
            liar.close()

    asyncio.run(lie())
    devnet.wait_for_height(VALIDATORS, start + 4, timeout=30)
    devnet.assert_same_chain(VALIDATORS, start, min(devnet.heights(VALIDATORS)))


def _validator_ids(devnet: Devnet) -> set[str]:
    return {node_id_of(devnet.nodes[i].p2p_address) for i in VALIDATORS}


@pytest.mark.slow
def test_an_observer_whose_only_address_is_down_for_long_joins_when_it_returns(
    tmp_path: Path,
) -> None:
    net = Devnet.create(tmp_path / "devnet", len(VALIDATORS), observers=1)
    try:
        net.start(*VALIDATORS)
        net.wait_for_height(VALIDATORS, 2, timeout=60)
        net.kill(0)
        net.start(OBSERVER)
        # Longer than the redials an ordinary address gets before the book drops it.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert net.peer_count(OBSERVER) == 0
            time.sleep(0.5)
        net.start(0)
        validator_ids = _validator_ids(net)
        wait_until(
            lambda: connected_peers(net, OBSERVER) >= validator_ids,
            30,
            "the observer to find the network once node 0 is back",
            state=lambda: connected_peers(net, OBSERVER),
        )
        net.wait_for_height([OBSERVER], max(net.heights(VALIDATORS)), timeout=30)
    finally:
        net.close()


def test_a_raw_peer_rewriting_proposal_bodies_does_not_stop_the_devnet(devnet: Devnet) -> None:
    """A peer connected to every validator relays each proposal it gets from one of them
    to the others at once, with the proposer's signature and a forged body. It answers
    pings, as peers do, so a node drops its link for the forgeries only (a silent peer
    is dropped as dead after 20 s, before any proposal on a busy machine)."""
    genesis = bytes.fromhex(devnet.rpc(0, "eth_getBlockByNumber", "0x0", False)["hash"][2:])
    start = max(devnet.heights(VALIDATORS))

    def done(forged: int) -> bool:
        try:
            return forged > 0 and max(devnet.heights(VALIDATORS)) >= start + 4
        except RpcFailed:  # a slow answer on a busy machine: not yet
            return False

    async def forge() -> tuple[int, int]:
        links = [
            await RawPeer.connect(
                parse_address(devnet.nodes[i].p2p_address), hostile_key(f"rewriter {i}"),
                CHAIN_ID, genesis,
            )
            for i in VALIDATORS
        ]  # fmt: skip
        forged = banned = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        pending = {asyncio.ensure_future(_next_messages(link)): i for i, link in enumerate(links)}
        while pending and loop.time() < deadline:
            ready, _ = await asyncio.wait(pending, timeout=1.0, return_when="FIRST_COMPLETED")
            for task in ready:
                i = pending.pop(task)
                try:
                    messages = task.result()
                except TimeoutError:
                    messages = []  # a quiet link, still open
                except (AssertionError, OSError):
                    banned += 1  # the node closed the link
                    continue
                for message in messages:
                    if not (isinstance(message, Gossip) and message.channel == Channel.CONSENSUS):
                        continue
                    proposal = decode_consensus(message.payload)
                    if isinstance(proposal, Proposal):
                        data = proposal.block.data[:-1] + bytes([proposal.block.data[-1] ^ 1])
                        fake = replace(proposal, block=BlockValue(proposal.block.hash, data))
                        for j, other in enumerate(links):
                            if j != i:
                                with contextlib.suppress(OSError):
                                    await other.send(
                                        Gossip(Channel.CONSENSUS, encode_consensus(fake))
                                    )
                                forged += 1
                pending[asyncio.ensure_future(_next_messages(links[i]))] = i
            if done(forged):
                break
        for task in pending:
            task.cancel()
        for link in links:
            link.close()
        return forged, banned

    forged, _ = asyncio.run(forge())
    assert forged > 0
    devnet.wait_for_height(VALIDATORS, start + 4, timeout=60)
    devnet.assert_same_chain(VALIDATORS, start, min(devnet.heights(VALIDATORS)))


async def _next_messages(link: RawPeer) -> list[Any]:
    """The messages of the next chunk the node sends, its pings answered (AssertionError
    once it closes, TimeoutError after 20 s of silence)."""
    assert link.channel is not None
    if link.leftover:
        data, link.leftover = link.leftover, b""
    else:
        data = await asyncio.wait_for(link.reader.read(65536), 20)
    assert data, "the node closed the link"
    messages = list(link.channel.receive_data(data))
    pongs = [Pong(m.nonce) for m in messages if isinstance(m, Ping)]
    if pongs:
        await link.send(*pongs)
    return messages


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """A node's /metrics parsed by prometheus-client: name -> {sorted labels: value}."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def http_json(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_operators_scrape_metrics_and_ask_for_health_and_readiness(devnet: Devnet) -> None:
    url = devnet.nodes[2].rpc_url
    start = devnet.height(2)
    sent = send_transfer(devnet, via=2, to=RECIPIENT, value=3)
    number = wait_for_receipts(devnet, sent, VALIDATORS)
    devnet.wait_for_height([2], max(start, number) + 2, timeout=30)
    metrics = scrape(url)
    height = metrics["ethereum_blockchain_height"][()]
    assert height >= number + 2
    assert metrics["ethereum_best_known_block_number"][()] >= height
    assert metrics["ethereum_peer_count"][()] >= len(VALIDATORS) - 1
    assert metrics["ethereum_peer_limit"][()] >= metrics["ethereum_peer_count"][()]
    assert metrics["peerchain_consensus_height"][()] >= height
    assert metrics["peerchain_consensus_validators"][()] == len(VALIDATORS)
    assert metrics["peerchain_node_fault"][()] == 0
    assert metrics["peerchain_mempool_admitted_total"][()] >= 1
    rounds = metrics["peerchain_consensus_rounds_per_height_count"][()]
    assert rounds >= height - 2  # every block since the node started but its first
    assert metrics["peerchain_consensus_block_interval_seconds_count"][()] >= rounds
    validators = {v["address"] for v in devnet.rpc(0, "peerchain_validators")}
    missed = metrics.get("peerchain_consensus_missed_blocks_total", {})
    assert {dict(labels)["validator"] for labels in missed} <= validators
    assert sum(missed.values()) <= rounds  # at most one of four signatures may be absent
    for direction in ("in", "out"):
        key = (("channel", "consensus"), ("direction", direction))
        assert metrics["peerchain_p2p_messages_total"][key] > 0
        assert metrics["peerchain_p2p_message_bytes_total"][key] > 0
    calls = metrics["peerchain_rpc_requests_total"]
    assert calls[(("method", "eth_sendRawTransaction"), ("outcome", "ok"))] >= 1

    status, live = http_json(url + "/health")
    assert status == 200 and live["status"] == "ok" and live["fault"] is None
    status, ready = http_json(url + "/ready")
    assert status == 200 and ready["ready"] is True and ready["minPeers"] == 1, ready
    status, ready = http_json(url + "/ready?minPeers=50")
    assert status == 503 and ready["ready"] is False
    assert any("50 wanted" in reason for reason in ready["reasons"]), ready
