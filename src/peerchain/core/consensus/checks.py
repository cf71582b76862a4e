"""What can be checked of a consensus message without consensus state.

The machine runs these before counting a message; a node runs `check_authentic` before
relaying gossip, so that it never passes on a forgery (and is not blamed for one).
"""

from __future__ import annotations

from peerchain.core.consensus.certificate import Commit, verify_certificate
from peerchain.core.consensus.messages import (
    HASH_SIZE,
    InvalidMessage,
    Proposal,
    Vote,
    proposal_signer,
    vote_signer,
)
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.consensus.wire import ConsensusMessage


def check_vote(vote: Vote, chain_id: int, validators: ValidatorSet) -> None:
    """A vote is signed, for this chain, by the validator it names. Raises InvalidMessage."""
    if vote.validator not in validators:
        raise InvalidMessage("vote from a non-validator")
    if vote_signer(chain_id, vote) != vote.validator:
        raise InvalidMessage("vote signature does not match its validator")


def check_proposal(proposal: Proposal, chain_id: int, validators: ValidatorSet) -> None:
    """A proposal is well formed and signed by the proposer of its (height, round).
    Raises InvalidMessage."""
    if not -1 <= proposal.pol_round < proposal.round or len(proposal.block.hash) != HASH_SIZE:
        raise InvalidMessage("proposal with a bad pol round or block hash")
    if proposal.proposer != validators.proposer(proposal.height, proposal.round):
        raise InvalidMessage(
            f"proposal not from the proposer of {proposal.height}/{proposal.round}"
        )
    if proposal_signer(chain_id, proposal) != proposal.proposer:
        raise InvalidMessage("proposal signature does not match its proposer")


def check_authentic(message: ConsensusMessage, chain_id: int, validators: ValidatorSet) -> None:
    """Check a vote, a proposal, or a commit (its certificate holds more than 2/3 of the
    power for its block). Raises InvalidMessage."""
    match message:
        case Vote():
            check_vote(message, chain_id, validators)
        case Proposal():
            check_proposal(message, chain_id, validators)
        case Commit(block, certificate):
            if block.hash != certificate.block_hash:
                raise InvalidMessage("commit block does not match its certificate")
            verify_certificate(certificate, validators, chain_id)
