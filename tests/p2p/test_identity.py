from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError
from peerchain.core.p2p.identity import (
    AddressError,
    NodeKey,
    PeerAddress,
    node_id_from_public_key,
    parse_address,
)


def test_node_id_is_hash_of_identity_key() -> None:
    key = NodeKey.from_private_key(b"\x01" * 32)
    assert key.node_id == keccak256(key.public_key)[:20]
    assert node_id_from_public_key(key.public_key) == key.node_id
    assert NodeKey.from_private_key(b"\x02" * 32).node_id != key.node_id


@pytest.mark.parametrize("host", ["127.0.0.1", "10.99.0.2", "::1", "fe80::1", "node-1.example.org"])
def test_address_round_trip(host: str) -> None:
    address = PeerAddress(bytes(range(20)), host, 26656)
    text = str(address)
    assert text.startswith("peerchain://000102")
    assert parse_address(text) == address


@pytest.mark.parametrize(
    "text",
    [
        "",
        "http://00@h:1",
        "peerchain://" + "00" * 20 + "h:1",
        "peerchain://" + "00" * 19 + "@h:1",
        "peerchain://" + "zz" * 20 + "@h:1",
        "peerchain://" + "00" * 20 + "@h",
        "peerchain://" + "00" * 20 + "@h:0",
        "peerchain://" + "00" * 20 + "@h:65536",
        "peerchain://" + "00" * 20 + "@h:\uff11\uff12",  # full-width digits
        "peerchain://" + "00" * 20 + "@::1:5",
        "peerchain://" + "00" * 20 + "@[zz]:5",
        "peerchain://" + "00" * 20 + "@bad_host:5",
        "peerchain://" + "00" * 20 + "@:5",
    ],
)
def test_bad_addresses_raise_address_error(text: str) -> None:
    with pytest.raises(AddressError):
        parse_address(text)


@given(st.text(max_size=120))
def test_parse_address_raises_only_address_error(text: str) -> None:
    try:
        parse_address("peerchain://" + "ab" * 20 + "@" + text)
    except DecodeError as exc:
        assert isinstance(exc, AddressError)
