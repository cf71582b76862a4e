"""The Application protocol: what consensus needs from the execution layer.

Consensus treats a block as opaque bytes plus a 32-byte hash (`BlockValue`). The
application gives them meaning and executes every block before a vote is cast on it:

- the proposer executes the block it builds (`prepare_proposal`) before proposing it;
- every validator executes a received block (`validate_proposal`) before prevoting for
  it, and prevotes nil when that fails;
- `commit` persists the result computed by one of those two calls, with the block's
  commit certificate, in one atomic write. It does not execute again.

The node calls these when the machine outputs `PrepareBlock`, `ValidateBlock` and
`CommitBlock`, and feeds the answers back as `BlockPrepared` and `ProposalValidated`.
Calls come in height order; a block is committed only after it was prepared or validated
at that height by the same process, but a process that restarted may be asked to
validate a block again.
"""

from __future__ import annotations

from typing import Protocol

from peerchain.core.consensus.certificate import CommitCertificate
from peerchain.core.consensus.messages import BlockValue


class Application(Protocol):
    """The execution layer as consensus sees it."""

    def prepare_proposal(self, height: int, round: int) -> BlockValue:
        """Build a block for `height` on top of the last committed block from the
        mempool, execute it, keep the result for `commit`, and return it."""
        ...

    def validate_proposal(self, height: int, block: BlockValue) -> bool:
        """Decode and execute `block`, received for `height`; keep the result for
        `commit`. False when it is invalid: its bytes do not hash to `block.hash`, a wrong
        parent or height, a failing transaction, a state root that does not match. The
        block may have been built in an earlier round by another proposer (a re-proposed
        valid value), so its builder is not checked against the current proposer."""
        ...

    def commit(self, height: int, block: BlockValue, certificate: CommitCertificate) -> None:
        """Persist `block`, its certificate and its execution result atomically."""
        ...
