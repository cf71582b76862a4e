"""Byzantine validators: what they send instead of what their honest machine broadcasts.

A Byzantine node runs the real machine (so it follows the protocol's timing) and its
outgoing broadcasts are rewritten here; it feeds back the original to its own machine.

- `Equivocation` is shared by all equivocating validators, which act as a coalition:
  the correct nodes are split into two camps; every proposal gets a twin block (valid
  too) and camp B is shown the twin, and votes for the twin, while camp A and the
  coalition see the original; a vote for a block without a twin becomes a nil vote for
  camp B. One correct node, chosen per message, is sent both versions, so equivocation
  is visible. With at most f equivocators this cannot break safety; with more it can,
  which is what the checker's negative control needs.
- `UnknownBlocks` votes for random hashes nobody proposed and proposes blocks whose bytes
  do not match their state root.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from peerchain.core.consensus.messages import (
    BlockValue,
    Proposal,
    Vote,
    sign_proposal,
    sign_vote,
)
from peerchain.core.crypto import keccak256
from peerchain.testing.kvstore import KVApplication

Outgoing = list[tuple[int, Proposal | Vote]]


class Sender(Protocol):
    """What a plan needs to know about the misbehaving node."""

    index: int
    key: bytes
    address: bytes
    chain_id: int
    app: KVApplication | None


class ByzantinePlan(Protocol):
    def rewrite(self, node: Sender, message: Proposal | Vote, peers: Sequence[int]) -> Outgoing:
        """The (destination, message) pairs to send instead of broadcasting `message`."""
        ...


class Equivocation:
    """The coalition plan of the equivocating validators."""

    def __init__(self, correct: Sequence[int], rng: random.Random) -> None:
        ordered = sorted(correct)
        self.camp_b = frozenset(ordered[1::2])
        self._correct = ordered
        self._twins: dict[bytes, BlockValue] = {}
        self._rng = rng

    def _twin(self, node: Sender, proposal: Proposal) -> BlockValue:
        twin = self._twins.get(proposal.block.hash)
        if twin is None:
            assert node.app is not None
            twin = node.app.build_block(proposal.height, proposal.round, salt=1 + len(self._twins))
            self._twins[proposal.block.hash] = twin
            self._twins[twin.hash] = proposal.block
        return twin

    def rewrite(self, node: Sender, message: Proposal | Vote, peers: Sequence[int]) -> Outgoing:
        other: Proposal | Vote
        if isinstance(message, Proposal):
            m = message
            twin = self._twin(node, m)
            other = sign_proposal(
                node.key, node.chain_id, m.height, m.round, m.pol_round, twin,
                proposer=node.address,
            )  # fmt: skip
        else:
            v = message
            twin_block = self._twins.get(v.block_hash) if v.block_hash else None
            other = sign_vote(
                node.key, node.chain_id, v.kind, v.height, v.round,
                twin_block.hash if twin_block else None, validator=node.address,
            )  # fmt: skip
        witness = self._rng.choice(self._correct) if self._correct else -1
        out: Outgoing = []
        for peer in peers:
            out.append((peer, other if peer in self.camp_b else message))
            if peer == witness and other != message:
                out.append((peer, message if peer in self.camp_b else other))
        return out


class UnknownBlocks:
    """Votes for blocks nobody has, proposals nobody can execute."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def rewrite(self, node: Sender, message: Proposal | Vote, peers: Sequence[int]) -> Outgoing:
        forged: Proposal | Vote
        if isinstance(message, Proposal):
            data = message.block.data + b"\xff"  # breaks the block's layout
            forged = sign_proposal(
                node.key, node.chain_id, message.height, message.round, message.pol_round,
                BlockValue(keccak256(data), data), proposer=node.address,
            )  # fmt: skip
        else:
            forged = sign_vote(
                node.key, node.chain_id, message.kind, message.height, message.round,
                self._rng.randbytes(32), validator=node.address,
            )  # fmt: skip
        return [(peer, forged) for peer in peers]
