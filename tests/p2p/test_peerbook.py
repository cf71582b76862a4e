from __future__ import annotations

from peerchain.core.p2p.identity import PeerAddress
from peerchain.core.p2p.peerbook import Direction, PeerBook

OWN = bytes(20)


def addr(n: int, port: int = 1000) -> PeerAddress:
    return PeerAddress(n.to_bytes(20, "big"), "127.0.0.1", port)


def test_buckets_are_xor_distance_bit_lengths() -> None:
    book = PeerBook(OWN)
    assert book.bucket_of((1).to_bytes(20, "big")) == 1
    assert book.bucket_of((0b1000).to_bytes(20, "big")) == 4
    assert book.bucket_of(b"\xff" * 20) == 160
    assert not book.add(PeerAddress(OWN, "h", 1), now=0.0)  # never ourselves


def test_full_bucket_takes_a_newcomer_only_in_place_of_a_failing_peer() -> None:
    book = PeerBook(OWN, bucket_size=2)
    # ids 4..7 share bucket 3
    assert book.add(addr(4), 0.0) and book.add(addr(5), 0.0)
    assert not book.add(addr(6), 0.0)
    assert book.bucket_sizes() == {3: 2}
    book.mark_dial_failed(addr(5).node_id, 0.0)
    assert book.add(addr(6), 0.0)
    assert book.get(addr(5).node_id) is None and book.get(addr(6).node_id) is not None
    assert book.add(addr(8), 0.0)  # another bucket is unaffected
    assert book.add(addr(7), 0.0, persistent=True)  # persistent peers always fit


def test_known_address_is_updated_but_persistent_one_is_kept() -> None:
    book = PeerBook(OWN)
    book.add(addr(1, 1000), 0.0)
    book.add(addr(1, 2000), 0.0)
    assert book.get(addr(1).node_id) == addr(1, 2000)
    book.add(addr(2, 1000), 0.0, persistent=True)
    book.add(addr(2, 3000), 0.0)
    assert book.get(addr(2).node_id) == addr(2, 1000)


def test_inbound_and_outbound_limits() -> None:
    book = PeerBook(OWN, max_inbound=1, max_outbound=1)
    book.add(addr(9), 0.0, persistent=True)
    assert book.can_connect(addr(1).node_id, Direction.INBOUND)
    book.mark_connected(addr(1).node_id, Direction.INBOUND, 0.0)
    assert not book.can_connect(addr(2).node_id, Direction.INBOUND)
    assert not book.can_connect(addr(1).node_id, Direction.OUTBOUND)  # already connected
    book.mark_connected(addr(3).node_id, Direction.OUTBOUND, 0.0)
    assert not book.can_connect(addr(4).node_id, Direction.OUTBOUND)
    assert book.can_connect(addr(9).node_id, Direction.INBOUND)  # persistent
    book.mark_disconnected(addr(1).node_id, 0.0)
    assert book.can_connect(addr(2).node_id, Direction.INBOUND)


def test_backoff_doubles_from_now_up_to_the_cap() -> None:
    book = PeerBook(OWN, backoff_base=1.0, backoff_max=10.0, max_failures=100)
    node = addr(1).node_id
    book.add(addr(1), now=0.0, persistent=True)
    assert book.dial_candidates(0.0, exclude=()) == [addr(1)]
    expected = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    now = 100.0
    for delay in expected:
        book.mark_dial_failed(node, now)
        assert book.next_dial_time(()) == now + delay
        assert book.dial_candidates(now + delay - 0.01, exclude=()) == []
        assert book.dial_candidates(now + delay, exclude=()) == [addr(1)]
        now += delay
    book.mark_connected(node, Direction.OUTBOUND, now)
    now += 60.0  # a link that lasted
    book.mark_disconnected(node, now)
    assert book.next_dial_time(()) == now + 1.0  # failures were reset by the connection


def test_links_that_end_at_once_count_as_failed_dials() -> None:
    # A peer that bans us accepts the handshake and closes: redialling it must slow down.
    book = PeerBook(OWN, backoff_base=1.0, backoff_max=10.0, max_failures=4, stable_after=5.0)
    book.add(addr(1), 0.0, persistent=True)
    book.add(addr(2), 0.0)
    now = 0.0
    for delay in (1.0, 2.0, 4.0, 8.0, 10.0):
        book.mark_connected(addr(1).node_id, Direction.OUTBOUND, now)
        book.mark_disconnected(addr(1).node_id, now + 0.1)
        assert book.next_dial_time(()) is not None
        assert book.dial_candidates(now + 0.1 + delay - 0.01, exclude={addr(2).node_id}) == []
        now += 0.1 + delay
    for _ in range(4):
        book.mark_connected(addr(2).node_id, Direction.OUTBOUND, 0.0)
        book.mark_disconnected(addr(2).node_id, 0.1)
    assert book.get(addr(2).node_id) is None  # an ordinary peer that always drops us is forgotten
    assert book.get(addr(1).node_id) == addr(1)


def test_ordinary_peer_is_dropped_after_max_failures_persistent_never() -> None:
    book = PeerBook(OWN, max_failures=3)
    book.add(addr(1), 0.0)
    book.add(addr(2), 0.0, persistent=True)
    for _ in range(3):
        book.mark_dial_failed(addr(1).node_id, 0.0)
        book.mark_dial_failed(addr(2).node_id, 0.0)
    assert book.get(addr(1).node_id) is None
    assert book.get(addr(2).node_id) == addr(2)


def test_dial_candidates_spread_over_buckets_within_free_slots() -> None:
    book = PeerBook(OWN, max_outbound=3)
    for n in (4, 5, 6, 7, 64, 65, 1024):  # buckets 3, 3, 3, 3, 7, 7, 11
        book.add(addr(n), 0.0)
    chosen = [book.bucket_of(a.node_id) for a in book.dial_candidates(0.0, exclude=())]
    assert sorted(chosen) == [3, 7, 11]
    assert len(book.dial_candidates(0.0, exclude=(), pending=2)) == 1
    excluded = {addr(1024).node_id}
    assert addr(1024) not in book.dial_candidates(0.0, exclude=excluded)
    book.mark_connected(addr(4).node_id, Direction.OUTBOUND, 0.0)
    assert addr(4) not in book.dial_candidates(0.0, exclude=())


def test_sample_is_fixed_by_seed() -> None:
    book = PeerBook(OWN)
    for n in range(1, 50):
        book.add(addr(n), 0.0)
    assert book.sample(10, b"s") == book.sample(10, b"s")
    assert book.sample(10, b"s") != book.sample(10, b"t")
    assert len(book.sample(100, b"s")) == len(book.addresses())
