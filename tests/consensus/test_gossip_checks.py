"""What a node checks before it relays consensus gossip (`check_authentic`): a forgery is
dropped at the first node, so no honest node is ever blamed for relaying one."""

from __future__ import annotations

import pytest

from peerchain.core.consensus.certificate import Commit, certificate_from_votes
from peerchain.core.consensus.checks import check_authentic
from peerchain.core.consensus.messages import (
    BlockValue,
    InvalidMessage,
    Proposal,
    Vote,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.genesis import Validator

CHAIN_ID = 1337
KEYS = [keccak256(b"validator %d" % i) for i in range(4)]
VALIDATORS = ValidatorSet(Validator(private_key_to_address(k), 10) for k in KEYS)
KEY_OF = {private_key_to_address(k): k for k in KEYS}
OUTSIDER = keccak256(b"not a validator")
BLOCK = BlockValue(keccak256(b"block"), b"block bytes")


def precommit(key: bytes, height: int = 5, block_hash: bytes | None = BLOCK.hash) -> Vote:
    return sign_vote(key, CHAIN_ID, VoteKind.PRECOMMIT, height, 0, block_hash)


def proposal(height: int, round_: int, key: bytes | None = None) -> Proposal:
    """A proposal that names the round's proposer, signed by `key` (default: its own)."""
    proposer = VALIDATORS.proposer(height, round_)
    signer = key if key is not None else KEY_OF[proposer]
    signed = sign_proposal(signer, CHAIN_ID, height, round_, -1, BLOCK)
    return Proposal(height, round_, -1, BLOCK, proposer, signed.signature)


def test_messages_signed_by_whom_they_name_pass() -> None:
    check_authentic(precommit(KEYS[0]), CHAIN_ID, VALIDATORS)
    check_authentic(precommit(KEYS[1], height=10**12, block_hash=None), CHAIN_ID, VALIDATORS)
    check_authentic(proposal(7, 2), CHAIN_ID, VALIDATORS)
    certificate = certificate_from_votes(precommit(k) for k in KEYS[:3])
    check_authentic(Commit(BLOCK, certificate), CHAIN_ID, VALIDATORS)


def test_a_vote_of_an_outsider_or_with_another_signer_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="non-validator"):
        check_authentic(precommit(OUTSIDER), CHAIN_ID, VALIDATORS)
    honest = precommit(KEYS[0])
    claimed = Vote(honest.kind, honest.height, honest.round, honest.block_hash,
                   private_key_to_address(KEYS[1]), honest.signature)  # fmt: skip
    with pytest.raises(InvalidMessage, match="signature"):
        check_authentic(claimed, CHAIN_ID, VALIDATORS)
    with pytest.raises(InvalidMessage, match="signature"):
        check_authentic(honest, CHAIN_ID + 1, VALIDATORS)  # signed for another chain


def test_a_proposal_not_from_the_rounds_proposer_is_refused() -> None:
    proposer = VALIDATORS.proposer(7, 2)
    other = next(k for a, k in KEY_OF.items() if a != proposer)
    with pytest.raises(InvalidMessage, match="signature"):
        check_authentic(proposal(7, 2, key=other), CHAIN_ID, VALIDATORS)
    own = sign_proposal(other, CHAIN_ID, 7, 2, -1, BLOCK)  # correctly signed, wrong round
    with pytest.raises(InvalidMessage, match="proposer"):
        check_authentic(own, CHAIN_ID, VALIDATORS)
    signed = proposal(7, 2)
    too_late = Proposal(7, 2, 2, BLOCK, signed.proposer, signed.signature)
    with pytest.raises(InvalidMessage, match="pol round"):
        check_authentic(too_late, CHAIN_ID, VALIDATORS)


def test_a_commit_without_a_quorum_or_for_another_block_is_refused() -> None:
    two = certificate_from_votes(precommit(k) for k in KEYS[:2])
    with pytest.raises(InvalidMessage, match="2/3"):
        check_authentic(Commit(BLOCK, two), CHAIN_ID, VALIDATORS)
    three = certificate_from_votes(precommit(k) for k in KEYS[:3])
    other = BlockValue(keccak256(b"other"), b"other bytes")
    with pytest.raises(InvalidMessage, match="does not match"):
        check_authentic(Commit(other, three), CHAIN_ID, VALIDATORS)
