"""Hashing and signatures: keccak-256, secp256k1 (coincurve), Ed25519 (cryptography).

This is the one module of `core` that touches crypto libraries; everything else
calls these functions.
"""

from __future__ import annotations

import coincurve
from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from eth_hash.auto import keccak

from peerchain.core.errors import PeerChainError

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class BadSignature(PeerChainError):
    """A signature is malformed or does not recover to a valid key."""


def keccak256(data: bytes) -> bytes:
    """Return the 32-byte keccak-256 digest of `data`."""
    return keccak(data)


def checksum_address(address: bytes) -> str:
    """EIP-55 mixed-case form of a 20-byte address."""
    lower = address.hex()
    digest = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(lower)
    )


def public_key_to_address(public_key: bytes) -> bytes:
    """Return the 20-byte Ethereum address of a 65-byte uncompressed public key."""
    return keccak256(public_key[1:])[12:]


def private_key_to_address(private_key: bytes) -> bytes:
    """Return the 20-byte Ethereum address controlled by a 32-byte secp256k1 key."""
    key = coincurve.PrivateKey(private_key)
    return public_key_to_address(key.public_key.format(compressed=False))


def sign_hash(msg_hash: bytes, private_key: bytes) -> tuple[int, int, int]:
    """Sign a 32-byte hash; return (y_parity, r, s) with low s."""
    sig = coincurve.PrivateKey(private_key).sign_recoverable(msg_hash, hasher=None)
    r = int.from_bytes(sig[0:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    return sig[64], r, s


def recover_address(msg_hash: bytes, y_parity: int, r: int, s: int) -> bytes:
    """Recover the 20-byte signer address of a hash. Raises BadSignature."""
    if y_parity not in (0, 1) or not (0 < r < SECP256K1_N) or not (0 < s < SECP256K1_N):
        raise BadSignature("signature values out of range")
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([y_parity])
    try:
        pub = coincurve.PublicKey.from_signature_and_message(sig, msg_hash, hasher=None)
    except Exception as exc:  # coincurve raises plain Exception/ValueError
        raise BadSignature(str(exc)) from exc
    return public_key_to_address(pub.format(compressed=False))


def signature_to_bytes(y_parity: int, r: int, s: int) -> bytes:
    """Encode a signature as 65 bytes r || s || y_parity."""
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([y_parity])


def signature_from_bytes(sig: bytes) -> tuple[int, int, int]:
    """Decode 65 bytes r || s || y_parity. Raises BadSignature."""
    if len(sig) != 65:
        raise BadSignature(f"signature must be 65 bytes, got {len(sig)}")
    return sig[64], int.from_bytes(sig[0:32], "big"), int.from_bytes(sig[32:64], "big")


def sign_hash_bytes(msg_hash: bytes, private_key: bytes) -> bytes:
    """Sign a 32-byte hash; return the 65-byte r || s || y_parity form."""
    return signature_to_bytes(*sign_hash(msg_hash, private_key))


def recover_address_bytes(msg_hash: bytes, sig: bytes) -> bytes:
    """Recover the signer address from a 65-byte signature. Raises BadSignature."""
    return recover_address(msg_hash, *signature_from_bytes(sig))


def ed25519_public_key(private_key: bytes) -> bytes:
    """Return the 32-byte Ed25519 public key for a 32-byte private key."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(private_key)
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def ed25519_sign(private_key: bytes, message: bytes) -> bytes:
    """Sign `message` with an Ed25519 key; return the 64-byte signature."""
    return ed25519.Ed25519PrivateKey.from_private_bytes(private_key).sign(message)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Return whether `signature` is a valid Ed25519 signature of `message`."""
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (_CryptoInvalidSignature, ValueError):
        return False
    return True
