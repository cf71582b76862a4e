"""Evidence as data: proof that a validator signed two conflicting messages.

`EvidenceRecord` is what a node keeps (persisted with its chain), serves
(`peerchain_evidence`, the explorer) and what on-chain jailing is meant to consume. It is
self-contained: anyone holding the validator set checks it with `verify_evidence` (two
signatures by one validator for one height, round and step, on two different values).
A proposal is kept without its block, since its signature covers only the block hash.

Its `id` is the keccak of its canonical encoding, the two messages in a fixed order and
without the detection height, so the same pair seen from two peers, in either order or
at two heights, is one record. `EvidenceBook` keeps at most `MAX_EVIDENCE` records, the
newest heights first, deduplicated by id.

Encoding (RLP): [validator, height, round, step, first, second], each message
[block hash (empty for nil), pol round + 1, signature]; a stored record appends the
height at which this node detected it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from peerchain.core.consensus.messages import (
    BlockValue,
    InvalidMessage,
    Proposal,
    Vote,
    VoteKind,
    proposal_signer,
    vote_signer,
)
from peerchain.core.consensus.signguard import SignStep
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.consensus.votes import DuplicateProposal, DuplicateVote, Evidence
from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError
from peerchain.core.rlp import RLPItem, decode_rlp, encode_rlp, encode_uint

MAX_EVIDENCE = 1000


@dataclass(frozen=True, slots=True)
class SignedValue:
    """One of the two messages: the value signed (`block_hash`, None for a nil vote), the
    proof-of-lock round of a proposal (-1 for a vote) and the signature."""

    block_hash: bytes | None
    pol_round: int
    signature: bytes

    def sort_key(self) -> tuple[bytes, int, bytes]:
        return (self.block_hash or b"", self.pol_round, self.signature)


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """`validator` signed `first` and `second` for the same (height, round, step).
    `detected_at` is the height this node was deciding when it saw both (not part of
    the id)."""

    validator: bytes
    height: int
    round: int
    step: SignStep
    first: SignedValue
    second: SignedValue
    detected_at: int

    @property
    def id(self) -> bytes:
        return keccak256(encode_rlp(self._canonical()))

    def _canonical(self) -> list[RLPItem]:
        return [
            self.validator,
            encode_uint(self.height),
            encode_uint(self.round),
            encode_uint(int(self.step)),
            _encode_signed(self.first),
            _encode_signed(self.second),
        ]

    def messages(self) -> tuple[Proposal | Vote, Proposal | Vote]:
        """The two signed messages (proposals without their block bytes)."""
        return (self._message(self.first), self._message(self.second))

    def _message(self, signed: SignedValue) -> Proposal | Vote:
        if self.step is SignStep.PROPOSAL:
            assert signed.block_hash is not None
            block = BlockValue(signed.block_hash, b"")
            return Proposal(
                self.height, self.round, signed.pol_round, block, self.validator, signed.signature
            )
        kind = VoteKind.PREVOTE if self.step is SignStep.PREVOTE else VoteKind.PRECOMMIT
        return Vote(
            kind, self.height, self.round, signed.block_hash, self.validator, signed.signature
        )


def evidence_record(evidence: Evidence, detected_at: int) -> EvidenceRecord:
    """The record of what the consensus machine reported."""
    if isinstance(evidence, DuplicateProposal):
        p, q = evidence.first, evidence.second
        values = [SignedValue(m.block.hash, m.pol_round, m.signature) for m in (p, q)]
        step, validator, height, round_ = SignStep.PROPOSAL, p.proposer, p.height, p.round
    else:
        assert isinstance(evidence, DuplicateVote)
        a, b = evidence.first, evidence.second
        values = [SignedValue(v.block_hash, -1, v.signature) for v in (a, b)]
        step = SignStep.PREVOTE if a.kind is VoteKind.PREVOTE else SignStep.PRECOMMIT
        validator, height, round_ = a.validator, a.height, a.round
    first, second = sorted(values, key=SignedValue.sort_key)
    return EvidenceRecord(validator, height, round_, step, first, second, detected_at)


def verify_evidence(record: EvidenceRecord, chain_id: int, validators: ValidatorSet) -> None:
    """Check that the record proves double signing by a validator of `validators`.
    Raises InvalidMessage saying what does not hold."""
    if record.validator not in validators:
        raise InvalidMessage("evidence names a non-validator")
    if record.first.sort_key()[:2] == record.second.sort_key()[:2]:
        raise InvalidMessage("evidence holds the same value twice")
    values = (record.first, record.second)
    if record.step is SignStep.PROPOSAL:
        if any(v.block_hash is None for v in values):
            raise InvalidMessage("a proposal in evidence proposes nil")
    elif any(v.pol_round != -1 for v in values):
        raise InvalidMessage("a vote in evidence carries a proof-of-lock round")
    for message in record.messages():
        if isinstance(message, Proposal):
            signer = proposal_signer(chain_id, message)
        else:
            signer = vote_signer(chain_id, message)
        if signer != record.validator:
            raise InvalidMessage("an evidence signature is not the validator's")


# --- encoding ---------------------------------------------------------------------------


def _encode_signed(signed: SignedValue) -> list[RLPItem]:
    return [signed.block_hash or b"", encode_uint(signed.pol_round + 1), signed.signature]


def _decode_signed(item: object) -> SignedValue:
    if not isinstance(item, list) or len(item) != 3 or not all(isinstance(x, bytes) for x in item):
        raise DecodeError("evidence message is malformed")
    block_hash, pol, signature = item
    if len(block_hash) not in (0, 32) or len(signature) != 65:
        raise DecodeError("evidence message has bad field sizes")
    return SignedValue(block_hash or None, _uint(pol) - 1, signature)


def encode_evidence(record: EvidenceRecord) -> bytes:
    """A stored record: the canonical fields and the detection height."""
    return encode_rlp([*record._canonical(), encode_uint(record.detected_at)])


def decode_evidence(data: bytes) -> EvidenceRecord:
    """Raises DecodeError."""
    return _decode_item(decode_rlp(data))


def _decode_item(item: object) -> EvidenceRecord:
    if not isinstance(item, list) or len(item) != 7:
        raise DecodeError("evidence record is malformed")
    validator, height, round_, step, first, second, detected = item
    if not isinstance(validator, bytes) or len(validator) != 20:
        raise DecodeError("evidence validator is malformed")
    try:
        kind = SignStep(_uint(step))
    except ValueError as exc:
        raise DecodeError(f"evidence step is unknown: {exc}") from exc
    return EvidenceRecord(
        validator,
        _uint(height),
        _uint(round_),
        kind,
        _decode_signed(first),
        _decode_signed(second),
        _uint(detected),
    )


def _uint(item: object) -> int:
    if not isinstance(item, bytes):
        raise DecodeError("evidence field is not an integer")
    if item[:1] == b"\x00":
        raise DecodeError("evidence integer has leading zeros")
    return int.from_bytes(item, "big")


class EvidenceBook:
    """The evidence a node keeps: deduplicated by id, at most `limit` records (those of
    the highest heights)."""

    def __init__(self, records: Iterable[EvidenceRecord] = (), limit: int = MAX_EVIDENCE) -> None:
        self._limit = limit
        self._records: dict[bytes, EvidenceRecord] = {}
        for record in records:
            self.add(record)

    def __len__(self) -> int:
        return len(self._records)

    def add(self, record: EvidenceRecord) -> bool:
        """Keep `record`; False if it was known already (or is older than all kept)."""
        if record.id in self._records:
            return False
        self._records[record.id] = record
        if len(self._records) > self._limit:
            oldest = min(self._records.values(), key=lambda r: (r.height, r.round, r.id))
            del self._records[oldest.id]
            return oldest is not record
        return True

    def records(self) -> list[EvidenceRecord]:
        """Newest (highest height) first."""
        return sorted(self._records.values(), key=lambda r: (-r.height, -r.round, r.id))

    def encode(self) -> bytes:
        return encode_rlp([[*r._canonical(), encode_uint(r.detected_at)] for r in self.records()])

    @classmethod
    def decode(cls, data: bytes, limit: int = MAX_EVIDENCE) -> EvidenceBook:
        """Raises DecodeError."""
        items = decode_rlp(data)
        if not isinstance(items, list):
            raise DecodeError("evidence book is malformed")
        return cls((_decode_item(item) for item in items), limit)
