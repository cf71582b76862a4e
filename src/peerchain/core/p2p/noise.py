"""The Noise XX session (X25519, ChaCha20-Poly1305, SHA-256) over the `noiseprotocol` package.

This is the one module that imports `noise`; it translates that library's errors into
`NoiseError`. Keys come in as bytes: the caller supplies the static and the ephemeral
X25519 private keys, so nothing here draws randomness.
"""

from __future__ import annotations

import warnings

from noise.backends.default.keypairs import KeyPair25519
from noise.connection import Keypair, NoiseConnection

from peerchain.core.errors import DecodeError

PROTOCOL_NAME = b"Noise_XX_25519_ChaChaPoly_SHA256"
MAX_PACKET = 65535
TAG_SIZE = 16
MAX_PLAINTEXT = MAX_PACKET - TAG_SIZE
KEY_SIZE = 32


class NoiseError(DecodeError):
    """The peer's bytes failed Noise processing (bad handshake message or failed decryption)."""


def x25519_public_key(private_key: bytes) -> bytes:
    """Return the 32-byte X25519 public key of a 32-byte private key."""
    return bytes(KeyPair25519.from_private_bytes(private_key).public_bytes)


class NoiseSession:
    """One side of a Noise XX handshake and, once it is finished, the transport ciphers.

    Handshake messages alternate: the initiator writes first. `remote_static` is known
    once the remote's `s` token has been read (message 2 for the initiator, 3 for the
    responder).
    """

    def __init__(
        self, *, initiator: bool, static_private: bytes, ephemeral_private: bytes, prologue: bytes
    ) -> None:
        if len(static_private) != KEY_SIZE or len(ephemeral_private) != KEY_SIZE:
            raise ValueError("X25519 private keys are 32 bytes")
        conn = NoiseConnection.from_name(PROTOCOL_NAME)
        if initiator:
            conn.set_as_initiator()
        else:
            conn.set_as_responder()
        conn.set_prologue(prologue)
        conn.set_keypair_from_private_bytes(Keypair.STATIC, static_private)
        conn.set_keypair_from_private_bytes(Keypair.EPHEMERAL, ephemeral_private)
        with warnings.catch_warnings():
            # The library warns when the ephemeral key is given instead of drawn by it.
            warnings.simplefilter("ignore")
            conn.start_handshake()
        self._conn = conn
        self._state = conn.noise_protocol.handshake_state
        self.static_public = x25519_public_key(static_private)
        self.remote_static: bytes | None = None

    @property
    def finished(self) -> bool:
        return bool(self._conn.handshake_finished)

    def write_handshake(self, payload: bytes) -> bytes:
        """Produce the next handshake message carrying `payload` (encrypted once keys exist)."""
        return bytes(self._conn.write_message(payload))

    def read_handshake(self, message: bytes) -> bytes:
        """Consume the peer's handshake message; return its payload. Raises NoiseError."""
        try:
            payload = bytes(self._conn.read_message(message))
        except Exception as exc:  # the library raises many unrelated types on bad input
            raise NoiseError(f"bad handshake message: {type(exc).__name__}: {exc}") from exc
        remote = self._state.rs
        if self.remote_static is None and isinstance(remote, KeyPair25519):
            self.remote_static = bytes(remote.public_bytes)
        return payload

    def encrypt(self, plaintext: bytes) -> bytes:
        """Encrypt one transport packet of at most MAX_PLAINTEXT bytes."""
        if len(plaintext) > MAX_PLAINTEXT:
            raise ValueError(f"packet plaintext over {MAX_PLAINTEXT} bytes")
        return bytes(self._conn.encrypt(plaintext))

    def decrypt(self, packet: bytes) -> bytes:
        """Decrypt and authenticate one transport packet. Raises NoiseError."""
        try:
            return bytes(self._conn.decrypt(packet))
        except Exception as exc:  # NoiseInvalidMessage, InvalidTag, nonce exhaustion
            raise NoiseError(f"packet failed authentication: {type(exc).__name__}") from exc
