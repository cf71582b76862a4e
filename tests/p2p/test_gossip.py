from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from peerchain.core.p2p.gossip import BoundedSet, GossipBook, message_id

A, B, C = b"a" * 20, b"b" * 20, b"c" * 20


def test_message_is_new_once_and_goes_once_to_each_peer() -> None:
    book = GossipBook()
    for peer in (A, B, C):
        book.add_peer(peer)
    msg = message_id(0, b"vote")
    assert book.observe(msg, from_peer=A)
    assert not book.observe(msg, from_peer=B)  # a duplicate: not delivered again
    assert book.targets(msg, [A, B, C]) == [C]  # A and B sent it to us
    assert book.targets(msg, [A, B, C]) == []


def test_channel_is_part_of_the_message_id() -> None:
    assert message_id(0, b"x") != message_id(1, b"x")


def test_removed_peer_gets_nothing_and_is_forgotten() -> None:
    book = GossipBook()
    book.add_peer(A)
    book.remove_peer(A)
    msg = message_id(2, b"tx")
    book.observe(msg, from_peer=A)
    assert book.targets(msg, [A]) == []


def test_seen_cache_and_known_sets_are_bounded() -> None:
    book = GossipBook(seen_capacity=3, known_capacity=2)
    book.add_peer(A)
    ids = [message_id(2, bytes([i])) for i in range(5)]
    for msg in ids:
        assert book.observe(msg, from_peer=A)
    assert not book.has_seen(ids[0]) and book.has_seen(ids[4])
    # A's known set kept only the last two: the oldest may be offered again.
    assert book.targets(ids[0], [A]) == [A]
    assert book.targets(ids[4], [A]) == []


@given(st.lists(st.binary(max_size=3), max_size=60), st.integers(1, 10))
def test_bounded_set_matches_a_reference_lru(items: list[bytes], capacity: int) -> None:
    bounded = BoundedSet(capacity)
    reference: list[bytes] = []
    for item in items:
        fresh = bounded.add(item)
        assert fresh == (item not in reference)
        if item in reference:
            reference.remove(item)
        reference.append(item)
        reference = reference[-capacity:]
        assert len(bounded) == len(reference)
        assert all(x in bounded for x in reference)
