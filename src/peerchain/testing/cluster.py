"""run_cluster: n validators in one process on virtual time, under a fault scenario.

Every node runs the real consensus machine and the KV application. The invariant
checker runs after every message a node handles (and every timer it fires) and the run
stops at the first violation. Once the network has healed and every crashed node is
back (`Faults.stable_from`), each correct node must commit `heights` more blocks, never
waiting more than `liveness_bound` virtual seconds for the next one; otherwise the run
reports a liveness violation.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from peerchain.core.consensus.messages import Proposal
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.consensus.votes import Evidence
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.genesis import ConsensusTimeouts, Validator
from peerchain.testing.byzantine import (
    ByzantinePlan,
    Equivocation,
    ForgedRelay,
    OldVoteReplay,
    UnknownBlocks,
    VoteFlood,
    Withhold,
)
from peerchain.testing.checker import InvariantChecker
from peerchain.testing.clock import SimClock
from peerchain.testing.faults import Behaviour, Faults
from peerchain.testing.network import SimNetwork
from peerchain.testing.simnode import SimContext, SimNode

SIM_TIMEOUTS = ConsensusTimeouts(
    propose_ms=1000,
    propose_delta_ms=500,
    prevote_ms=500,
    prevote_delta_ms=250,
    precommit_ms=500,
    precommit_delta_ms=250,
    commit_ms=0,
)


@cache
def validator_key(index: int) -> tuple[bytes, bytes]:
    """The fixed (private key, address) of simulated validator `index`."""
    key = keccak256(b"peerchain simulated validator %d" % index)
    return key, private_key_to_address(key)


@dataclass
class ClusterResult:
    """What a run did; `violations` is empty when every check held."""

    n: int
    seed: int
    faults: Faults
    violations: list[str]
    nodes: list[SimNode]
    correct: frozenset[int]
    proposed: dict[bytes, Proposal]
    first_proposal_at: dict[int, float]
    stable_from: float
    end_time: float
    delivered: int
    sent: int
    dropped: int
    max_wait: float = 0.0
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def evidence(self) -> dict[int, list[Evidence]]:
        return {node.index: node.evidence for node in self.nodes}

    def describe(self) -> str:
        """One line to reproduce and judge the run."""
        heights = [node.height for node in self.nodes]
        return (
            f"seed={self.seed} n={self.n} faults={self.faults} heights={heights} "
            f"end={self.end_time:.1f}s violations={self.violations}"
        )


class _Run:
    """The state of one run_cluster call."""

    def __init__(
        self,
        n: int,
        seed: int,
        faults: Faults,
        heights: int,
        liveness_bound: float,
        timeouts: ConsensusTimeouts,
        powers: Sequence[int] | None,
        chain_id: int,
        planned: Mapping[int, Sequence[tuple[int, int]]],
        jail: bool,
        transactions_waiting: float,
        check_time: float,
    ) -> None:
        self.faults = faults
        self.heights = heights
        self.liveness_bound = liveness_bound
        self.clock = SimClock()
        self.rng = random.Random(seed)
        keys = [validator_key(i) for i in range(n)]
        powers = powers or [1] * n
        validators = ValidatorSet(Validator(a, p) for (_, a), p in zip(keys, powers, strict=True))
        self.delivered = 0
        network = SimNetwork(self.clock, self.rng, faults.network, self._deliver)
        self.proposed: dict[bytes, Proposal] = {}
        self.first_proposal_at: dict[int, float] = {}
        context = SimContext(
            clock=self.clock,
            network=network,
            validators=validators,
            timeouts=timeouts,
            chain_id=chain_id,
            addresses=[a for _, a in keys],
            index_of={a: i for i, (_, a) in enumerate(keys)},
            proposed=self.proposed,
            first_proposal_at=self.first_proposal_at,
            rng=self.rng,
            on_proposer_crash=self._on_proposer_crash,
            planned={
                height: [(keys[node][1], power) for node, power in changes]
                for height, changes in planned.items()
            },
            jail=jail,
            transactions_waiting=transactions_waiting,
            check_time=check_time,
        )
        self.correct = frozenset(range(n)) - faults.faulty
        plans = _plans(faults.byzantine, self.correct, self.rng)
        self.nodes = [
            SimNode(i, key, address, context, plans.get(i)) for i, (key, address) in enumerate(keys)
        ]
        for node in self.nodes:
            node.keep_last_signed = faults.last_signed
        self.checker = InvariantChecker(
            self.nodes, self.correct, validators, chain_id, self.proposed
        )
        self.network = network
        self.relays = [
            ForgedRelay(i, sorted(self.correct), self._deliver_now)
            for i, b in faults.byzantine.items()
            if b is Behaviour.FORGED_RELAY
        ]
        if self.relays:
            network.tap = self._tap
        self._correct_nodes = [self.nodes[i] for i in sorted(self.correct)]
        self.stable_from = faults.stable_from
        self.proposer_crash_pending = faults.crash_proposer is not None
        self.height_crashes = list(faults.height_crashes)
        self.crashed_at: dict[tuple[int, int], float] = {}
        self.target: int | None = None

    def _deliver(self, dst: int, src: int, message: object) -> None:
        node = self.nodes[dst]
        if node.alive:
            self.delivered += 1
            node.receive(src, message)
            self.checker.check(node)
            if self.height_crashes:
                self._crash_at_heights()

    def _crash_at_heights(self) -> None:
        for crash in list(self.height_crashes):
            node = self.nodes[crash.node]
            if node.height >= crash.height and node.alive:
                self.height_crashes.remove(crash)
                self.crashed_at[(crash.node, crash.height)] = self.clock.now
                node.crash(self.faults.torn_wal)
                back = self.clock.now + crash.downtime
                self.stable_from = max(self.stable_from, back)
                self.clock.call_at(back, self._restart, node)

    def _deliver_now(self, dst: int, src: int, message: object) -> None:
        """Deliver ahead of everything in flight (a relay with a faster path)."""
        self.clock.call_at(self.clock.now, self._deliver, dst, src, message)

    def _tap(self, src: int, dst: int, message: object) -> None:
        for relay in self.relays:
            relay.tap(src, dst, message)

    def _on_proposer_crash(self, node: SimNode) -> None:
        crash = self.faults.crash_proposer
        assert crash is not None
        for other in self.nodes:
            other.crash_after_proposal = None
        self.proposer_crash_pending = False
        back = self.clock.now + crash.downtime
        self.stable_from = max(self.stable_from, back)
        self.clock.call_at(back, self._restart, node)

    def _restart(self, node: SimNode) -> None:
        if not node.alive and node.halted is None:
            node.restarts += 1
            node.start()
            self.checker.check(node)

    def schedule(self) -> None:
        faults, clock = self.faults, self.clock
        for node in self.nodes:
            if faults.byzantine.get(node.index) is not Behaviour.SILENT:
                clock.call_at(0.0, node.start)
            if faults.crash_proposer is not None and node.index in self.correct:
                node.crash_after_proposal = (
                    faults.crash_proposer.height,
                    faults.crash_proposer.sent_to,
                )
        for crash in faults.crashes:
            clock.call_at(
                crash.at, self.nodes[crash.node].crash, faults.torn_wal, faults.wal_damage
            )
            clock.call_at(crash.restart_at, self._restart, self.nodes[crash.node])

    def done(self) -> bool:
        if self.checker.violations:
            return True
        now = self.clock.now
        if (
            self.height_crashes
            and now > self.stable_from + (self.heights + 1) * self.liveness_bound
        ):
            self.checker.violations.append(
                f"liveness: no node reached the height of the crashes {self.height_crashes}"
            )
            return True
        if self.proposer_crash_pending or self.height_crashes or now < self.stable_from:
            return False
        correct = self._correct_nodes
        if self.target is None:
            self.target = max(node.height for node in correct) + self.heights
        if now > self.stable_from + (self.heights + 1) * self.liveness_bound:
            return True
        return all(node.height >= self.target for node in correct)

    def liveness(self) -> float:
        """Check progress after `stable_from`; return the longest wait for a commit."""
        longest = 0.0
        for i in sorted(self.correct):
            node = self.nodes[i]
            last = self.stable_from
            for t in node.commit_times:
                if t >= self.stable_from:
                    longest = max(longest, t - last)
                    last = t
            if self.target is not None and node.height < self.target:
                longest = max(longest, self.clock.now - last)
                self.checker.violations.append(
                    f"liveness: node {i} is at height {node.height} of {self.target} "
                    f"at {self.clock.now:.1f}s (stable from {self.stable_from:.1f}s)"
                )
            elif longest > self.liveness_bound:
                self.checker.violations.append(
                    f"liveness: node {i} waited {longest:.1f}s for a commit after healing"
                )
        return longest


def _plans(
    byzantine: Mapping[int, Behaviour], correct: frozenset[int], rng: random.Random
) -> dict[int, ByzantinePlan]:
    coalition = Equivocation(sorted(correct), rng)
    plans: dict[int, ByzantinePlan] = {}
    for index, behaviour in byzantine.items():
        if behaviour is Behaviour.EQUIVOCATE:
            plans[index] = coalition
        elif behaviour is Behaviour.UNKNOWN_BLOCKS:
            plans[index] = UnknownBlocks(rng)
        elif behaviour is Behaviour.WITHHOLD:
            plans[index] = Withhold(rng)
        elif behaviour is Behaviour.VOTE_FLOOD:
            plans[index] = VoteFlood()
        elif behaviour is Behaviour.OLD_VOTE_REPLAY:
            plans[index] = OldVoteReplay()
    return plans


def run_cluster(
    n: int,
    seed: int,
    faults: Faults | None = None,
    *,
    heights: int = 3,
    liveness_bound: float = 30.0,
    timeouts: ConsensusTimeouts = SIM_TIMEOUTS,
    powers: Sequence[int] | None = None,
    chain_id: int = 1337,
    set_changes: Mapping[int, Sequence[tuple[int, int]]] | None = None,
    jail: bool = False,
    transactions_waiting: float = 0.0,
    check_time: float = 0.0,
) -> ClusterResult:
    """Run `n` validators under `faults` (default: none) until every correct node has
    committed `heights` blocks after `stable_from`, a check fails, or liveness runs out.

    `set_changes` maps a height to the `(node index, power)` changes of the validator
    set its block decides (power 0 removes; effective two heights later). With `jail`,
    proposers remove the double signers they saw the same way. `transactions_waiting`
    is the chance per node and height that transactions wait for the next block (with a
    `commit_ms` pause, round 0 may then start early: see the consensus machine);
    `check_time` the longest a proposal's check takes (seeded per check)."""
    faults = faults or Faults()
    run = _Run(
        n, seed, faults, heights, liveness_bound, timeouts, powers, chain_id, set_changes or {},
        jail, transactions_waiting, check_time,
    )  # fmt: skip
    run.schedule()
    run.clock.run(float("inf"), run.done)
    longest = 0.0 if run.checker.violations else run.liveness()
    return ClusterResult(
        n=n,
        seed=seed,
        faults=faults,
        violations=run.checker.violations,
        nodes=run.nodes,
        correct=run.correct,
        proposed=run.proposed,
        first_proposal_at=run.first_proposal_at,
        stable_from=run.stable_from,
        end_time=run.clock.now,
        delivered=run.delivered,
        sent=run.network.sent,
        dropped=run.network.dropped,
        max_wait=longest,
        notes={"forged": sum(r.forged for r in run.relays), "crashed_at": run.crashed_at},
    )
