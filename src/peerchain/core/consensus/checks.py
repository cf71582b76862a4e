"""What can be checked of a consensus message without consensus state.

The machine runs these before counting a message; a node runs `check_authentic` before
relaying gossip, so that it never passes on a forgery (and is not blamed for one).
"""

from __future__ import annotations

from collections.abc import Callable

from peerchain.core.consensus.certificate import Commit, verify_certificate
from peerchain.core.consensus.messages import (
    HASH_SIZE,
    BlockValue,
    InvalidMessage,
    Proposal,
    Vote,
    proposal_signer,
    vote_signer,
)
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.consensus.wire import ConsensusMessage

# The application's binding of a block's bytes to its hash: raises InvalidMessage when
# `data` is not the block that `hash` names. A proposal signs the hash only, so without
# this any relaying peer could pair a real signature with a forged body.
ValueCheck = Callable[[BlockValue], None]


def check_vote(vote: Vote, chain_id: int, validators: ValidatorSet) -> None:
    """A vote is signed, for this chain, by the validator it names. Raises InvalidMessage."""
    if vote.validator not in validators:
        raise InvalidMessage("vote from a non-validator")
    if vote_signer(chain_id, vote) != vote.validator:
        raise InvalidMessage("vote signature does not match its validator")


def check_proposal(
    proposal: Proposal,
    chain_id: int,
    validators: ValidatorSet,
    check_value: ValueCheck | None = None,
) -> None:
    """A proposal is well formed, signed by the proposer of its (height, round), and
    (with `check_value`) its block's bytes are those of the signed hash.
    Raises InvalidMessage."""
    if not -1 <= proposal.pol_round < proposal.round or len(proposal.block.hash) != HASH_SIZE:
        raise InvalidMessage("proposal with a bad pol round or block hash")
    if proposal.proposer != validators.proposer(proposal.height, proposal.round):
        raise InvalidMessage(
            f"proposal not from the proposer of {proposal.height}/{proposal.round}"
        )
    if proposal_signer(chain_id, proposal) != proposal.proposer:
        raise InvalidMessage("proposal signature does not match its proposer")
    if check_value is not None:
        check_value(proposal.block)


def check_authentic(
    message: ConsensusMessage,
    chain_id: int,
    validators: ValidatorSet,
    check_value: ValueCheck | None = None,
) -> None:
    """Check a vote, a proposal, or a commit (its certificate holds more than 2/3 of the
    power for its block); with `check_value`, also the block bytes of a proposal or
    commit against their hash. Raises InvalidMessage."""
    match message:
        case Vote():
            check_vote(message, chain_id, validators)
        case Proposal():
            check_proposal(message, chain_id, validators, check_value)
        case Commit(block, certificate):
            if block.hash != certificate.block_hash:
                raise InvalidMessage("commit block does not match its certificate")
            verify_certificate(certificate, validators, chain_id)
            if check_value is not None:
                check_value(block)
