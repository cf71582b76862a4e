"""Real processes on loopback: discovery by peer exchange, exactly-once gossip, hostile peers."""

from __future__ import annotations

import asyncio

from peerchain.core.p2p.identity import parse_address
from peerchain.core.p2p.messages import Channel, Disconnect
from peerchain.testing.probe import Probe

from .p2p_helpers import CHAIN_ID, RawClient


async def start_probes(count: int) -> list[Probe]:
    first = await Probe.start("node-0")
    rest = await asyncio.gather(
        *(Probe.start(f"node-{i}", "--bootstrap", first.address) for i in range(1, count))
    )
    return [first, *rest]


def test_four_processes_discover_each_other_and_get_every_gossip_once() -> None:
    async def scenario() -> None:
        probes = await start_probes(4)
        try:
            ids = {p.node_id for p in probes}
            for probe in probes:  # only node-0 was given; the rest came by peer exchange
                await probe.signal.wait(lambda p=probe: p.up == ids - {p.node_id})
            sent: dict[str, list[str]] = {}
            for probe in probes:
                sent[probe.name] = [f"{probe.node_id}{i:04x}" for i in range(5)]
                for payload in sent[probe.name]:
                    probe.command(
                        cmd="broadcast", channel=int(Channel.TRANSACTIONS), payload=payload
                    )
            for probe in probes:
                expected = sorted(x for name, xs in sent.items() if name != probe.name for x in xs)
                count = len(expected)
                await probe.signal.wait(lambda p=probe, n=count: len(p.payloads()) >= n)
                assert sorted(probe.payloads()) == expected  # each exactly once, none of its own
        finally:
            await asyncio.gather(*(p.stop() for p in probes))

    asyncio.run(scenario())


def test_hostile_client_is_disconnected_and_banned_while_others_keep_exchanging() -> None:
    async def scenario() -> None:
        probes = await start_probes(3)
        target, others = probes[0], probes[1:]
        address = parse_address(target.address)
        try:
            for probe in probes:
                await probe.signal.wait(lambda p=probe: len(p.up) == 2)

            # Garbage before any handshake: the connection is dropped (no identity to ban).
            plain = await RawClient.plain(address)
            await plain.send_raw(b"\xff\xff" + bytes(range(256)) * 4)
            assert await plain.read_until_closed() == []

            # An oversized frame after a valid handshake: disconnected with a reason, banned.
            oversized = await RawClient.connect_as(address, "mallory-big")
            assert oversized.channel is not None
            packet = oversized.channel._session.encrypt(b"\xff\xff\xff\xff")
            await oversized.send_raw(len(packet).to_bytes(2, "big") + packet)
            (farewell,) = await oversized.read_until_closed()
            assert isinstance(farewell, Disconnect) and "exceeds the limit" in farewell.reason

            # Garbage inside the encrypted channel.
            garbage = await RawClient.connect_as(address, "mallory-junk")
            await garbage.send_raw(b"\x00\x20" + b"\x13" * 32)
            (farewell,) = await garbage.read_until_closed()
            assert isinstance(farewell, Disconnect) and "malformed" in farewell.reason

            # Another chain: both sides see the mismatch; the node says why and bans it.
            stranger = await RawClient.connect_as(address, "mallory-chain", chain_id=CHAIN_ID + 1)
            assert stranger.result is not None and stranger.result.incompatible
            (farewell,) = await stranger.read_until_closed()
            assert isinstance(farewell, Disconnect) and "chain id" in farewell.reason

            peers = {p["node_id"]: p for p in await target.peers()}
            hostile = [
                RawClient.name_id(n) for n in ("mallory-big", "mallory-junk", "mallory-chain")
            ]
            for node_id in hostile:
                assert peers[node_id]["banned"], node_id
                assert peers[node_id]["direction"] is None
            for probe in others:
                assert not peers[probe.node_id]["banned"]

            # A banned identity that comes back is told so and dropped.
            again = await RawClient.connect_as(address, "mallory-big")
            (farewell,) = await again.read_until_closed()
            assert isinstance(farewell, Disconnect) and "banned" in farewell.reason

            # The honest nodes kept their links and still exchange gossip.
            others[0].command(cmd="broadcast", channel=int(Channel.CONSENSUS), payload="c0ffee")
            for probe in (target, others[1]):
                await probe.signal.wait(lambda p=probe: "c0ffee" in p.payloads())
            assert len(target.up) == 2
        finally:
            await asyncio.gather(*(p.stop() for p in probes))

    asyncio.run(scenario())
