"""Typed wire messages of the peer protocol and their binary encoding.

Every message is one frame: a type byte, then fixed-order fields (big-endian integers,
byte strings and UTF-8 text with a length prefix). `decode_message` raises only
`MessageError` on bad input, whatever the bytes.

Application payloads travel on channels; the channel order is the send priority:
consensus > blocks > transactions > peer exchange. Control messages (ping, pong,
status, disconnect) go before all of them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from peerchain.core.errors import DecodeError
from peerchain.core.p2p.identity import NODE_ID_SIZE, AddressError, PeerAddress, validate_host

PROTOCOL_VERSION = 1
MAX_TEXT = 1024
MAX_PEX_ADDRESSES = 64
MAX_BLOCKS_PER_REQUEST = 128


class MessageError(DecodeError):
    """A frame does not decode into a protocol message. The only error of `decode_message`."""


class Channel(IntEnum):
    """Application channels, in send priority order (lower value goes first)."""

    CONSENSUS = 0
    BLOCKS = 1
    TRANSACTIONS = 2
    PEER_EXCHANGE = 3


@dataclass(frozen=True, slots=True)
class Hello:
    """What each side tells the other inside the handshake; mismatches close the link."""

    protocol_version: int
    chain_id: int
    genesis_hash: bytes
    node_id: bytes
    listen_host: str
    listen_port: int
    height: int


@dataclass(frozen=True, slots=True)
class Ping:
    nonce: int


@dataclass(frozen=True, slots=True)
class Pong:
    nonce: int


@dataclass(frozen=True, slots=True)
class Status:
    """The sender's latest committed height."""

    height: int


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The last message on a link, saying why it is closed."""

    reason: str


@dataclass(frozen=True, slots=True)
class PexRequest:
    """Asks a peer for addresses it knows."""


@dataclass(frozen=True, slots=True)
class PexResponse:
    addresses: tuple[PeerAddress, ...]


@dataclass(frozen=True, slots=True)
class Gossip:
    """A payload to be flooded: every node delivers it once and forwards it to its peers."""

    channel: Channel
    payload: bytes


@dataclass(frozen=True, slots=True)
class Direct:
    """A payload for the receiving node only; never forwarded."""

    channel: Channel
    payload: bytes


@dataclass(frozen=True, slots=True)
class GetBlocks:
    """Request `count` consecutive blocks starting at height `start`."""

    request_id: int
    start: int
    count: int


@dataclass(frozen=True, slots=True)
class Blocks:
    """Answer to GetBlocks: encoded blocks for heights start, start+1, ... (maybe fewer)."""

    request_id: int
    start: int
    blocks: tuple[bytes, ...]


Message = (
    Hello
    | Ping
    | Pong
    | Status
    | Disconnect
    | PexRequest
    | PexResponse
    | Gossip
    | Direct
    | GetBlocks
    | Blocks
)

CONTROL_PRIORITY = 0


def priority_of(message: Message) -> int:
    """Send priority of a message: 0 for control, then 1 + channel (lower goes first)."""
    if isinstance(message, Gossip | Direct):
        return 1 + message.channel
    if isinstance(message, GetBlocks | Blocks):
        return 1 + Channel.BLOCKS
    if isinstance(message, PexRequest | PexResponse):
        return 1 + Channel.PEER_EXCHANGE
    return CONTROL_PRIORITY


PRIORITY_LEVELS = 1 + len(Channel)

# --- encoding -----------------------------------------------------------------------------

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HELLO_HEAD = struct.Struct(">BHQ32s20s")
_TAG_U64 = struct.Struct(">BQ")
_CHANNEL_PAYLOAD = struct.Struct(">BBI")
_GET_BLOCKS = struct.Struct(">BQQI")

TAGS: dict[type, int] = {
    Hello: 1,
    Ping: 2,
    Pong: 3,
    Status: 4,
    Disconnect: 5,
    PexRequest: 6,
    PexResponse: 7,
    Gossip: 8,
    Direct: 9,
    GetBlocks: 10,
    Blocks: 11,
}


def _text(value: str) -> bytes:
    data = value.encode()
    if len(data) > MAX_TEXT:
        raise ValueError(f"text of {len(data)} bytes exceeds {MAX_TEXT}")
    return _U16.pack(len(data)) + data


def _address(address: PeerAddress) -> bytes:
    return address.node_id + _text(address.host) + _U16.pack(address.port)


def encode_message(message: Message) -> bytes:
    """Encode a message as frame payload. Raises ValueError on out-of-range fields."""
    try:
        return _encode(message)
    except struct.error as exc:
        raise ValueError(f"field out of range in {type(message).__name__}: {exc}") from exc


def _encode(message: Message) -> bytes:
    tag = TAGS[type(message)]
    match message:
        case Gossip(channel, payload) | Direct(channel, payload):
            return _CHANNEL_PAYLOAD.pack(tag, channel, len(payload)) + payload
        case Ping(value) | Pong(value) | Status(value):
            return _TAG_U64.pack(tag, value)
        case Hello():
            if len(message.genesis_hash) != 32 or len(message.node_id) != NODE_ID_SIZE:
                raise ValueError("hello needs a 32-byte genesis hash and a 20-byte node id")
            head = _HELLO_HEAD.pack(
                tag,
                message.protocol_version,
                message.chain_id,
                message.genesis_hash,
                message.node_id,
            )
            return (
                head
                + _text(message.listen_host)
                + _U16.pack(message.listen_port)
                + _U64.pack(message.height)
            )
        case Disconnect(reason):
            return bytes([tag]) + _text(reason)
        case PexRequest():
            return bytes([tag])
        case PexResponse(addresses):
            if len(addresses) > MAX_PEX_ADDRESSES:
                raise ValueError(f"at most {MAX_PEX_ADDRESSES} addresses per exchange")
            return bytes([tag]) + _U16.pack(len(addresses)) + b"".join(map(_address, addresses))
        case GetBlocks(request_id, start, count):
            return _GET_BLOCKS.pack(tag, request_id, start, count)
        case Blocks(request_id, start, blocks):
            if len(blocks) > MAX_BLOCKS_PER_REQUEST:
                raise ValueError(f"at most {MAX_BLOCKS_PER_REQUEST} blocks per response")
            parts = [_GET_BLOCKS.pack(tag, request_id, start, len(blocks))]
            for block in blocks:
                parts.append(_U32.pack(len(block)))
                parts.append(block)
            return b"".join(parts)
    raise TypeError(f"not a message: {message!r}")  # pragma: no cover - TAGS lookup fails first


# --- decoding -----------------------------------------------------------------------------


class _Reader:
    """Cursor over a frame; every read raises MessageError when the frame is too short."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise MessageError("message truncated")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def unpack(self, fmt: struct.Struct) -> tuple[int, ...]:
        return fmt.unpack(self.take(fmt.size))

    def u16(self) -> int:
        return self.unpack(_U16)[0]

    def u32(self) -> int:
        return self.unpack(_U32)[0]

    def u64(self) -> int:
        return self.unpack(_U64)[0]

    def text(self) -> str:
        size = self.u16()
        if size > MAX_TEXT:
            raise MessageError("text too long")
        try:
            return self.take(size).decode()
        except UnicodeDecodeError as exc:
            raise MessageError("text is not UTF-8") from exc

    def host(self) -> str:
        try:
            return validate_host(self.text())
        except AddressError as exc:
            raise MessageError(str(exc)) from exc

    def channel(self) -> Channel:
        value = self.take(1)[0]
        if value >= len(Channel):
            raise MessageError(f"unknown channel {value}")
        return Channel(value)

    def end(self) -> None:
        if self.pos != len(self.data):
            raise MessageError("trailing bytes after message")


def _hello(r: _Reader) -> Hello:
    version, chain_id = r.u16(), r.u64()
    genesis, node_id = r.take(32), r.take(NODE_ID_SIZE)
    return Hello(version, chain_id, genesis, node_id, r.host(), r.u16(), r.u64())


def _pex(r: _Reader) -> PexResponse:
    count = r.u16()
    if count > MAX_PEX_ADDRESSES:
        raise MessageError(f"too many addresses: {count}")
    addresses = []
    for _ in range(count):
        node_id = r.take(NODE_ID_SIZE)
        host = r.host()
        port = r.u16()
        if port == 0:
            raise MessageError("address with port 0")
        addresses.append(PeerAddress(node_id, host, port))
    return PexResponse(tuple(addresses))


def _blocks(r: _Reader) -> Blocks:
    request_id, start, count = r.u64(), r.u64(), r.u32()
    if count > MAX_BLOCKS_PER_REQUEST:
        raise MessageError(f"too many blocks: {count}")
    return Blocks(request_id, start, tuple(r.take(r.u32()) for _ in range(count)))


def _get_blocks(r: _Reader) -> GetBlocks:
    request_id, start, count = r.u64(), r.u64(), r.u32()
    if not 0 < count <= MAX_BLOCKS_PER_REQUEST:
        raise MessageError(f"bad block count: {count}")
    return GetBlocks(request_id, start, count)


def _payload(r: _Reader) -> tuple[Channel, bytes]:
    channel = r.channel()
    return channel, r.take(r.u32())


_DECODERS: dict[int, Callable[[_Reader], Message]] = {
    1: _hello,
    2: lambda r: Ping(r.u64()),
    3: lambda r: Pong(r.u64()),
    4: lambda r: Status(r.u64()),
    5: lambda r: Disconnect(r.text()),
    6: lambda r: PexRequest(),
    7: _pex,
    8: lambda r: Gossip(*_payload(r)),
    9: lambda r: Direct(*_payload(r)),
    10: _get_blocks,
    11: _blocks,
}


def decode_message(frame: bytes) -> Message:
    """Decode one frame payload into a message. Raises MessageError on anything else."""
    if not frame:
        raise MessageError("empty message")
    decoder = _DECODERS.get(frame[0])
    if decoder is None:
        raise MessageError(f"unknown message type {frame[0]}")
    reader = _Reader(frame, 1)
    message = decoder(reader)
    reader.end()
    return message
