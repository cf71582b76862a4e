"""Block sync planning, sans-I/O: what to request from whom, and blocks out in order.

The node tells the planner the peers' reported heights and its own; `plan(now)` answers
with requests for consecutive ranges spread over peers (at most `max_requests_per_peer`
outstanding each, no range asked of two peers at once), within a window of `window`
heights above our own so a fast peer cannot fill memory. Responses fill a buffer;
`next_block()` hands out the block at our height + 1 once it is there; the caller
verifies and applies it, then calls `block_applied` or `block_rejected`. Timed-out and
rejected ranges go back to be asked of another peer.

The planner judges no bytes: it only returns which peer to penalize (`Verdict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True)
class BlockRequest:
    """Ask `peer_id` for `count` blocks from height `start`; give up at `deadline`."""

    request_id: int
    peer_id: bytes
    start: int
    count: int
    deadline: float


@dataclass(frozen=True, slots=True)
class SyncedBlock:
    height: int
    data: bytes
    peer_id: bytes


class Verdict(Enum):
    """How a response fits what was asked."""

    ACCEPTED = "accepted"
    UNSOLICITED = "unsolicited"
    MALFORMED = "malformed"


class BlockSyncPlanner:
    """Plans block downloads from several peers and releases blocks in height order."""

    def __init__(
        self,
        height: int,
        *,
        batch_size: int = 16,
        max_requests_per_peer: int = 2,
        window: int = 256,
        request_timeout: float = 10.0,
    ) -> None:
        self.height = height
        self.batch_size = batch_size
        self.max_requests_per_peer = max_requests_per_peer
        self.window = window
        self.request_timeout = request_timeout
        self._peers: dict[bytes, int] = {}
        self._inflight: dict[int, BlockRequest] = {}
        self._assigned: dict[int, int] = {}  # height -> request id
        self._buffer: dict[int, SyncedBlock] = {}
        self._refused: dict[int, set[bytes]] = {}  # height -> peers whose block was bad
        self._next_id = 1

    # --- peers ------------------------------------------------------------------------

    def set_peer_height(self, peer_id: bytes, height: int) -> None:
        self._peers[peer_id] = height

    def remove_peer(self, peer_id: bytes) -> None:
        """Forget a peer and put its outstanding ranges back to be asked elsewhere."""
        self._peers.pop(peer_id, None)
        for request in [r for r in self._inflight.values() if r.peer_id == peer_id]:
            self._release(request)

    @property
    def target_height(self) -> int:
        """The highest height any peer reported (our own if higher or no peers)."""
        return max([self.height, *self._peers.values()])

    @property
    def caught_up(self) -> bool:
        return self.height >= self.target_height

    # --- planning -------------------------------------------------------------------

    def plan(self, now: float) -> list[BlockRequest]:
        """New requests to send now (their heights are marked as in flight)."""
        requests: list[BlockRequest] = []
        limit = min(self.target_height, self.height + self.window)
        start = self.height + 1
        while start <= limit:
            if start in self._assigned or start in self._buffer:
                start += 1
                continue
            peer = self._choose_peer(start)
            if peer is None:
                start += 1
                continue
            end = min(start + self.batch_size - 1, limit, self._peers[peer])
            count = 1
            while (
                start + count <= end
                and start + count not in self._assigned
                and start + count not in self._buffer
                and peer not in self._refused.get(start + count, ())
            ):
                count += 1
            request = BlockRequest(self._next_id, peer, start, count, now + self.request_timeout)
            self._next_id += 1
            self._inflight[request.request_id] = request
            for h in range(start, start + count):
                self._assigned[h] = request.request_id
            requests.append(request)
            start += count
        return requests

    def _choose_peer(self, height: int) -> bytes | None:
        load: dict[bytes, int] = dict.fromkeys(self._peers, 0)
        for request in self._inflight.values():
            if request.peer_id in load:
                load[request.peer_id] += 1
        refused = self._refused.get(height, set())
        able = [
            p
            for p, h in self._peers.items()
            if h >= height and load[p] < self.max_requests_per_peer and p not in refused
        ]
        if not able:
            return None
        return min(able, key=lambda p: (load[p], p))

    # --- responses and timeouts ------------------------------------------------------

    def on_response(
        self, peer_id: bytes, request_id: int, start: int, blocks: Sequence[bytes]
    ) -> Verdict:
        """Take a peer's answer. Fewer blocks than asked means the peer lacks the rest:
        its height is lowered accordingly and the rest is asked elsewhere."""
        request = self._inflight.get(request_id)
        if request is None or request.peer_id != peer_id:
            return Verdict.UNSOLICITED
        self._release(request)
        if start != request.start or len(blocks) > request.count:
            return Verdict.MALFORMED
        for offset, data in enumerate(blocks):
            height = start + offset
            if height > self.height and height not in self._buffer:
                self._buffer[height] = SyncedBlock(height, data, peer_id)
        if len(blocks) < request.count and peer_id in self._peers:
            self._peers[peer_id] = min(self._peers[peer_id], start + len(blocks) - 1)
        return Verdict.ACCEPTED

    def expire(self, now: float) -> list[bytes]:
        """Give up on requests past their deadline; return the peers that let them lapse."""
        late = [r for r in self._inflight.values() if r.deadline <= now]
        for request in late:
            self._release(request)
        return [r.peer_id for r in late]

    def next_timeout(self) -> float | None:
        return min((r.deadline for r in self._inflight.values()), default=None)

    def _release(self, request: BlockRequest) -> None:
        self._inflight.pop(request.request_id, None)
        for h in range(request.start, request.start + request.count):
            if self._assigned.get(h) == request.request_id:
                del self._assigned[h]

    # --- delivery -------------------------------------------------------------------

    def next_block(self) -> SyncedBlock | None:
        """The block at our height + 1, if it has arrived."""
        return self._buffer.get(self.height + 1)

    def block_applied(self, height: int) -> None:
        """The block at `height` was verified and applied: move our height to it."""
        if height <= self.height:
            return
        for h in range(self.height + 1, height + 1):
            self._buffer.pop(h, None)
            self._refused.pop(h, None)
        self.height = height

    def block_rejected(self, height: int) -> bytes | None:
        """The buffered block at `height` failed verification: drop it, never ask its
        sender for this height again, and return that sender to penalize."""
        block = self._buffer.pop(height, None)
        if block is None:
            return None
        self._refused.setdefault(height, set()).add(block.peer_id)
        return block.peer_id
