"""Evidence as data: records built from what the machine reports, checked by anyone with
the validator set, deduplicated, bounded and encoded for storage."""

from __future__ import annotations

import pytest

from peerchain.core.consensus.evidence import (
    EvidenceBook,
    decode_evidence,
    encode_evidence,
    evidence_record,
    verify_evidence,
)
from peerchain.core.consensus.messages import (
    BlockValue,
    InvalidMessage,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from peerchain.core.consensus.signguard import SignStep
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.consensus.votes import DuplicateProposal, DuplicateVote
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.errors import DecodeError
from peerchain.core.genesis import Validator

KEYS = [keccak256(b"evidence %d" % i) for i in range(4)]
VALIDATORS = ValidatorSet([Validator(private_key_to_address(k), 10) for k in KEYS])
A, B = keccak256(b"a"), keccak256(b"b")


def _double_vote(height: int = 5, key: bytes = KEYS[1]) -> DuplicateVote:
    return DuplicateVote(
        sign_vote(key, 1, VoteKind.PREVOTE, height, 2, A),
        sign_vote(key, 1, VoteKind.PREVOTE, height, 2, None),
    )


def test_a_double_vote_becomes_a_checkable_record() -> None:
    record = evidence_record(_double_vote(), detected_at=5)
    assert (record.validator, record.height, record.round) == (
        private_key_to_address(KEYS[1]),
        5,
        2,
    )
    assert record.step is SignStep.PREVOTE
    verify_evidence(record, 1, VALIDATORS)
    assert decode_evidence(encode_evidence(record)) == record


def test_a_double_proposal_is_kept_without_its_blocks() -> None:
    first = sign_proposal(KEYS[2], 1, 7, 0, -1, BlockValue(A, b"block a" * 1000))
    second = sign_proposal(KEYS[2], 1, 7, 0, -1, BlockValue(B, b"block b" * 1000))
    record = evidence_record(DuplicateProposal(first, second), detected_at=7)
    assert record.step is SignStep.PROPOSAL
    assert len(encode_evidence(record)) < 300
    verify_evidence(record, 1, VALIDATORS)


def test_the_same_pair_in_either_order_or_seen_later_is_one_record() -> None:
    pair = _double_vote()
    swapped = DuplicateVote(pair.second, pair.first)
    book = EvidenceBook()
    assert book.add(evidence_record(pair, 5))
    assert not book.add(evidence_record(swapped, 6))
    assert len(book) == 1


def test_forged_or_empty_evidence_is_refused() -> None:
    record = evidence_record(_double_vote(), 5)
    other = evidence_record(_double_vote(key=KEYS[2]), 5)
    forged = type(record)(record.validator, 5, 2, SignStep.PREVOTE, record.first, other.second, 5)
    with pytest.raises(InvalidMessage, match="not the validator's"):
        verify_evidence(forged, 1, VALIDATORS)
    same = type(record)(record.validator, 5, 2, SignStep.PREVOTE, record.first, record.first, 5)
    with pytest.raises(InvalidMessage, match="same value twice"):
        verify_evidence(same, 1, VALIDATORS)
    with pytest.raises(InvalidMessage, match="non-validator"):
        verify_evidence(evidence_record(_double_vote(key=keccak256(b"x")), 5), 1, VALIDATORS)


def test_the_book_is_bounded_keeping_the_newest_heights_and_round_trips() -> None:
    book = EvidenceBook(limit=3)
    for height in (4, 9, 2, 7, 5):
        book.add(evidence_record(_double_vote(height), height))
    assert [r.height for r in book.records()] == [9, 7, 5]
    again = EvidenceBook.decode(book.encode(), limit=3)
    assert again.records() == book.records()
    with pytest.raises(DecodeError):
        EvidenceBook.decode(book.encode()[:-5])
