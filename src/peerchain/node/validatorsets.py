"""The validator set of each height and the open proposals, read from the governance
contract in the chain state (`core.governance`).

The set of height H is decided by the state of block H - 2 (block 0 for heights 1 and
2): `validators_at(H)` called on it. So a node working on height h knows the sets of h
and h + 1 from what it has committed, and every node that committed the same blocks
reads the same sets. Sets are cached per height (a set never changes once its block is
committed).
"""

from __future__ import annotations

from collections import OrderedDict

from peerchain.core.consensus.validators import ACTIVATION_DELAY, ValidatorSet
from peerchain.core.errors import DecodeError, PeerChainError
from peerchain.core.governance import (
    GOVERNANCE_ADDRESS,
    OPEN_PROPOSALS,
    OpenProposal,
    decode_open_proposals,
    decode_validators,
    validators_at_call,
)
from peerchain.core.queries import CallRequest
from peerchain.node.ledger import Ledger

CACHED_SETS = 256


class GovernanceError(PeerChainError):
    """The governance contract could not be read: a local fault (a genesis without it, or
    a damaged state), never a peer's."""


class ChainValidatorSets:
    """`ValidatorSets` over a ledger: call it with a height."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._cache: OrderedDict[int, ValidatorSet] = OrderedDict()

    def __call__(self, height: int) -> ValidatorSet | None:
        """The set that signs `height`; None while block `height - 2` is not committed.

        Raises GovernanceError."""
        height = max(height, 1)
        found = self._cache.get(height)
        if found is not None:
            return found
        deciding = max(height - ACTIVATION_DELAY, 0)
        if deciding > self.ledger.head.number:
            return None
        header = self.ledger.engine.get_header_by_number(deciding)
        if header is None:
            return None
        answer = self._call(validators_at_call(height), deciding)
        try:
            found = decode_validators(answer)
        except DecodeError as exc:
            raise GovernanceError(f"validator set of height {height}: {exc}") from exc
        self._cache[height] = found
        while len(self._cache) > CACHED_SETS:
            self._cache.popitem(last=False)
        return found

    def open_proposals(self, number: int) -> list[OpenProposal]:
        """The proposals open after block `number`. Raises GovernanceError."""
        try:
            return decode_open_proposals(self._call(OPEN_PROPOSALS, number))
        except DecodeError as exc:
            raise GovernanceError(f"open proposals: {exc}") from exc

    def _call(self, data: bytes, number: int) -> bytes:
        header = self.ledger.engine.get_header_by_number(number)
        if header is None:
            raise GovernanceError(f"no block {number}")
        try:
            return self.ledger.engine.call(CallRequest(to=GOVERNANCE_ADDRESS, data=data), header)
        except PeerChainError as exc:
            raise GovernanceError(
                f"the governance contract failed at block {number}: {exc}"
            ) from exc
