"""Never sign twice, even without the WAL: the last-signed record.

A validator keeps, beside its key, the highest (height, round, step) it signed and what
(CometBFT's priv_validator_state). The node makes it durable before a signature leaves
(before the WAL append, which only speeds up recovery). A message may be signed only
after it in (height, round, step) order, or be the very same message again (same value,
same proof-of-lock round: signatures are deterministic, so the bytes are the same):

    step order within a round: PROPOSAL < PREVOTE < PRECOMMIT

`sign_conflict` says why a message must not be signed. The consensus machine asks it
before signing and skips what it refuses (after a lost WAL it would otherwise sign a
different proposal or vote for a round it already signed); the node's signer store asks
it again before saving and refuses to go on if it objects (a bug, not a fault to live
with). A machine started with a last-signed vote its WAL lacks restores it as a WAL
record: the vote is counted, the round and step resume there, a precommit locks.

The file form is one JSON object with a CRC-32 of its canonical fields, so a damaged
record is refused instead of trusted.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from enum import IntEnum

from peerchain.core.consensus.messages import Proposal, Vote, VoteKind
from peerchain.core.consensus.wal import WalRecord
from peerchain.core.errors import DecodeError


class SignStep(IntEnum):
    """Where a signature sits within a round."""

    PROPOSAL = 1
    PREVOTE = 2
    PRECOMMIT = 3


_STEP_OF_VOTE = {VoteKind.PREVOTE: SignStep.PREVOTE, VoteKind.PRECOMMIT: SignStep.PRECOMMIT}
_KIND_OF_STEP = {step: kind for kind, step in _STEP_OF_VOTE.items()}


@dataclass(frozen=True, slots=True)
class LastSigned:
    """The last message a validator signed: position, value (`block_hash`, None for a
    nil vote), proof-of-lock round (proposals; -1 for votes) and signature."""

    height: int
    round: int
    step: SignStep
    block_hash: bytes | None
    pol_round: int
    signature: bytes

    @property
    def position(self) -> tuple[int, int, int]:
        return (self.height, self.round, int(self.step))

    def as_vote(self, validator: bytes) -> Vote | None:
        """The signed vote itself (None for a proposal, whose block is not kept)."""
        if self.step is SignStep.PROPOSAL:
            return None
        kind = _KIND_OF_STEP[self.step]
        return Vote(kind, self.height, self.round, self.block_hash, validator, self.signature)


def last_signed_of(record: WalRecord) -> LastSigned:
    """The last-signed record of a signed proposal or vote."""
    if isinstance(record, Proposal):
        return LastSigned(
            record.height,
            record.round,
            SignStep.PROPOSAL,
            record.block.hash,
            record.pol_round,
            record.signature,
        )
    step = _STEP_OF_VOTE[record.kind]
    return LastSigned(record.height, record.round, step, record.block_hash, -1, record.signature)


def sign_conflict(last: LastSigned | None, candidate: LastSigned) -> str | None:
    """Why `candidate` must not be signed after `last`, or None if it may be."""
    if last is None or candidate.position > last.position:
        return None
    what = f"{candidate.step.name.lower()} at height {candidate.height} round {candidate.round}"
    if candidate.position < last.position:
        return (
            f"{what} goes back behind the last signed {last.step.name.lower()} at height "
            f"{last.height} round {last.round}"
        )
    if (candidate.block_hash, candidate.pol_round) != (last.block_hash, last.pol_round):
        return f"{what} conflicts with the one already signed for {_value(last.block_hash)}"
    return None


def _value(block_hash: bytes | None) -> str:
    return "nil" if block_hash is None else f"block 0x{block_hash.hex()[:16]}"


# --- file form --------------------------------------------------------------------------


def encode_last_signed(last: LastSigned) -> bytes:
    """The JSON file form, with a checksum."""
    fields = _fields(last)
    fields["crc32"] = zlib.crc32(_canonical(fields))
    return json.dumps(fields, indent=1).encode() + b"\n"


def decode_last_signed(data: bytes) -> LastSigned:
    """Read the file form. Raises DecodeError for anything damaged or malformed."""
    try:
        fields = json.loads(data)
        checksum = fields.pop("crc32")
        if checksum != zlib.crc32(_canonical(fields)):
            raise DecodeError("last-signed record fails its checksum")
        block_hash = fields["block_hash"]
        last = LastSigned(
            height=int(fields["height"]),
            round=int(fields["round"]),
            step=SignStep[str(fields["step"]).upper()],
            block_hash=None if block_hash is None else bytes.fromhex(block_hash[2:]),
            pol_round=int(fields["pol_round"]),
            signature=bytes.fromhex(str(fields["signature"])[2:]),
        )
    except DecodeError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DecodeError(f"last-signed record is malformed: {exc}") from exc
    if _fields(last) != fields:
        raise DecodeError("last-signed record is malformed")
    return last


def _fields(last: LastSigned) -> dict[str, object]:
    return {
        "height": last.height,
        "round": last.round,
        "step": last.step.name.lower(),
        "block_hash": None if last.block_hash is None else "0x" + last.block_hash.hex(),
        "pol_round": last.pol_round,
        "signature": "0x" + last.signature.hex(),
    }


def _canonical(fields: dict[str, object]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
