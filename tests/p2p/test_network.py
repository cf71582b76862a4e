"""The Network service over real TCP on loopback, several nodes in this process."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from peerchain.core.errors import ListenError
from peerchain.core.p2p.gossip import Relay
from peerchain.core.p2p.identity import PeerAddress
from peerchain.core.p2p.messages import Blocks, Channel, Direct, Disconnect, PexResponse
from peerchain.core.p2p.scoring import Offence
from peerchain.drivers.clock import SystemClock
from peerchain.drivers.net import (
    FileAddressBook,
    TcpTransport,
    TransportConfig,
    load_or_create_node_key,
)
from peerchain.node.blocksync import sync_blocks
from peerchain.node.ports import LinkClosed

from .p2p_helpers import LocalNode, RawClient, node_key, start_node


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 60))


async def connected_pair(**config: object) -> tuple[LocalNode, LocalNode]:
    a = await start_node("a", **config)  # type: ignore[arg-type]
    b = await start_node("b", bootstrap=(a.network.address,), **config)  # type: ignore[arg-type]
    await a.signal.wait(lambda: b.network.node_id in a.up)
    await b.signal.wait(lambda: a.network.node_id in b.up)
    return a, b


async def stop(*nodes: LocalNode) -> None:
    await asyncio.gather(*(n.network.stop() for n in nodes))


def test_direct_messages_heights_and_peer_info() -> None:
    async def scenario() -> None:
        a, b = await connected_pair()
        try:
            assert b.network.send(a.network.node_id, Channel.BLOCKS, b"just for a")
            await a.signal.wait(lambda: bool(a.messages))
            assert a.messages == [(b.network.node_id, Channel.BLOCKS, b"just for a")]
            assert a.network.peer_heights() == {b.network.node_id: 0}
            b.network.update_height(42)
            await a.signal.wait(lambda: a.heights[b.network.node_id] == 42)
            assert a.network.peer_heights() == {b.network.node_id: 42}
            (info,) = a.network.peers()
            assert info.node_id == b.network.node_id.hex() and info.direction == "inbound"
            assert info.address == str(b.network.address) and not info.banned
            assert not a.network.send(b"\x00" * 20, Channel.BLOCKS, b"nobody")
        finally:
            await stop(a, b)

    run(scenario)


def test_blocks_are_fetched_and_synced_in_order_around_a_lying_peer() -> None:
    chain = {h: f"block {h}".encode() for h in range(1, 301)}

    async def scenario() -> None:
        honest = await start_node("honest")
        liar = await start_node("liar")
        fresh = await start_node("fresh", bootstrap=(honest.network.address, liar.network.address))
        honest.network.set_block_source(
            lambda s, n: [chain[h] for h in range(s, s + n) if h in chain]
        )
        liar.network.set_block_source(lambda s, n: [b"forged"] * min(n, 301 - s))
        for node in (honest, liar):
            node.network.update_height(300)
        try:
            await fresh.signal.wait(lambda: len(fresh.up) == 2)
            await fresh.signal.wait(lambda: set(fresh.heights.values()) == {300})
            assert await fresh.network.fetch_blocks(honest.network.node_id, 299, 5) == [
                chain[299],
                chain[300],
            ]
            applied: list[int] = []

            async def apply(height: int, data: bytes) -> bool:
                if data != chain[height]:
                    return False
                applied.append(height)
                return True

            assert await sync_blocks(fresh.network, SystemClock(), 0, apply) == 300
            assert applied == list(range(1, 301))
            banned = {p.node_id for p in fresh.network.peers() if p.banned}
            assert banned == {liar.network.node_id.hex()}
        finally:
            await stop(honest, liar, fresh)

    run(scenario)


def test_slow_peer_gets_a_bounded_queue_and_does_not_block_the_node() -> None:
    async def scenario() -> None:
        small = TransportConfig(queue_bytes=512 * 1024, dead_after=30.0)
        node = await start_node("busy", transport_config=small)
        fast = await start_node("fast", bootstrap=(node.network.address,))
        slow = await RawClient.connect_as(node.network.address, "slow")  # never reads
        try:
            await node.signal.wait(lambda: len(node.up) == 2)
            slow_id = node_key("slow").node_id
            chunk = b"x" * 64 * 1024
            results = [node.network.send(slow_id, Channel.BLOCKS, chunk) for _ in range(200)]
            assert results[0] and not all(results)  # queued until the bound, then dropped
            node.network.broadcast(Channel.CONSENSUS, b"vote")
            await fast.signal.wait(lambda: (node.network.node_id, 0, b"vote") in fast.messages)
        finally:
            slow.close()
            await stop(node, fast)

    run(scenario)


def test_silent_peer_is_detected_dead_and_dropped() -> None:
    async def scenario() -> None:
        quick = TransportConfig(ping_interval=0.1, dead_after=0.5)
        node = await start_node("watcher", transport_config=quick)
        silent = await RawClient.connect_as(node.network.address, "silent")
        try:
            silent_id = node_key("silent").node_id
            await node.signal.wait(lambda: silent_id in node.down)
            messages = await silent.read_until_closed()
            assert any(isinstance(m, Disconnect) and "unresponsive" in m.reason for m in messages)
            assert node.network.peer_count() == 0
        finally:
            silent.close()
            await stop(node)

    run(scenario)


def test_wrong_dialled_id_closes_with_a_reason_logged_on_both_sides(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        a = await start_node("a")
        b = await start_node("b")
        try:
            wrong = PeerAddress(node_key("someone else").node_id, *b.network.address.endpoint)
            with pytest.raises(LinkClosed, match="dialled node"):
                await a.network._transport.dial(wrong)
            await b.signal.wait(
                lambda: any("peer disconnected: dialled node" in r.message for r in caplog.records)
            )
        finally:
            await stop(a, b)

    run(scenario)
    reasons = [r.getMessage() for r in caplog.records if "dialled node" in r.getMessage()]
    assert any(r.startswith("disconnecting peer") for r in reasons)  # the dialler
    assert any(r.startswith("peer ") and "disconnected: dialled" in r for r in reasons)  # the other


def test_wrong_chain_bans_both_ways() -> None:
    async def scenario() -> None:
        a = await start_node("a")
        other = await start_node("other", chain_id=7, bootstrap=(a.network.address,))
        try:
            await a.signal.wait(lambda: a.banned == [other.network.node_id])
            await other.signal.wait(lambda: other.banned == [a.network.node_id])
            assert [p.node_id for p in a.network.peers() if p.banned] == [
                other.network.node_id.hex()
            ]
            assert a.network.peer_count() == 0
        finally:
            await stop(a, other)

    run(scenario)


def test_simultaneous_dials_leave_one_link() -> None:
    async def scenario() -> None:
        a = await start_node("a")
        b = await start_node("b")
        try:
            await asyncio.gather(
                a.network._dial(b.network.address), b.network._dial(a.network.address)
            )
            await a.signal.wait(lambda: a.network.peer_count() == 1)
            await b.signal.wait(lambda: b.network.peer_count() == 1)
            a.network.broadcast(Channel.TRANSACTIONS, b"tx")
            await b.signal.wait(lambda: len(b.messages) == 1)
            (a_side,) = a.network.peers()
            (b_side,) = b.network.peers()
            assert {a_side.direction, b_side.direction} == {"inbound", "outbound"}
        finally:
            await stop(a, b)

    run(scenario)


def test_invalid_gossip_is_not_forwarded_and_costs_the_sender() -> None:
    async def scenario() -> None:
        a, b = await connected_pair()
        c = await start_node("c", bootstrap=(b.network.address,))
        try:
            await c.signal.wait(lambda: b.network.node_id in c.up)
            b.network.set_validator(
                Channel.CONSENSUS,
                lambda peer, payload: Relay.REJECT if payload == b"bad" else Relay.RELAY,
            )
            a.network.broadcast(Channel.CONSENSUS, b"bad")
            a.network.broadcast(Channel.CONSENSUS, b"good")
            await c.signal.wait(lambda: bool(c.messages))
            assert [m[2] for m in c.messages] == [b"good"]
            assert b.network.scores.score(a.network.node_id, 0.0) < 0
        finally:
            await stop(a, b, c)

    run(scenario)


def test_persistent_peer_is_redialled_after_a_restart() -> None:
    async def scenario() -> None:
        b = await start_node("b")
        port = b.network.address.port
        a = await start_node("a", persistent=(b.network.address,), backoff_base=0.05)
        try:
            await a.signal.wait(lambda: b.network.node_id in a.up)
            await b.network.stop()
            await a.signal.wait(lambda: b.network.node_id not in a.up)
            b = await start_node("b", transport_config=TransportConfig(listen_port=port))
            await a.signal.wait(lambda: b.network.node_id in a.up)
        finally:
            await stop(a, b)

    run(scenario)


def test_unsolicited_and_protocol_violating_messages_cost_score() -> None:
    async def scenario() -> None:
        node = await start_node("n")
        client = await RawClient.connect_as(node.network.address, "rude")
        rude = node_key("rude").node_id
        try:
            await node.signal.wait(lambda: rude in node.up)
            assert client.channel is not None
            fence = Direct(Channel.BLOCKS, b"after")  # handled after the two before it
            await client.send_raw(client.channel.seal([Blocks(99, 1, ()), PexResponse(()), fence]))
            await node.signal.wait(lambda: bool(node.messages))
            score = node.network.scores.score(rude, node.network._clock.now())
            assert score <= -2 * Offence.UNSOLICITED.penalty + 1
            assert node.network.peer_count() == 1  # penalized, not banned
        finally:
            client.close()
            await stop(node)

    run(scenario)


def test_address_book_and_node_key_files(tmp_path: Path) -> None:
    key = load_or_create_node_key(tmp_path / "node.key")
    assert load_or_create_node_key(tmp_path / "node.key") == key
    assert (tmp_path / "node.key").stat().st_mode & 0o777 == 0o600
    book = FileAddressBook(tmp_path / "peers.json")
    assert book.load_addresses() == []
    addresses = [PeerAddress(bytes([i]) * 20, "127.0.0.1", 1000 + i) for i in range(3)]
    book.save_addresses(addresses)
    assert book.load_addresses() == addresses
    (tmp_path / "peers.json").write_text('["garbage", 5, "' + str(addresses[0]) + '"]')
    assert book.load_addresses() == addresses[:1]
    (tmp_path / "peers.json").write_text("{not json")
    assert book.load_addresses() == []


def test_unsolicited_flood_gets_the_peer_banned() -> None:
    async def scenario() -> None:
        node = await start_node("calm", message_rate=1.0, message_burst=5.0)
        client = await RawClient.connect_as(node.network.address, "flooder")
        flooder = node_key("flooder").node_id
        try:
            assert client.channel is not None
            flood = [Direct(Channel.TRANSACTIONS, i.to_bytes(4, "big")) for i in range(100)]
            await client.send_raw(client.channel.seal(flood))
            await node.signal.wait(lambda: flooder in node.banned)
            farewell = [m for m in await client.read_until_closed() if isinstance(m, Disconnect)]
            assert farewell and "flood" in farewell[0].reason
            assert len(node.messages) < 100  # the excess was dropped, not delivered
        finally:
            client.close()
            await stop(node)

    run(scenario)


def test_send_queue_drains_channels_in_priority_order() -> None:
    async def scenario() -> None:
        node = await start_node("sender")
        client = await RawClient.connect_as(node.network.address, "reader")
        reader_id = node_key("reader").node_id
        try:
            await node.signal.wait(lambda: reader_id in node.up)
            link = node.network._links[reader_id]
            queued = [
                Direct(Channel.PEER_EXCHANGE, b"4"),
                Direct(Channel.TRANSACTIONS, b"3"),
                Direct(Channel.BLOCKS, b"2"),
                Direct(Channel.CONSENSUS, b"1"),
            ]
            for message in queued:  # queued in one go: the writer runs after this loop
                assert link.send(message)
            assert await client.read_messages(4) == queued[::-1]
        finally:
            client.close()
            await stop(node)

    run(scenario)


def test_a_listen_port_in_use_is_a_listen_error_naming_it() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = TransportConfig(listen_host="127.0.0.1", listen_port=port)
        transport = TcpTransport(node_key("busy"), config)
        with pytest.raises(ListenError) as error:
            asyncio.run(transport.start(lambda link: None))  # type: ignore[arg-type]
    assert str(error.value) == (
        f"cannot listen for peers on 127.0.0.1:{port}: Address already in use; "
        "choose another port (`listen` in node.toml)"
    )
