"""Sign bytes, signatures and the wire form of proposals and votes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerchain.core.consensus.messages import (
    BlockValue,
    InvalidMessage,
    Proposal,
    Vote,
    VoteKind,
    decode_proposal,
    decode_vote,
    encode_proposal,
    encode_vote,
    proposal_digest,
    proposal_signer,
    sign_proposal,
    sign_vote,
    vote_digest,
    vote_signer,
)
from peerchain.core.consensus.wire import decode_message, encode_message
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.errors import DecodeError

KEY = keccak256(b"messages test key")
ADDRESS = private_key_to_address(KEY)
HASH = keccak256(b"block")


def test_vote_sign_bytes_layout_is_pinned() -> None:
    def layout(tail: bytes) -> bytes:
        head = bytes([2]) + (1337).to_bytes(8, "big") + (7).to_bytes(8, "big")
        return keccak256(b"\x19PeerChain consensus:" + head + (3).to_bytes(4, "big") + tail)

    assert vote_digest(1337, VoteKind.PRECOMMIT, 7, 3, HASH) == layout(b"\x01" + HASH)
    assert vote_digest(1337, VoteKind.PRECOMMIT, 7, 3, None) == layout(b"\x00" + bytes(32))


def test_every_signed_field_changes_the_digest() -> None:
    base = (1, VoteKind.PREVOTE, 5, 2, HASH)
    variants = [
        (2, VoteKind.PREVOTE, 5, 2, HASH),  # chain id
        (1, VoteKind.PRECOMMIT, 5, 2, HASH),  # kind
        (1, VoteKind.PREVOTE, 6, 2, HASH),  # height
        (1, VoteKind.PREVOTE, 5, 3, HASH),  # round
        (1, VoteKind.PREVOTE, 5, 2, None),  # nil
        (1, VoteKind.PREVOTE, 5, 2, keccak256(b"other")),  # block
    ]
    digests = {vote_digest(*base)} | {vote_digest(*v) for v in variants}
    digests.add(proposal_digest(1, 5, 2, -1, HASH))
    assert len(digests) == len(variants) + 2


def test_a_signature_does_not_carry_over_to_another_chain_height_or_round() -> None:
    vote = sign_vote(KEY, 1, VoteKind.PREVOTE, 5, 2, HASH)
    assert vote.validator == ADDRESS
    assert vote_signer(1, vote) == ADDRESS
    assert vote_signer(2, vote) != ADDRESS
    for replayed in (
        Vote(vote.kind, 6, vote.round, HASH, ADDRESS, vote.signature),
        Vote(vote.kind, vote.height, 3, HASH, ADDRESS, vote.signature),
        Vote(VoteKind.PRECOMMIT, vote.height, vote.round, HASH, ADDRESS, vote.signature),
    ):
        assert vote_signer(1, replayed) != ADDRESS


def test_proposal_signature_covers_pol_round_and_block_hash() -> None:
    block = BlockValue(HASH, b"data")
    proposal = sign_proposal(KEY, 9, 4, 2, 1, block)
    assert proposal_signer(9, proposal) == ADDRESS
    other = BlockValue(keccak256(b"x"), b"x")
    assert proposal_signer(9, Proposal(4, 2, 0, block, ADDRESS, proposal.signature)) != ADDRESS
    assert proposal_signer(9, Proposal(4, 2, 1, other, ADDRESS, proposal.signature)) != ADDRESS


def test_malformed_messages_are_invalid_not_crashes() -> None:
    vote = sign_vote(KEY, 1, VoteKind.PREVOTE, 5, 2, HASH)
    with pytest.raises(InvalidMessage):
        vote_signer(1, Vote(vote.kind, 5, 2, b"short", ADDRESS, vote.signature))
    with pytest.raises(InvalidMessage):
        vote_signer(1, Vote(vote.kind, 5, 2, HASH, ADDRESS, b"\x00" * 65))
    with pytest.raises(InvalidMessage):
        proposal_signer(1, Proposal(5, 2, 2, BlockValue(HASH, b""), ADDRESS, vote.signature))
    with pytest.raises(ValueError):
        vote_digest(1, VoteKind.PREVOTE, -1, 0, None)


hashes = st.one_of(st.none(), st.binary(min_size=32, max_size=32))
votes = st.builds(
    Vote,
    st.sampled_from(VoteKind),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**32 - 1),
    hashes,
    st.binary(min_size=20, max_size=20),
    st.binary(min_size=65, max_size=65),
)
proposals = st.builds(
    Proposal,
    st.integers(0, 2**64 - 1),
    st.integers(1, 2**31 - 1),
    st.integers(-1, 0),
    st.builds(BlockValue, st.binary(min_size=32, max_size=32), st.binary(max_size=200)),
    st.binary(min_size=20, max_size=20),
    st.binary(min_size=65, max_size=65),
)


@given(votes)
def test_vote_round_trip(vote: Vote) -> None:
    assert decode_vote(encode_vote(vote)) == vote
    assert decode_message(encode_message(vote)) == vote


@given(proposals)
def test_proposal_round_trip(proposal: Proposal) -> None:
    assert decode_proposal(encode_proposal(proposal)) == proposal
    assert decode_message(encode_message(proposal)) == proposal


@given(st.binary(max_size=300))
def test_decoding_garbage_raises_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_message(data)


def test_encoding_refuses_wrong_sizes_instead_of_padding() -> None:
    vote = sign_vote(KEY, 1, VoteKind.PREVOTE, 5, 2, HASH)
    with pytest.raises(ValueError):
        encode_vote(Vote(vote.kind, 5, 2, HASH, ADDRESS[:19], vote.signature))
    with pytest.raises(ValueError):
        encode_vote(Vote(vote.kind, 5, 2, HASH + b"\x00", ADDRESS, vote.signature))
