"""Nodes in their own network namespaces: a 2|2 partition cuts links and gossip; heal restores."""

from __future__ import annotations

import asyncio

import pytest

from peerchain.core.p2p.identity import PeerAddress
from peerchain.core.p2p.messages import Channel
from peerchain.testing.netns import NetnsLab
from peerchain.testing.probe import Probe
from peerchain.tools.p2p_probe import probe_key

PORT = 26656

pytestmark = [pytest.mark.slow, pytest.mark.netns]


def test_partition_then_heal_in_namespaces() -> None:
    with NetnsLab(4) as lab:
        addresses = [
            str(PeerAddress(probe_key(f"ns-{i}").node_id, node.address, PORT))
            for i, node in enumerate(lab.nodes)
        ]

        async def scenario() -> None:
            probes = []
            for i, node in enumerate(lab.nodes):
                others = [a for j, a in enumerate(addresses) if j != i]
                args = ["--listen", f"{node.address}:{PORT}", "--ping-interval", "0.3"]
                args += ["--dead-after", "1.5", "--backoff-max", "1"]
                args += [x for a in others for x in ("--persistent", a)]
                probes.append(await Probe.start(f"ns-{i}", *args, prefix=node.command([])))
            ids = [p.node_id for p in probes]
            try:
                for p in probes:
                    await p.signal.wait(lambda p=p: p.up == set(ids) - {p.node_id})

                lab.partition([[0, 1], [2, 3]])
                for i, p in enumerate(probes):
                    partner = ids[i ^ 1]
                    await p.signal.wait(lambda p=p, partner=partner: p.up == {partner})
                probes[0].command(cmd="broadcast", channel=int(Channel.CONSENSUS), payload="a0")
                probes[2].command(cmd="broadcast", channel=int(Channel.CONSENSUS), payload="b2")
                await probes[1].signal.wait(lambda: "a0" in probes[1].payloads())
                await probes[3].signal.wait(lambda: "b2" in probes[3].payloads())
                assert "a0" not in probes[3].payloads() and "b2" not in probes[1].payloads()

                lab.heal()
                for p in probes:
                    await p.signal.wait(lambda p=p: p.up == set(ids) - {p.node_id}, timeout=30)
                probes[3].command(cmd="broadcast", channel=int(Channel.CONSENSUS), payload="c3")
                for p in probes[:3]:
                    await p.signal.wait(lambda p=p: "c3" in p.payloads())
            finally:
                await asyncio.gather(*(p.stop() for p in probes))

        asyncio.run(scenario())
    assert lab.nodes == []
