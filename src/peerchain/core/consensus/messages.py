"""Consensus messages: block values, proposals and votes, their sign bytes and wire form.

Sign bytes are a fixed layout, hashed with keccak-256 and signed with the validator's
secp256k1 key (`crypto.sign_hash_bytes`); the signer is the recovered address::

    vote:      DOMAIN | kind (1) | chain id (8) | height (8) | round (4) | nil? (1) | hash (32)
    proposal:  DOMAIN | 0x20 (1) | chain id (8) | height (8) | round (4) | pol round (4,
               signed) | hash (32)

`DOMAIN` starts with 0x19, a byte no Ethereum transaction encoding starts with, so a
validator key that also signs transactions can never have one signature read as the
other. Chain id, height, round and kind are all signed: a signature cannot be replayed
on another chain, height, round or step. A proposal signs the block hash, not its
bytes; the application checks that the bytes hash to it when it validates the block.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

from peerchain.core.crypto import (
    keccak256,
    private_key_to_address,
    recover_address_bytes,
    sign_hash_bytes,
)
from peerchain.core.errors import DecodeError, PeerChainError

DOMAIN = b"\x19PeerChain consensus:"
HASH_SIZE = 32
ADDRESS_SIZE = 20
SIGNATURE_SIZE = 65
MAX_U64 = (1 << 64) - 1
MAX_U32 = (1 << 32) - 1


class InvalidMessage(PeerChainError):
    """A consensus message breaks the rules: bad signature, a signer that is not a
    validator, a proposal not from the round's proposer, a malformed field. The peer
    that sent it is at fault; the machine's state is unchanged."""


class VoteKind(IntEnum):
    """The step a vote belongs to; the values are the kind byte of the sign bytes."""

    PREVOTE = 1
    PRECOMMIT = 2


PROPOSAL_KIND = 0x20


@dataclass(frozen=True, slots=True)
class BlockValue:
    """What consensus agrees on: an opaque block and its 32-byte id (`hash`).

    The application builds both and is the one that checks they belong together.
    """

    hash: bytes
    data: bytes


@dataclass(frozen=True, slots=True)
class Vote:
    """A signed prevote or precommit; `block_hash` None is a vote for nil."""

    kind: VoteKind
    height: int
    round: int
    block_hash: bytes | None
    validator: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Proposal:
    """A signed proposal of `block` for (height, round); `pol_round` is the round of the
    proof of lock the proposer claims for it (-1 for none)."""

    height: int
    round: int
    pol_round: int
    block: BlockValue
    proposer: bytes
    signature: bytes


# --- sign bytes -------------------------------------------------------------------------

_VOTE_HEAD = struct.Struct(">BQQI")
_PROPOSAL_HEAD = struct.Struct(">BQQIi")
_NIL_HASH = bytes(HASH_SIZE)


@lru_cache(maxsize=1 << 12)
def vote_digest(
    chain_id: int, kind: VoteKind, height: int, round: int, block_hash: bytes | None
) -> bytes:
    """The 32-byte hash a validator signs for a vote. Raises ValueError on bad fields.

    Memoised: every validator voting for the same value in a round signs the same bytes.
    """
    _check_ranges(chain_id, height, round)
    if block_hash is None:
        tail = b"\x00" + _NIL_HASH
    else:
        _check_hash(block_hash)
        tail = b"\x01" + block_hash
    return keccak256(DOMAIN + _VOTE_HEAD.pack(kind, chain_id, height, round) + tail)


def proposal_digest(
    chain_id: int, height: int, round: int, pol_round: int, block_hash: bytes
) -> bytes:
    """The 32-byte hash a proposer signs for a proposal. Raises ValueError on bad fields."""
    _check_ranges(chain_id, height, round)
    _check_hash(block_hash)
    if not -1 <= pol_round < round:
        raise ValueError(f"pol round {pol_round} not in [-1, {round})")
    head = _PROPOSAL_HEAD.pack(PROPOSAL_KIND, chain_id, height, round, pol_round)
    return keccak256(DOMAIN + head + block_hash)


def _check_ranges(chain_id: int, height: int, round: int) -> None:
    if not (0 <= chain_id <= MAX_U64 and 0 <= height <= MAX_U64 and 0 <= round <= MAX_U32):
        raise ValueError(f"chain id, height or round out of range: {chain_id}/{height}/{round}")


def _check_hash(block_hash: bytes) -> None:
    if len(block_hash) != HASH_SIZE:
        raise ValueError(f"block hash must be {HASH_SIZE} bytes, got {len(block_hash)}")


def sign_vote(
    private_key: bytes,
    chain_id: int,
    kind: VoteKind,
    height: int,
    round: int,
    block_hash: bytes | None,
    *,
    validator: bytes | None = None,
) -> Vote:
    """Sign a vote. `validator` (the key's address) may be passed to save deriving it."""
    digest = vote_digest(chain_id, kind, height, round, block_hash)
    address = validator if validator is not None else private_key_to_address(private_key)
    return Vote(kind, height, round, block_hash, address, sign_hash_bytes(digest, private_key))


def sign_proposal(
    private_key: bytes,
    chain_id: int,
    height: int,
    round: int,
    pol_round: int,
    block: BlockValue,
    *,
    proposer: bytes | None = None,
) -> Proposal:
    """Sign a proposal. `proposer` (the key's address) may be passed to save deriving it."""
    digest = proposal_digest(chain_id, height, round, pol_round, block.hash)
    address = proposer if proposer is not None else private_key_to_address(private_key)
    return Proposal(height, round, pol_round, block, address, sign_hash_bytes(digest, private_key))


@lru_cache(maxsize=1 << 16)
def _recover(digest: bytes, signature: bytes) -> bytes:
    """Signer recovery, memoised: one message reaches a node from several peers."""
    return recover_address_bytes(digest, signature)


def vote_signer(chain_id: int, vote: Vote) -> bytes:
    """The address that signed `vote`. Raises InvalidMessage."""
    try:
        digest = vote_digest(chain_id, vote.kind, vote.height, vote.round, vote.block_hash)
        return _recover(digest, vote.signature)
    except (ValueError, PeerChainError) as exc:
        raise InvalidMessage(f"bad vote: {exc}") from exc


def proposal_signer(chain_id: int, proposal: Proposal) -> bytes:
    """The address that signed `proposal`. Raises InvalidMessage."""
    p = proposal
    try:
        digest = proposal_digest(chain_id, p.height, p.round, p.pol_round, p.block.hash)
        return _recover(digest, p.signature)
    except (ValueError, PeerChainError) as exc:
        raise InvalidMessage(f"bad proposal: {exc}") from exc


# --- wire form --------------------------------------------------------------------------
#
# vote:      kind (1) | height (8) | round (4) | nil? (1) | hash (32) | validator (20) | sig (65)
# proposal:  height (8) | round (4) | pol round (4) | hash (32) | proposer (20) | sig (65) | data

_VOTE = struct.Struct(">BQIB32s20s65s")
_PROPOSAL = struct.Struct(">QIi32s20s65s")


def encode_vote(vote: Vote) -> bytes:
    """The fixed-size wire form of a vote. Raises ValueError on out-of-range fields."""
    has_hash = vote.block_hash is not None
    if vote.block_hash is not None:
        _check_hash(vote.block_hash)
    _check_sizes(vote.validator, vote.signature)
    try:
        return _VOTE.pack(
            vote.kind,
            vote.height,
            vote.round,
            has_hash,
            vote.block_hash if vote.block_hash is not None else _NIL_HASH,
            vote.validator,
            vote.signature,
        )
    except struct.error as exc:
        raise ValueError(f"vote field out of range: {exc}") from exc


def decode_vote(data: bytes) -> Vote:
    """Decode `encode_vote` output. Raises DecodeError."""
    if len(data) != _VOTE.size:
        raise DecodeError(f"vote must be {_VOTE.size} bytes, got {len(data)}")
    kind, height, round, has_hash, block_hash, validator, signature = _VOTE.unpack(data)
    if kind not in (VoteKind.PREVOTE, VoteKind.PRECOMMIT) or has_hash > 1:
        raise DecodeError(f"bad vote kind {kind} or nil flag {has_hash}")
    return Vote(
        VoteKind(kind), height, round, block_hash if has_hash else None, validator, signature
    )


def encode_proposal(proposal: Proposal) -> bytes:
    """The wire form of a proposal. Raises ValueError on out-of-range fields."""
    p = proposal
    _check_hash(p.block.hash)
    _check_sizes(p.proposer, p.signature)
    try:
        head = _PROPOSAL.pack(p.height, p.round, p.pol_round, p.block.hash, p.proposer, p.signature)
    except struct.error as exc:
        raise ValueError(f"proposal field out of range: {exc}") from exc
    return head + p.block.data


def _check_sizes(address: bytes, signature: bytes) -> None:
    # struct's "Ns" pads or cuts silently; a wrong size must fail instead.
    if len(address) != ADDRESS_SIZE or len(signature) != SIGNATURE_SIZE:
        raise ValueError("a signer address is 20 bytes and a signature 65 bytes")


def decode_proposal(data: bytes) -> Proposal:
    """Decode `encode_proposal` output. Raises DecodeError."""
    if len(data) < _PROPOSAL.size:
        raise DecodeError(f"proposal shorter than {_PROPOSAL.size} bytes")
    height, round, pol_round, block_hash, proposer, signature = _PROPOSAL.unpack_from(data)
    block = BlockValue(block_hash, data[_PROPOSAL.size :])
    return Proposal(height, round, pol_round, block, proposer, signature)
