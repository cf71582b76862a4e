"""Half-open Noise handshakes cannot lock honest peers out: 200 sockets that each send
the first handshake message and re-dial when dropped, from one address or from many
(127.0.0.x, so that no address reaches its own limit), and honest inbound peers still
complete their handshakes; the flood holds a bounded number of slots."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from peerchain.drivers.net import TransportConfig
from peerchain.testing.rawpeer import HalfHandshakeFlood

from .p2p_helpers import RawClient, start_node

FLOOD_SOCKETS = 200
HONEST_PEERS = 18


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 120))


async def _until(condition: Callable[[], bool], timeout: float) -> None:
    """Poll `condition` until it holds; AssertionError after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def _honest_handshakes(node_address: object, count: int) -> int:
    succeeded = 0
    for i in range(count):
        try:
            peer = await asyncio.wait_for(
                RawClient.connect_as(node_address, f"honest {i}"),  # type: ignore[arg-type]
                10.0,
            )
        except (AssertionError, OSError, TimeoutError):
            continue
        succeeded += 1
        peer.close()
    return succeeded


def test_honest_inbound_peers_get_through_a_flood_of_half_handshakes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        config = TransportConfig(inbound_handshake_timeout=1.0)
        node = await start_node("flooded", transport_config=config, max_inbound=64)
        flood = HalfHandshakeFlood(node.network.address, FLOOD_SOCKETS, "127.0.0.2")
        try:
            flood.start()
            transport = node.network._transport
            await _until(lambda: flood.dials >= FLOOD_SOCKETS, 30)
            pending = transport._pending.get("127.0.0.2", [])  # type: ignore[attr-defined]
            assert len(pending) <= config.max_pending_per_host
            succeeded = await _honest_handshakes(node.network.address, HONEST_PEERS)
            print(f"honest handshakes during the flood: {succeeded}/{HONEST_PEERS}")
            assert succeeded == HONEST_PEERS
            assert transport.refused_handshakes > 0  # type: ignore[attr-defined]
            await _until(
                lambda: any("not completed within" in r.getMessage() for r in caplog.records), 30
            )
        finally:
            await flood.stop()
            await node.network.stop()

    with caplog.at_level(logging.INFO, logger="peerchain.net"):
        run(scenario)


FLOOD_HOSTS = 100  # 127.0.0.2 .. 127.0.0.101, each below the per-address limit
SOCKETS_PER_HOST = 3


def test_honest_inbound_peers_get_through_a_flood_from_many_addresses() -> None:
    async def scenario() -> None:
        config = TransportConfig(inbound_handshake_timeout=1.0)
        assert config.max_pending_per_host > SOCKETS_PER_HOST
        assert 2 * config.max_pending_handshakes < FLOOD_HOSTS * SOCKETS_PER_HOST
        node = await start_node("flooded by many", transport_config=config, max_inbound=64)
        floods = [
            HalfHandshakeFlood(node.network.address, SOCKETS_PER_HOST, f"127.0.0.{2 + i}")
            for i in range(FLOOD_HOSTS)
        ]
        try:
            for flood in floods:
                flood.start()
            transport = node.network._transport
            await _until(lambda: all(f.dials >= SOCKETS_PER_HOST for f in floods), 60)
            pending = transport._pending  # type: ignore[attr-defined]
            assert sum(len(p) for p in pending.values()) <= config.max_pending_handshakes
            succeeded = await _honest_handshakes(node.network.address, HONEST_PEERS)
            print(f"honest handshakes during the flood: {succeeded}/{HONEST_PEERS}")
            assert succeeded == HONEST_PEERS
            assert transport.refused_handshakes > 0  # type: ignore[attr-defined]
        finally:
            for flood in floods:
                await flood.stop()
            await node.network.stop()

    run(scenario)
