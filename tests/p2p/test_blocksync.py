from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from peerchain.core.p2p.blocksync import BlockRequest, BlockSyncPlanner, Verdict

A, B, C = b"a" * 20, b"b" * 20, b"c" * 20


def block(height: int, sender: bytes = b"") -> bytes:
    return f"block-{height}".encode()


def answer(planner: BlockSyncPlanner, r: BlockRequest, upto: int | None = None) -> Verdict:
    last = r.start + r.count if upto is None else upto + 1
    return planner.on_response(
        r.peer_id, r.request_id, r.start, [block(h) for h in range(r.start, last)]
    )


def drain(planner: BlockSyncPlanner) -> list[int]:
    applied = []
    while (b := planner.next_block()) is not None:
        assert b.data == block(b.height)
        planner.block_applied(b.height)
        applied.append(b.height)
    return applied


def test_ranges_are_spread_over_peers_and_not_asked_twice() -> None:
    planner = BlockSyncPlanner(10, batch_size=5, max_requests_per_peer=2)
    planner.set_peer_height(A, 40)
    planner.set_peer_height(B, 40)
    planner.set_peer_height(C, 12)
    requests = planner.plan(now=0.0)
    assert [(r.peer_id, r.start, r.count) for r in requests] == [
        (A, 11, 5),
        (B, 16, 5),
        (A, 21, 5),
        (B, 26, 5),
    ]
    assert planner.plan(now=0.0) == []  # A and B are busy, C is too low for 31..
    answer(planner, requests[0])
    (more,) = planner.plan(now=0.0)
    assert (more.peer_id, more.start) == (A, 31)
    assert requests[0].deadline == 10.0


def test_blocks_come_out_in_order_whatever_order_responses_arrive() -> None:
    planner = BlockSyncPlanner(0, batch_size=4)
    planner.set_peer_height(A, 16)
    planner.set_peer_height(B, 16)
    first = planner.plan(0.0)
    for r in reversed(first):
        assert answer(planner, r) is Verdict.ACCEPTED
    applied = drain(planner)
    assert applied == list(range(1, 17))
    assert planner.caught_up


def test_timeout_gives_the_range_to_another_peer() -> None:
    planner = BlockSyncPlanner(0, batch_size=10, max_requests_per_peer=1, request_timeout=5.0)
    planner.set_peer_height(A, 10)
    (r,) = planner.plan(0.0)
    planner.set_peer_height(B, 10)
    assert planner.next_timeout() == 5.0
    assert planner.expire(4.9) == []
    assert planner.expire(5.0) == [r.peer_id]
    (again,) = planner.plan(5.0)
    assert (again.start, again.count) == (1, 10)
    assert answer(planner, r) is Verdict.UNSOLICITED  # the late answer is not taken


def test_short_answer_lowers_peer_height_and_rest_goes_elsewhere() -> None:
    planner = BlockSyncPlanner(0, batch_size=10, max_requests_per_peer=1)
    planner.set_peer_height(A, 10)
    planner.set_peer_height(B, 10)
    requests = planner.plan(0.0)
    assert len(requests) == 1
    assert answer(planner, requests[0], upto=4) is Verdict.ACCEPTED
    (rest,) = planner.plan(0.0)
    assert (rest.start, rest.count) == (5, 6)
    assert rest.peer_id != requests[0].peer_id


def test_rejected_block_is_asked_of_another_peer_and_sender_returned() -> None:
    planner = BlockSyncPlanner(0, batch_size=3, max_requests_per_peer=1)
    planner.set_peer_height(A, 3)
    (r,) = planner.plan(0.0)
    answer(planner, r)
    b1 = planner.next_block()
    assert b1 is not None
    planner.block_applied(1)
    assert planner.block_rejected(2) == A
    assert planner.plan(0.0) == []  # A is the only peer and is not asked for 2 again
    planner.set_peer_height(B, 3)
    (again,) = planner.plan(0.0)
    assert (again.peer_id, again.start, again.count) == (B, 2, 1)


def test_malformed_and_unsolicited_answers() -> None:
    planner = BlockSyncPlanner(0, batch_size=3)
    planner.set_peer_height(A, 3)
    (r,) = planner.plan(0.0)
    assert planner.on_response(B, r.request_id, r.start, []) is Verdict.UNSOLICITED
    assert planner.on_response(A, 999, 1, []) is Verdict.UNSOLICITED
    assert planner.on_response(A, r.request_id, 2, [b"x"]) is Verdict.MALFORMED
    (again,) = planner.plan(0.0)  # the range is free again
    assert planner.on_response(A, again.request_id, 1, [b"x"] * 4) is Verdict.MALFORMED


def test_window_bounds_what_is_requested_and_buffered() -> None:
    planner = BlockSyncPlanner(0, batch_size=8, window=16, max_requests_per_peer=10)
    planner.set_peer_height(A, 1000)
    requests = planner.plan(0.0)
    assert max(r.start + r.count - 1 for r in requests) == 16


def test_lost_peer_ranges_are_replanned() -> None:
    planner = BlockSyncPlanner(0, batch_size=5, max_requests_per_peer=1)
    planner.set_peer_height(A, 5)
    planner.set_peer_height(B, 5)
    (r,) = planner.plan(0.0)
    planner.remove_peer(r.peer_id)
    (again,) = planner.plan(0.0)
    assert again.peer_id != r.peer_id and (again.start, again.count) == (1, 5)


@settings(max_examples=60)
@given(st.data())
def test_random_delivery_orders_and_timeouts_still_sync_in_order(data: st.DataObject) -> None:
    target = data.draw(st.integers(1, 60))
    peers = [bytes([i]) * 20 for i in range(data.draw(st.integers(1, 4)))]
    planner = BlockSyncPlanner(0, batch_size=data.draw(st.integers(1, 7)), window=20)
    for p in peers:
        planner.set_peer_height(p, target)
    pending: list[BlockRequest] = []
    applied: list[int] = []
    now = 0.0
    for _ in range(2000):
        pending += planner.plan(now)
        if planner.caught_up:
            break
        if pending:
            r = pending.pop(data.draw(st.integers(0, len(pending) - 1)))
            if data.draw(st.booleans()) or now > 100:
                answer(planner, r)
            else:
                now = r.deadline
                planner.expire(now)
        applied += drain(planner)
    assert applied == list(range(1, target + 1))
