"""Block bookkeeping of one height: the proposals by round, the bodies that peers' commits
certified, and the application's verdict on each block value.

Verdicts are kept per block value (hash and bytes), so a forged copy of a block does not
taint the real one, and each value is validated once: `needs_verdict` says when to ask
the application, `record_verdict` takes its answer. A round keeps at most
`MAX_VALUES_PER_VALIDATOR` different blocks (more come only from an equivocating
proposer, and the first two are the evidence); `forget_round` drops a round that left
the vote window, with the verdicts of blocks nothing else holds.
"""

from __future__ import annotations

from peerchain.core.consensus.messages import BlockValue, Proposal
from peerchain.core.consensus.votes import MAX_VALUES_PER_VALIDATOR, Added


class HeightProposals:
    """Proposals, certified bodies and verdicts of the height being decided."""

    __slots__ = ("_by_round", "_certified", "_validating", "_validity")

    def __init__(self) -> None:
        self._by_round: dict[int, dict[bytes, Proposal]] = {}
        self._certified: dict[bytes, BlockValue] = {}
        self._validity: dict[BlockValue, bool] = {}
        self._validating: set[BlockValue] = set()

    # --- proposals --------------------------------------------------------------------------

    def __contains__(self, proposal: Proposal) -> bool:
        """Whether this exact proposal (same signature and body) is kept."""
        return self._by_round.get(proposal.round, {}).get(proposal.block.hash) == proposal

    def add(self, proposal: Proposal) -> Added:
        """Keep a checked proposal: NEW if it is its round's first, CONFLICT if the round
        holds another block (the first is `first(round)`), DUPLICATE for a block the round
        holds already (another pol round), DROPPED beyond what a round keeps."""
        known = self._by_round.setdefault(proposal.round, {})
        if not known:
            outcome = Added.NEW
        elif proposal.block.hash in known:
            return Added.DUPLICATE
        elif len(known) >= MAX_VALUES_PER_VALIDATOR:
            return Added.DROPPED
        else:
            outcome = Added.CONFLICT
        known[proposal.block.hash] = proposal
        return outcome

    def first(self, round: int) -> Proposal | None:
        """The first proposal kept for `round`."""
        return next(iter(self._by_round.get(round, {}).values()), None)

    def of_round(self, round: int) -> tuple[Proposal, ...]:
        """Every proposal kept for `round`, first first."""
        return tuple(self._by_round.get(round, {}).values())

    def get(self, round: int, block_hash: bytes) -> Proposal | None:
        """The proposal of `block_hash` in `round`, if kept."""
        return self._by_round.get(round, {}).get(block_hash)

    def block(self, round: int, block_hash: bytes) -> BlockValue | None:
        """The block proposed in `round` with `block_hash`, if kept."""
        found = self.get(round, block_hash)
        return found.block if found is not None else None

    def rounds(self) -> list[int]:
        """The rounds with proposals, highest first."""
        return sorted(self._by_round, reverse=True)

    def forget_round(self, round: int, keep: BlockValue | None) -> None:
        """Drop the proposals of `round`, and the verdicts on their blocks unless another
        round, a commit or `keep` (the valid value) still holds them."""
        dropped = self._by_round.pop(round, {})
        kept = {p.block for known in self._by_round.values() for p in known.values()}
        kept.update(self._certified.values())
        for proposal in dropped.values():
            if proposal.block not in kept and proposal.block != keep:
                self._validity.pop(proposal.block, None)
                self._validating.discard(proposal.block)

    # --- bodies certified by commits ---------------------------------------------------------

    def certify(self, block: BlockValue) -> bool:
        """A commit certified `block`'s hash: keep its body unless one already kept has not
        been found invalid. True if it was kept (it then needs a verdict)."""
        held = self._certified.get(block.hash)
        if held is not None and self._validity.get(held) is not False:
            return False
        self._certified[block.hash] = block
        return True

    def certified(self, block_hash: bytes) -> BlockValue | None:
        return self._certified.get(block_hash)

    # --- verdicts ----------------------------------------------------------------------------

    def verdict(self, block: BlockValue) -> bool | None:
        """The application's verdict on `block`: valid, invalid, or not known yet."""
        return self._validity.get(block)

    def needs_verdict(self, block: BlockValue) -> bool:
        """True the first time a verdict on `block` is needed (ask the application then)."""
        if block in self._validity or block in self._validating:
            return False
        self._validating.add(block)
        return True

    def record_verdict(self, block: BlockValue, valid: bool) -> None:
        """The application's answer to a request made through `needs_verdict` (others,
        late answers about forgotten blocks, are ignored)."""
        if block in self._validating:
            self._validity[block] = valid
            self._validating.discard(block)

    def built(self, block: BlockValue) -> None:
        """This node's application built and executed `block`: it is valid."""
        self._validity[block] = True

    @property
    def awaiting(self) -> int:
        """How many verdicts are asked for and not answered yet."""
        return len(self._validating)
