"""Commit certificates: the precommits of more than 2/3 of the voting power for one block.

A certificate is stored with its block, served to syncing peers and light clients, and
bound into the chain by its hash (`certificate_hash`, the `extraData` of the next block).
Its encoding is canonical (signatures sorted by validator), so equal certificates hash
equally::

    height (8) | round (4) | block hash (32) | count (2) | count x (validator (20) | sig (65))

`Commit` pairs a certificate with its block: the catch-up message for a peer that is
behind.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from peerchain.core.consensus.messages import (
    ADDRESS_SIZE,
    SIGNATURE_SIZE,
    BlockValue,
    InvalidMessage,
    Vote,
    VoteKind,
    vote_signer,
)
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError

_HEAD = struct.Struct(">QI32sH")
_ENTRY_SIZE = ADDRESS_SIZE + SIGNATURE_SIZE


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """Precommit signatures for `block_hash` at (height, round), sorted by validator."""

    height: int
    round: int
    block_hash: bytes
    signatures: tuple[tuple[bytes, bytes], ...]

    def votes(self) -> tuple[Vote, ...]:
        """The precommits this certificate is made of."""
        return tuple(
            Vote(VoteKind.PRECOMMIT, self.height, self.round, self.block_hash, validator, sig)
            for validator, sig in self.signatures
        )


@dataclass(frozen=True, slots=True)
class Commit:
    """A decided block with its certificate, sent to a peer that is behind."""

    block: BlockValue
    certificate: CommitCertificate


def certificate_from_votes(votes: Iterable[Vote]) -> CommitCertificate:
    """Build a certificate from precommits for one block (at least one). Raises ValueError."""
    ordered = sorted(votes, key=lambda v: v.validator)
    if not ordered:
        raise ValueError("a certificate needs at least one precommit")
    first = ordered[0]
    for vote in ordered:
        if (vote.kind, vote.height, vote.round, vote.block_hash) != (
            VoteKind.PRECOMMIT,
            first.height,
            first.round,
            first.block_hash,
        ) or vote.block_hash is None:
            raise ValueError("a certificate holds precommits for one block at one round")
    assert first.block_hash is not None
    return CommitCertificate(
        first.height,
        first.round,
        first.block_hash,
        tuple((v.validator, v.signature) for v in ordered),
    )


def verify_certificate(
    certificate: CommitCertificate, validators: ValidatorSet, chain_id: int
) -> None:
    """Check every signature and that the signers hold more than 2/3 of the power.

    Raises InvalidMessage.
    """
    seen: set[bytes] = set()
    power = 0
    for vote in certificate.votes():
        if vote.validator in seen:
            raise InvalidMessage("certificate lists a validator twice")
        seen.add(vote.validator)
        if vote.validator not in validators:
            raise InvalidMessage("certificate signed by a non-validator")
        if vote_signer(chain_id, vote) != vote.validator:
            raise InvalidMessage("certificate signature does not match its validator")
        power += validators.power_of(vote.validator)
    if not validators.is_quorum(power):
        raise InvalidMessage("certificate holds no more than 2/3 of the voting power")


def encode_certificate(certificate: CommitCertificate) -> bytes:
    """The canonical bytes of a certificate. Raises ValueError on bad fields."""
    c = certificate
    if len(c.block_hash) != 32 or any(
        len(a) != ADDRESS_SIZE or len(s) != SIGNATURE_SIZE for a, s in c.signatures
    ):
        raise ValueError("bad hash, address or signature size in certificate")
    if list(c.signatures) != sorted(c.signatures):
        raise ValueError("certificate signatures must be sorted by validator")
    try:
        head = _HEAD.pack(c.height, c.round, c.block_hash, len(c.signatures))
    except struct.error as exc:
        raise ValueError(f"certificate field out of range: {exc}") from exc
    return head + b"".join(a + s for a, s in c.signatures)


def decode_certificate(data: bytes) -> CommitCertificate:
    """Decode `encode_certificate` output. Raises DecodeError."""
    if len(data) < _HEAD.size:
        raise DecodeError("certificate truncated")
    height, round, block_hash, count = _HEAD.unpack_from(data)
    if len(data) != _HEAD.size + count * _ENTRY_SIZE:
        raise DecodeError("certificate length does not match its signature count")
    entries = []
    for i in range(count):
        at = _HEAD.size + i * _ENTRY_SIZE
        entries.append((data[at : at + ADDRESS_SIZE], data[at + ADDRESS_SIZE : at + _ENTRY_SIZE]))
    if entries != sorted(entries) or len({a for a, _ in entries}) != count:
        raise DecodeError("certificate signatures not sorted by distinct validators")
    return CommitCertificate(height, round, block_hash, tuple(entries))


def certificate_hash(certificate: CommitCertificate) -> bytes:
    """keccak-256 of the canonical encoding; what the next block's `extraData` holds."""
    return keccak256(encode_certificate(certificate))
