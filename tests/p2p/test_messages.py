from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerchain.core.p2p.identity import PeerAddress
from peerchain.core.p2p.messages import (
    MAX_BLOCKS_PER_REQUEST,
    MAX_PEX_ADDRESSES,
    PRIORITY_LEVELS,
    Blocks,
    Channel,
    Direct,
    Disconnect,
    GetBlocks,
    Gossip,
    Hello,
    Message,
    MessageError,
    PexRequest,
    PexResponse,
    Ping,
    Pong,
    Status,
    decode_message,
    encode_message,
    priority_of,
)

u64 = st.integers(0, 2**64 - 1)
hosts = st.sampled_from(["127.0.0.1", "10.99.1.2", "::1", "node.example", "0.0.0.0"])
ports = st.integers(1, 65535)
node_ids = st.binary(min_size=20, max_size=20)
channels = st.sampled_from(list(Channel))
addresses = st.builds(PeerAddress, node_ids, hosts, ports)

messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(
        Hello,
        st.integers(0, 65535),
        u64,
        st.binary(min_size=32, max_size=32),
        node_ids,
        hosts,
        st.integers(0, 65535),
        u64,
    ),
    st.builds(Ping, u64),
    st.builds(Pong, u64),
    st.builds(Status, u64),
    st.builds(Disconnect, st.text(max_size=200)),
    st.just(PexRequest()),
    st.builds(PexResponse, st.lists(addresses, max_size=MAX_PEX_ADDRESSES).map(tuple)),
    st.builds(Gossip, channels, st.binary(max_size=500)),
    st.builds(Direct, channels, st.binary(max_size=500)),
    st.builds(GetBlocks, u64, u64, st.integers(1, MAX_BLOCKS_PER_REQUEST)),
    st.builds(Blocks, u64, u64, st.lists(st.binary(max_size=100), max_size=10).map(tuple)),
)


@given(messages)
def test_every_message_round_trips(message: Message) -> None:
    assert decode_message(encode_message(message)) == message


@given(messages, st.data())
def test_truncated_or_extended_messages_raise_message_error(
    message: Message, data: st.DataObject
) -> None:
    encoded = encode_message(message)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(MessageError):
        decode_message(encoded[:cut])
    with pytest.raises(MessageError):
        decode_message(encoded + b"\x00")


@given(st.binary(max_size=400))
def test_garbage_raises_only_message_error(frame: bytes) -> None:
    try:
        message = decode_message(frame)
    except MessageError:
        return
    assert encode_message(message) == frame


@given(messages, st.data())
def test_mutated_messages_raise_only_message_error(message: Message, data: st.DataObject) -> None:
    encoded = bytearray(encode_message(message))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(encoded) - 1))
        encoded[index] = data.draw(st.integers(0, 255))
    with contextlib.suppress(MessageError):
        decode_message(bytes(encoded))


def test_limits_are_enforced_on_decode() -> None:
    too_many = (
        bytes([11]) + (1).to_bytes(8, "big") * 2 + (MAX_BLOCKS_PER_REQUEST + 1).to_bytes(4, "big")
    )
    with pytest.raises(MessageError, match="too many blocks"):
        decode_message(too_many)
    with pytest.raises(MessageError, match="unknown channel"):
        decode_message(bytes([8, 9, 0, 0, 0, 0]))
    with pytest.raises(MessageError, match="bad block count"):
        decode_message(encode_message(GetBlocks(1, 1, 1))[:-4] + bytes(4))
    with pytest.raises(ValueError):
        encode_message(Hello(1, 1, b"short", bytes(20), "h", 1, 1))


def test_priorities_put_control_then_consensus_first() -> None:
    order = [
        Ping(1),
        Gossip(Channel.CONSENSUS, b""),
        Blocks(1, 1, ()),
        Gossip(Channel.TRANSACTIONS, b""),
        PexRequest(),
    ]
    assert [priority_of(m) for m in order] == list(range(PRIORITY_LEVELS))
