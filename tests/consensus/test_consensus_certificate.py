"""Commit certificates: built from precommits, checked against the validator set, encoded."""

from __future__ import annotations

import dataclasses

import pytest

from peerchain.core.consensus.certificate import (
    CommitCertificate,
    certificate_from_votes,
    certificate_hash,
    decode_certificate,
    encode_certificate,
    verify_certificate,
)
from peerchain.core.consensus.messages import InvalidMessage, Vote, VoteKind, sign_vote
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.errors import DecodeError
from peerchain.core.genesis import Validator

KEYS = [keccak256(b"certificate test %d" % i) for i in range(4)]
POWERS = [1, 1, 1, 3]  # total 6: a quorum needs more than 4
VALIDATORS = ValidatorSet(
    Validator(private_key_to_address(k), p) for k, p in zip(KEYS, POWERS, strict=True)
)
BLOCK = keccak256(b"block")


def precommits(*indexes: int, block: bytes = BLOCK) -> list[Vote]:
    return [sign_vote(KEYS[i], 5, VoteKind.PRECOMMIT, 8, 2, block) for i in indexes]


def test_build_verify_encode() -> None:
    certificate = certificate_from_votes(precommits(3, 0, 1))
    assert (certificate.height, certificate.round, certificate.block_hash) == (8, 2, BLOCK)
    assert [a for a, _ in certificate.signatures] == sorted(a for a, _ in certificate.signatures)
    verify_certificate(certificate, VALIDATORS, 5)
    assert decode_certificate(encode_certificate(certificate)) == certificate
    assert set(certificate.votes()) == set(precommits(0, 1, 3))
    assert certificate_hash(certificate) == keccak256(encode_certificate(certificate))


def test_power_not_count_decides() -> None:
    with pytest.raises(InvalidMessage, match="2/3"):
        verify_certificate(certificate_from_votes(precommits(0, 1, 2)), VALIDATORS, 5)  # 3 of 6
    verify_certificate(certificate_from_votes(precommits(3, 0, 1)), VALIDATORS, 5)  # 5 of 6


def test_bad_certificates_are_refused() -> None:
    good = certificate_from_votes(precommits(3, 0, 1))
    with pytest.raises(InvalidMessage):
        verify_certificate(good, VALIDATORS, 6)  # signed for another chain
    doubled = dataclasses.replace(good, signatures=good.signatures + good.signatures[:1])
    with pytest.raises(InvalidMessage, match="twice"):
        verify_certificate(doubled, VALIDATORS, 5)
    outsider = keccak256(b"outsider")
    stranger = certificate_from_votes(
        [*precommits(3, 0), sign_vote(outsider, 5, VoteKind.PRECOMMIT, 8, 2, BLOCK)]
    )
    with pytest.raises(InvalidMessage, match="non-validator"):
        verify_certificate(stranger, VALIDATORS, 5)
    moved = CommitCertificate(9, 2, BLOCK, good.signatures)
    with pytest.raises(InvalidMessage):
        verify_certificate(moved, VALIDATORS, 5)


def test_mixed_votes_do_not_make_a_certificate() -> None:
    with pytest.raises(ValueError):
        certificate_from_votes(precommits(0) + precommits(1, block=keccak256(b"other")))
    with pytest.raises(ValueError):
        certificate_from_votes([])


def test_decoding_checks_layout() -> None:
    data = encode_certificate(certificate_from_votes(precommits(3, 0, 1)))
    for bad in (data[:-1], data + b"\x00", data[:10]):
        with pytest.raises(DecodeError):
            decode_certificate(bad)
