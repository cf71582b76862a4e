"""The link handshake as a sans-I/O machine: Noise XX, identity proof and Hello exchange.

Theory of operation (messages framed with a 2-byte length, like transport packets):

    initiator                                   responder
    start() -> m1 [e]                      ->   receive_data(m1) -> m2
                                           <-   m2 [e, ee, s, es | proof, Hello]
    receive_data(m2) -> m3                 ->   receive_data(m3) -> b""
    m3 [s, se | proof, Hello]

A proof is the sender's Ed25519 identity public key and its signature over the sender's
Noise static key, so the Noise channel is bound to the node id = hash(identity key).
Both sides then check the other's Hello: node id equal to the proven one, and to the
dialled one for the initiator; same protocol version, chain id and genesis hash; not
ourselves. A failed check does not stop the handshake: it finishes, and `result.rejection`
carries the reason, so the link can send `Disconnect(reason)` encrypted before closing and
both sides log it. Bytes that break the protocol raise `HandshakeError` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from peerchain.core.crypto import ed25519_sign, ed25519_verify
from peerchain.core.errors import DecodeError
from peerchain.core.p2p.channel import PACKET_PREFIX_SIZE, SecureChannel
from peerchain.core.p2p.frames import MAX_MESSAGE_SIZE, FrameDecoder, FrameError, encode_frame
from peerchain.core.p2p.identity import NodeKey, node_id_from_public_key
from peerchain.core.p2p.messages import Hello, MessageError, decode_message, encode_message
from peerchain.core.p2p.noise import NoiseError, NoiseSession

PROLOGUE = b"peerchain/p2p/1"
PROOF_CONTEXT = b"peerchain/noise-static-key:"
MAX_HANDSHAKE_MESSAGE = 2048
_PROOF_SIZE = 32 + 64


class HandshakeError(DecodeError):
    """The peer's handshake bytes are malformed or its identity proof is invalid."""


@dataclass(frozen=True, slots=True)
class HandshakeResult:
    """Who the peer proved to be, what it said, and whether to refuse it.

    `rejection` is None for a peer to keep; otherwise the reason to close the link.
    `incompatible` is true when the peer belongs to another network (version, chain id
    or genesis hash differ): a reason to ban it for a while.
    """

    remote_node_id: bytes
    remote_hello: Hello
    rejection: str | None
    incompatible: bool


def check_compatible(ours: Hello, theirs: Hello) -> str | None:
    """Return why two Hellos cannot share a link (other network), or None if they can."""
    if theirs.protocol_version != ours.protocol_version:
        return f"protocol version {theirs.protocol_version}, expected {ours.protocol_version}"
    if theirs.chain_id != ours.chain_id:
        return f"chain id {theirs.chain_id}, expected {ours.chain_id}"
    if theirs.genesis_hash != ours.genesis_hash:
        return (
            f"genesis hash {theirs.genesis_hash.hex()[:16]}.., "
            f"expected {ours.genesis_hash.hex()[:16]}.."
        )
    return None


class Handshake:
    """One side of the link handshake. Feed it received bytes; send what it returns."""

    def __init__(
        self,
        *,
        initiator: bool,
        identity: NodeKey,
        hello: Hello,
        static_private: bytes,
        ephemeral_private: bytes,
        expected_node_id: bytes | None = None,
    ) -> None:
        if hello.node_id != identity.node_id:
            raise ValueError("hello.node_id must be the identity's node id")
        self.initiator = initiator
        self._identity = identity
        self._hello = hello
        self._expected = expected_node_id
        self._session = NoiseSession(
            initiator=initiator,
            static_private=static_private,
            ephemeral_private=ephemeral_private,
            prologue=PROLOGUE,
        )
        self._decoder = FrameDecoder(max_size=MAX_HANDSHAKE_MESSAGE, prefix_size=PACKET_PREFIX_SIZE)
        self._read = 0
        self._started = False
        self.result: HandshakeResult | None = None
        self.leftover = b""

    @property
    def done(self) -> bool:
        return self.result is not None

    def start(self) -> bytes:
        """Return the initiator's first message (b"" for the responder)."""
        if self._started:
            raise RuntimeError("handshake already started")
        self._started = True
        return self._write(b"") if self.initiator else b""

    def receive_data(self, data: bytes) -> bytes:
        """Consume received bytes; return bytes to send. Raises HandshakeError.

        Once `done`, bytes that followed the last handshake message are in `leftover`:
        give them to the channel.
        """
        if self.done:
            raise RuntimeError("handshake already done")
        try:
            frames = self._decoder.feed(data)
        except FrameError as exc:
            raise HandshakeError(str(exc)) from exc
        out = b""
        for index, frame in enumerate(frames):
            out += self._receive_message(frame)
            if self.done:
                rest = frames[index + 1 :]
                self.leftover = (
                    b"".join(
                        encode_frame(f, prefix_size=PACKET_PREFIX_SIZE, max_size=len(f))
                        for f in rest
                    )
                    + self._decoder.take_buffered()
                )
                break
        return out

    def channel(self, max_message_size: int = MAX_MESSAGE_SIZE) -> SecureChannel:
        """The encrypted message stream; valid once `done`."""
        if not self.done:
            raise RuntimeError("handshake not done")
        return SecureChannel(self._session, max_message_size=max_message_size)

    # --- internals --------------------------------------------------------------------

    def _write(self, payload: bytes) -> bytes:
        message = self._session.write_handshake(payload)
        return encode_frame(message, prefix_size=PACKET_PREFIX_SIZE, max_size=0xFFFF)

    def _proof_and_hello(self) -> bytes:
        signature = ed25519_sign(
            self._identity.private_key, PROOF_CONTEXT + self._session.static_public
        )
        return self._identity.public_key + signature + encode_message(self._hello)

    def _receive_message(self, message: bytes) -> bytes:
        if not self._started:
            raise RuntimeError("call start() first")
        self._read += 1
        try:
            payload = self._session.read_handshake(message)
        except NoiseError as exc:
            raise HandshakeError(str(exc)) from exc
        if self.initiator:
            if self._read != 1:
                raise HandshakeError("unexpected handshake message")
            self._finish(payload)
            return self._write(self._proof_and_hello())
        if self._read == 1:
            return self._write(self._proof_and_hello())
        if self._read == 2:
            self._finish(payload)
            return b""
        raise HandshakeError("unexpected handshake message")  # pragma: no cover

    def _finish(self, payload: bytes) -> None:
        remote_static = self._session.remote_static
        if remote_static is None or len(payload) < _PROOF_SIZE:
            raise HandshakeError("handshake payload lacks an identity proof")
        public_key, signature = payload[:32], payload[32:_PROOF_SIZE]
        if not ed25519_verify(public_key, PROOF_CONTEXT + remote_static, signature):
            raise HandshakeError("identity signature over the Noise static key is invalid")
        try:
            hello = decode_message(payload[_PROOF_SIZE:])
        except MessageError as exc:
            raise HandshakeError(f"bad hello: {exc}") from exc
        if not isinstance(hello, Hello):
            raise HandshakeError("handshake payload is not a hello")
        node_id = node_id_from_public_key(public_key)
        if hello.node_id != node_id:
            raise HandshakeError("hello node id differs from the proven identity")
        incompatible = check_compatible(self._hello, hello)
        rejection = incompatible
        if rejection is None and node_id == self._identity.node_id:
            rejection = "connected to self"
        if rejection is None and self._expected is not None and node_id != self._expected:
            rejection = f"dialled node {self._expected.hex()} but reached {node_id.hex()}"
        self.result = HandshakeResult(node_id, hello, rejection, incompatible is not None)
