"""Block sync: the core's `BlockSyncPlanner` driven over the network service, fetching from
several peers in parallel and applying blocks in height order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from peerchain.core.p2p.blocksync import BlockSyncPlanner, Verdict
from peerchain.core.p2p.scoring import Offence
from peerchain.node.network import Network, NetworkError
from peerchain.node.ports import Clock

BlockApplier = Callable[[int, bytes], Awaitable[bool]]


async def sync_blocks(network: Network, clock: Clock, height: int, apply: BlockApplier) -> int:
    """Download and apply blocks above `height` from the network's peers until we reach
    the highest height they report; return the height reached.

    `apply(height, data)` verifies and applies one block (in height order) and returns
    False if it is invalid: the block is then asked of another peer and the sender is
    penalized. Peers that send what was not asked or do not answer in time are penalized
    too.
    """
    planner = BlockSyncPlanner(height, request_timeout=network.config.request_timeout)
    done: asyncio.Queue[None] = asyncio.Queue()
    fetches: set[asyncio.Task[None]] = set()

    async def fetch(peer_id: bytes, request_id: int, start: int, count: int) -> None:
        try:
            blocks = await network.fetch_blocks(peer_id, start, count)
        except NetworkError:
            planner.remove_peer(peer_id)
        else:
            if planner.on_response(peer_id, request_id, start, blocks) is not Verdict.ACCEPTED:
                network.penalize(peer_id, Offence.UNSOLICITED)
        finally:
            done.put_nowait(None)

    try:
        while True:
            for peer_id, peer_height in network.peer_heights().items():
                planner.set_peer_height(peer_id, peer_height)
            while (block := planner.next_block()) is not None:
                if await apply(block.height, block.data):
                    planner.block_applied(block.height)
                elif (culprit := planner.block_rejected(block.height)) is not None:
                    network.penalize(culprit, Offence.INVALID_BLOCK)
            if planner.caught_up:
                return planner.height
            for peer_id in planner.expire(clock.now()):
                network.penalize(peer_id, Offence.TIMEOUT)
            for r in planner.plan(clock.now()):
                task = asyncio.create_task(fetch(r.peer_id, r.request_id, r.start, r.count))
                fetches.add(task)
                task.add_done_callback(fetches.discard)
            if not fetches:
                return planner.height  # no peer can serve what is missing
            await done.get()
    finally:
        for task in fetches:
            task.cancel()
