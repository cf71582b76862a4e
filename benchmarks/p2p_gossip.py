"""Peer-to-peer figures on loopback: one Noise channel, then gossip across 4 processes.

    .venv/bin/python benchmarks/p2p_gossip.py [--messages 100000] [--size 200]

1. Round trip: node A sends a direct message to node B, B echoes it; sequential, in one
   process (both ends share one event loop and one core).
2. Throughput: A streams direct messages to B with a window of unacknowledged messages.
3. Gossip: 4 `peerchain.tools.p2p_probe` processes (one bootstrap address, the rest found
   by peer exchange); node 0 broadcasts stamped messages, first at 20 messages/s, then
   as a burst; latency is receive time minus send time (same host clock), all receivers.
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import time
from collections.abc import Sequence
from typing import Any

from peerchain.core.crypto import keccak256
from peerchain.core.p2p.identity import NodeKey, PeerAddress
from peerchain.core.p2p.messages import Channel
from peerchain.drivers.clock import SystemClock
from peerchain.drivers.net import TcpTransport, TransportConfig
from peerchain.node.network import Network, NetworkConfig
from peerchain.testing.probe import Probe
from peerchain.tools.p2p_probe import GENESIS


class _NoBook:
    def load_addresses(self) -> list[PeerAddress]:
        return []

    def save_addresses(self, addresses: Sequence[PeerAddress]) -> None:
        pass


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms, max {ordered[-1] * 1e3:.3f} ms"


async def _node(name: str, bootstrap: tuple[PeerAddress, ...] = ()) -> Network:
    identity = NodeKey.from_private_key(keccak256(b"bench:" + name.encode()))
    network = Network(
        identity,
        # No flood limit: the throughput run sends far above what a live peer may.
        NetworkConfig(
            chain_id=1337,
            genesis_hash=GENESIS,
            bootstrap=bootstrap,
            message_rate=1e9,
            message_burst=1e9,
        ),
        TcpTransport(identity, TransportConfig()),
        _NoBook(),
        SystemClock(),
    )
    await network.start()
    return network


async def channel_figures(messages: int, size: int) -> None:
    a = await _node("a")
    b = await _node("b", (a.address,))
    b_id = b.node_id
    linked = asyncio.Event()

    def check(*_: object) -> None:
        if b_id in a.peer_ids() and a.node_id in b.peer_ids():
            linked.set()

    a.on_peer(check)
    b.on_peer(check)
    check()
    await asyncio.wait_for(linked.wait(), 10)

    # Round trips.
    echoed = asyncio.Event()
    b.on_message(lambda peer, channel, payload: b.send(peer, channel, payload))
    a.on_message(lambda peer, channel, payload: echoed.set())
    rtts = []
    for i in range(2000):
        echoed.clear()
        start = time.perf_counter()
        a.send(b_id, Channel.CONSENSUS, i.to_bytes(8, "big") + bytes(size - 8))
        await echoed.wait()
        rtts.append(time.perf_counter() - start)
    print(f"round trip, {size}-byte message, one Noise channel: {_percentiles(rtts)}")

    # Throughput with a window.
    received = 0
    progress = asyncio.Event()

    def count(peer: bytes, channel: Channel, payload: bytes) -> None:
        nonlocal received
        received += 1
        progress.set()

    b._message_callbacks.clear()
    b.on_message(count)
    payload = bytes(size)
    window = 2000
    sent = 0
    start = time.perf_counter()
    while received < messages:
        while sent < messages and sent - received < window:
            if not a.send(b_id, Channel.TRANSACTIONS, payload):
                break
            sent += 1
        progress.clear()
        await asyncio.wait_for(progress.wait(), 10)
    elapsed = time.perf_counter() - start
    rate = messages / elapsed
    print(
        f"throughput, {size}-byte messages, one Noise channel: {rate:,.0f} messages/s "
        f"({rate * size / 1e6:.1f} MB/s payload), {messages} messages in {elapsed:.2f} s"
    )
    await asyncio.gather(a.stop(), b.stop())


def _latencies(messages: list[dict[str, Any]]) -> list[float]:
    """Receive time minus the send time stamped in each payload's first 8 bytes."""
    return [m["time"] - struct.unpack(">d", bytes.fromhex(m["payload"])[:8])[0] for m in messages]


async def gossip_figures(burst: int, size: int) -> None:
    first = await Probe.start("g0")
    rest = [await Probe.start(f"g{i}", "--bootstrap", first.address) for i in (1, 2, 3)]
    probes = [first, *rest]
    receivers = rest
    for probe in probes:
        await probe.signal.wait(lambda p=probe: len(p.up) >= 3, timeout=30)

    async def run(count: int, interval: float) -> None:
        for probe in receivers:
            probe.messages.clear()
        for i in range(count):
            first.command(
                cmd="broadcast",
                channel=int(Channel.CONSENSUS),
                payload=(i.to_bytes(8, "big") + bytes(size - 8)).hex(),
                stamp=True,
            )
            if interval:
                await asyncio.sleep(interval)
        for probe in receivers:
            await probe.signal.wait(lambda p=probe: len(p.messages) >= count, timeout=30)
        samples = [x for p in receivers for x in _latencies(p.messages)]
        delivered = sum(len(p.messages) for p in receivers) / (count * len(receivers))
        rate = "burst" if not interval else f"{1 / interval:.0f} msg/s"
        print(
            f"gossip, 4 processes, {count} x {size} B at {rate}: delivered {delivered:.0%}, "
            f"latency {_percentiles(samples)}"
        )

    await run(100, 0.05)
    start = time.perf_counter()
    await run(burst, 0.0)
    elapsed = time.perf_counter() - start
    print(f"gossip burst: {burst} messages to 3 nodes in {elapsed:.2f} s")
    await asyncio.gather(*(p.stop() for p in probes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100000)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--burst", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(channel_figures(args.messages, args.size))
    asyncio.run(gossip_figures(args.burst, args.size))


if __name__ == "__main__":
    main()
