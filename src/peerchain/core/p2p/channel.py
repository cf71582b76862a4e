"""The encrypted message stream of an established link, sans-I/O.

On the wire, Noise transport packets are framed with a 2-byte length (at most 65535
bytes each). Their decrypted contents form one byte stream of messages, each framed with
a 4-byte length and limited to `MAX_MESSAGE_SIZE`, so a message larger than one packet
spans several packets and several small messages share one.
"""

from __future__ import annotations

from collections.abc import Iterable

from peerchain.core.p2p.frames import (
    MAX_MESSAGE_SIZE,
    FrameDecoder,
    encode_frame,
)
from peerchain.core.p2p.messages import Message, decode_message, encode_message
from peerchain.core.p2p.noise import MAX_PACKET, MAX_PLAINTEXT, NoiseSession

PACKET_PREFIX_SIZE = 2


class SecureChannel:
    """Encrypts outgoing messages and decrypts, reassembles and decodes incoming ones.

    `receive_data` raises a `DecodeError` subclass on any bad input: `NoiseError` for a
    packet that fails authentication, `FrameError` for an oversized message, and
    `MessageError` for a message that does not decode. After one, drop the link.
    """

    def __init__(self, session: NoiseSession, *, max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        if not session.finished:
            raise ValueError("the Noise handshake is not finished")
        self._session = session
        self.max_message_size = max_message_size
        self._packets = FrameDecoder(max_size=MAX_PACKET, prefix_size=PACKET_PREFIX_SIZE)
        self._messages = FrameDecoder(max_size=max_message_size)

    def seal(self, messages: Iterable[Message]) -> bytes:
        """Encode, frame and encrypt messages into wire bytes. Raises ValueError if one is
        larger than `max_message_size`."""
        return self.seal_encoded(encode_message(m) for m in messages)

    def seal_encoded(self, encoded: Iterable[bytes]) -> bytes:
        """Like `seal` for already encoded messages."""
        stream = b"".join(encode_frame(e, max_size=self.max_message_size) for e in encoded)
        encrypt = self._session.encrypt
        return b"".join(
            encode_frame(
                encrypt(stream[i : i + MAX_PLAINTEXT]),
                prefix_size=PACKET_PREFIX_SIZE,
                max_size=MAX_PACKET,
            )
            for i in range(0, len(stream), MAX_PLAINTEXT)
        )

    def receive_data(self, data: bytes) -> list[Message]:
        """Feed received wire bytes; return the messages they complete, in order."""
        plain = b"".join(self._session.decrypt(p) for p in self._packets.feed(data))
        if not plain:
            return []
        return [decode_message(frame) for frame in self._messages.feed(plain)]
