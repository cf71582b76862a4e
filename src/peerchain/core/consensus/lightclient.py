"""A light client's rule for following validator set changes, without executing blocks.

It trusts one set (the genesis's, or one it checked before) for a height h. For each
block it is given the block's commit certificate and, from the block's header, the
hash of the next height's set (`parentBeaconBlockRoot`, see docs/architecture.md):
the certificate must hold more than 2/3 of the trusted set's power, and the next set
it is offered (from any untrusted source, e.g. `peerchain_validators`) must hash to
what the certified header commits to. The caller checks that the header hashes to the
certificate's block hash before taking the commitment from it.
"""

from __future__ import annotations

from peerchain.core.consensus.certificate import CommitCertificate, verify_certificate
from peerchain.core.consensus.messages import InvalidMessage
from peerchain.core.consensus.validators import ValidatorSet, validator_set_hash


class LightClient:
    """The trusted validator set of `height` on chain `chain_id`."""

    def __init__(self, chain_id: int, height: int, trusted: ValidatorSet) -> None:
        self.chain_id = chain_id
        self.height = height
        self.trusted = trusted

    def advance(
        self, certificate: CommitCertificate, next_set_hash: bytes, next_set: ValidatorSet
    ) -> None:
        """Accept block `height` and move on to trusting `next_set` for `height + 1`.

        Raises InvalidMessage (nothing changes) if the certificate is not for this height
        or lacks a quorum of the trusted set, or `next_set` is not the one committed."""
        if certificate.height != self.height:
            raise InvalidMessage(f"certificate of height {certificate.height}, not {self.height}")
        verify_certificate(certificate, self.trusted, self.chain_id)
        if validator_set_hash(next_set) != next_set_hash:
            raise InvalidMessage(
                f"the validator set offered for height {self.height + 1} is not the one "
                "the certified block commits to"
            )
        self.height += 1
        self.trusted = next_set
