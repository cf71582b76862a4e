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
- `Withhold` shows its proposals to half of its peers only.
- `VoteFlood` sends, with every vote, signed nil votes for the next `FLOOD_ROUNDS` rounds
  and copies of the vote itself.
- `OldVoteReplay` sends, with every message, the votes it signed at older heights.

`ForgedRelay` is not a validator's plan but a relaying peer's: it sees every proposal as
it leaves its proposer and gets a copy with the same signature and a forged body to
each correct node before the real one arrives.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from peerchain.core.consensus.messages import (
    BlockValue,
    Proposal,
    Vote,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from peerchain.core.crypto import keccak256
from peerchain.testing.kvstore import KVApplication
from peerchain.testing.network import Deliver

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


class Withhold:
    """A proposer that sends its proposal to a random half of its peers."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def rewrite(self, node: Sender, message: Proposal | Vote, peers: Sequence[int]) -> Outgoing:
        if isinstance(message, Proposal):
            shown = self._rng.sample(list(peers), len(peers) // 2)
            return [(peer, message) for peer in shown]
        return [(peer, message) for peer in peers]


FLOOD_ROUNDS = 10
FLOOD_COPIES = 5


class VoteFlood:
    """Every vote comes with signed nil votes for many rounds ahead, and copies."""

    def rewrite(self, node: Sender, message: Proposal | Vote, peers: Sequence[int]) -> Outgoing:
        out: Outgoing = [(peer, message) for peer in peers for _ in range(FLOOD_COPIES)]
        if isinstance(message, Vote):
            for r in range(message.round + 2, message.round + 2 + FLOOD_ROUNDS):
                for kind in VoteKind:
                    flood = sign_vote(
                        node.key, node.chain_id, kind, message.height, r, None,
                        validator=node.address,
                    )  # fmt: skip
                    out += [(peer, flood) for peer in peers]
        return out


REPLAYED = 24


class OldVoteReplay:
    """Every message comes with the votes this validator signed at older heights."""

    def __init__(self) -> None:
        self._signed: list[Vote] = []

    def rewrite(self, node: Sender, message: Proposal | Vote, peers: Sequence[int]) -> Outgoing:
        old = [v for v in self._signed if v.height < message.height][-REPLAYED:]
        if isinstance(message, Vote):
            self._signed.append(message)
            self._signed = self._signed[-4 * REPLAYED :]
        return [(peer, m) for peer in peers for m in (message, *old)]


class ForgedRelay:
    """Gives each proposal it sees leave a proposer a twin with the same signature and a
    forged body, delivered first (`deliver(dst, src, message)` at once)."""

    def __init__(self, index: int, correct: Sequence[int], deliver: Deliver) -> None:
        self.index = index
        self.forged = 0
        self._correct = set(correct)
        self._deliver = deliver

    def tap(self, src: int, dst: int, message: object) -> None:
        if not isinstance(message, Proposal) or dst not in self._correct:
            return
        m = message
        body = BlockValue(m.block.hash, m.block.data[:-1] + bytes([m.block.data[-1] ^ 1]))
        forged = Proposal(m.height, m.round, m.pol_round, body, m.proposer, m.signature)
        self.forged += 1
        self._deliver(dst, self.index, forged)
