from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError
from peerchain.core.p2p.channel import SecureChannel
from peerchain.core.p2p.frames import FrameError
from peerchain.core.p2p.handshake import Handshake, HandshakeError
from peerchain.core.p2p.identity import NodeKey
from peerchain.core.p2p.messages import Channel, Disconnect, Gossip, Hello, MessageError, Ping
from peerchain.core.p2p.noise import NoiseError

GENESIS = keccak256(b"genesis")


def key(name: str) -> NodeKey:
    return NodeKey.from_private_key(keccak256(name.encode()))


def hello(node: NodeKey, **changes: object) -> Hello:
    base = Hello(1, 1337, GENESIS, node.node_id, "127.0.0.1", 26656, 7)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def side(
    node: NodeKey, initiator: bool, expected: bytes | None = None, **changes: object
) -> Handshake:
    tag = node.node_id + bytes([initiator])
    return Handshake(
        initiator=initiator,
        identity=node,
        hello=hello(node, **changes),
        static_private=keccak256(b"static" + tag),
        ephemeral_private=keccak256(b"ephemeral" + tag),
        expected_node_id=expected,
    )


def run(initiator: Handshake, responder: Handshake) -> None:
    responder.start()
    m2 = responder.receive_data(initiator.start())
    m3 = initiator.receive_data(m2)
    assert initiator.done
    assert responder.receive_data(m3) == b""
    assert responder.done


def test_handshake_authenticates_both_sides_and_opens_a_channel() -> None:
    alice, bob = key("alice"), key("bob")
    i, r = side(alice, True, bob.node_id), side(bob, False)
    run(i, r)
    assert i.result is not None and r.result is not None
    assert i.result.remote_node_id == bob.node_id and i.result.rejection is None
    assert r.result.remote_node_id == alice.node_id and r.result.rejection is None
    assert r.result.remote_hello == hello(alice)
    ci, cr = i.channel(), r.channel()
    big = Gossip(Channel.BLOCKS, bytes(range(256)) * 1000)  # spans several packets
    assert cr.receive_data(ci.seal([Ping(1), big])) == [Ping(1), big]
    assert ci.receive_data(cr.seal([Disconnect("bye")])) == [Disconnect("bye")]


def test_bytes_after_the_last_handshake_message_reach_the_channel() -> None:
    i, r = side(key("a"), True), side(key("b"), False)
    r.start()
    m3 = i.receive_data(r.receive_data(i.start()))
    early = i.channel().seal([Ping(9)])
    assert r.receive_data(m3 + early[:5]) == b""
    channel = r.channel()
    assert channel.receive_data(r.leftover) == []
    assert channel.receive_data(early[5:]) == [Ping(9)]


def test_wrong_expected_node_id_is_rejected_and_told_to_the_responder() -> None:
    alice, bob, carol = key("alice"), key("bob"), key("carol")
    i, r = side(alice, True, expected=carol.node_id), side(bob, False)
    run(i, r)
    assert i.result is not None and r.result is not None
    assert (
        i.result.rejection == f"dialled node {carol.node_id.hex()} but reached {bob.node_id.hex()}"
    )
    assert not i.result.incompatible
    assert r.result.rejection is None
    # The initiator closes with its reason inside the channel: the responder can log it.
    reason = i.result.rejection
    assert r.channel().receive_data(i.channel().seal([Disconnect(reason)])) == [Disconnect(reason)]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"chain_id": 1}, "chain id 1, expected 1337"),
        ({"genesis_hash": bytes(32)}, "genesis hash"),
        ({"protocol_version": 2}, "protocol version"),
    ],
)
def test_other_network_is_rejected_on_both_sides(change: dict[str, object], words: str) -> None:
    i, r = side(key("a"), True), side(key("b"), False, **change)
    run(i, r)
    assert i.result is not None and r.result is not None
    assert i.result.incompatible and r.result.incompatible
    assert words in (i.result.rejection or "")
    assert r.result.rejection is not None


def test_connecting_to_self_is_rejected() -> None:
    me = key("me")
    i, r = side(me, True), side(me, False)
    run(i, r)
    assert i.result is not None and i.result.rejection == "connected to self"


def test_identity_proof_over_another_static_key_is_refused() -> None:
    i, r = side(key("a"), True), side(key("mallory"), False)
    # Mallory signs a static key that is not the one in her Noise handshake.
    r._session.static_public = keccak256(b"other")  # type: ignore[misc]
    r.start()
    with pytest.raises(HandshakeError, match="identity signature"):
        i.receive_data(r.receive_data(i.start()))


def test_tampered_handshake_message_is_refused() -> None:
    i, r = side(key("a"), True), side(key("b"), False)
    r.start()
    m2 = bytearray(r.receive_data(i.start()))
    m2[50] ^= 1
    with pytest.raises(HandshakeError):
        i.receive_data(bytes(m2))


def test_oversized_handshake_message_is_refused_at_once() -> None:
    r = side(key("b"), False)
    r.start()
    with pytest.raises(HandshakeError, match="exceeds"):
        r.receive_data(b"\xff\xff")


def channels() -> tuple[SecureChannel, SecureChannel]:
    i, r = side(key("a"), True), side(key("b"), False)
    run(i, r)
    return i.channel(), r.channel()


def test_channel_refuses_forged_packets_oversized_messages_and_garbage() -> None:
    ci, cr = channels()
    packet = bytearray(ci.seal([Ping(1)]))
    packet[-1] ^= 1
    with pytest.raises(NoiseError):
        cr.receive_data(bytes(packet))
    ci, cr = channels()
    small = SecureChannel(cr._session, max_message_size=100)
    with pytest.raises(FrameError):
        small.receive_data(ci.seal([Gossip(Channel.BLOCKS, b"x" * 200)]))
    ci, cr = channels()
    with pytest.raises(MessageError):
        cr.receive_data(ci.seal_encoded([b"\xee"]))


@settings(max_examples=50)
@given(st.binary(max_size=300), st.booleans())
def test_handshake_garbage_raises_only_handshake_error(data: bytes, initiator: bool) -> None:
    machine = side(key("x"), initiator)
    machine.start()
    with contextlib.suppress(HandshakeError):
        machine.receive_data(data)


@settings(max_examples=50)
@given(st.binary(max_size=300))
def test_channel_garbage_raises_only_decode_errors(data: bytes) -> None:
    _, cr = channels()
    try:
        cr.receive_data(data)
    except DecodeError as exc:
        assert isinstance(exc, NoiseError | FrameError | MessageError)
