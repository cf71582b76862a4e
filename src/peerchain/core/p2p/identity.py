"""Node identity: Ed25519 node keys, node ids, and `peerchain://<node-id>@host:port` addresses.

A node id is the first 20 bytes of keccak-256 of the node's Ed25519 public key, shown as
40 lowercase hex digits. Node keys are separate from validator (secp256k1) keys.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from peerchain.core.crypto import ed25519_public_key, keccak256
from peerchain.core.errors import DecodeError

NODE_ID_SIZE = 20
SCHEME = "peerchain://"


class AddressError(DecodeError):
    """A peer address is not of the form `peerchain://<node-id>@host:port`."""


def node_id_from_public_key(public_key: bytes) -> bytes:
    """Return the 20-byte node id of a 32-byte Ed25519 public key."""
    return keccak256(public_key)[:NODE_ID_SIZE]


@dataclass(frozen=True, slots=True)
class NodeKey:
    """A node's Ed25519 identity: private seed, public key and derived node id."""

    private_key: bytes
    public_key: bytes
    node_id: bytes

    @classmethod
    def from_private_key(cls, private_key: bytes) -> NodeKey:
        """Build the identity of a 32-byte Ed25519 seed. Raises ValueError on a bad length."""
        if len(private_key) != 32:
            raise ValueError(f"node key must be 32 bytes, got {len(private_key)}")
        public_key = ed25519_public_key(private_key)
        return cls(private_key, public_key, node_id_from_public_key(public_key))


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """Where a node listens and who it is: node id, host (IP or name) and TCP port."""

    node_id: bytes
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{SCHEME}{self.node_id.hex()}@{host}:{self.port}"

    @property
    def endpoint(self) -> tuple[str, int]:
        return self.host, self.port


def parse_node_id(text: str) -> bytes:
    """Decode 40 hex digits (optionally 0x-prefixed) into a node id. Raises AddressError."""
    digits = text.removeprefix("0x")
    if len(digits) != 2 * NODE_ID_SIZE:
        raise AddressError(f"node id must be {2 * NODE_ID_SIZE} hex digits: {text!r}")
    try:
        return bytes.fromhex(digits)
    except ValueError as exc:
        raise AddressError(f"node id is not hex: {text!r}") from exc


def parse_address(text: str) -> PeerAddress:
    """Parse `peerchain://<node-id>@host:port` (IPv6 hosts in brackets). Raises AddressError."""
    if not text.startswith(SCHEME):
        raise AddressError(f"address must start with {SCHEME}: {text!r}")
    node_part, sep, endpoint = text[len(SCHEME) :].partition("@")
    if not sep:
        raise AddressError(f"address lacks '<node-id>@': {text!r}")
    node_id = parse_node_id(node_part)
    if endpoint.startswith("["):
        host, bracket, rest = endpoint[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise AddressError(f"bad bracketed host in {text!r}")
        port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise AddressError(f"bad IPv6 host in {text!r}") from exc
    else:
        host, colon, port_text = endpoint.rpartition(":")
        if not colon or ":" in host:
            raise AddressError(f"address lacks host:port: {text!r}")
    return PeerAddress(node_id, validate_host(host), parse_port(port_text))


def parse_port(text: str) -> int:
    """Decode a TCP port 1..65535. Raises AddressError."""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise AddressError(f"bad port: {text!r}")
    return int(text)


def validate_host(host: str) -> str:
    """Return `host` if it is an IP address or a DNS name. Raises AddressError."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        if not host or len(host) > 253 or not all(_is_label(label) for label in labels):
            raise AddressError(f"bad host: {host!r}") from None
    return host


def _is_label(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and label.isascii()
        and all(c.isalnum() or c == "-" for c in label)
        and not label.startswith("-")
        and not label.endswith("-")
    )
