"""What can go wrong in a simulated cluster, and seeded choices of it.

`Faults` lists Byzantine validators (by node index), crash-restarts (at a time, or when
a node has committed a height), a mid-round crash of a proposer, and the network's
behaviour. `random_faults(n, seed, kind)` builds one
scenario of a given kind with f = (n - 1) // 3 faulty validators and a randomly rough
network (delay, jitter, loss, duplication, reordering, and sometimes a partition) that
heals at a random global stabilization time.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from peerchain.testing.memwal import WalDamage
from peerchain.testing.network import NetworkConfig


class Behaviour(Enum):
    """How a Byzantine validator misbehaves."""

    SILENT = "silent"  # never sends anything
    EQUIVOCATE = "equivocate"  # two proposals and two votes, to different camps
    UNKNOWN_BLOCKS = "unknown_blocks"  # votes for blocks nobody proposed, invalid proposals
    WITHHOLD = "withhold"  # its proposals reach half of its peers
    VOTE_FLOOD = "vote_flood"  # nil votes for many rounds ahead, and copies of each vote
    OLD_VOTE_REPLAY = "old_vote_replay"  # its votes of older heights, again and again
    FORGED_RELAY = "forged_relay"  # relays every proposal first with a forged body


@dataclass(frozen=True, slots=True)
class Crash:
    """Node `node` stops at `at` and restarts from its disk (WAL and chain) at `restart_at`."""

    node: int
    at: float
    restart_at: float


@dataclass(frozen=True, slots=True)
class HeightCrash:
    """Node `node` stops when it has committed `height` and restarts `downtime` later."""

    node: int
    height: int
    downtime: float


@dataclass(frozen=True, slots=True)
class CrashProposer:
    """The node that first proposes at `height` crashes right after persisting its
    proposal, having sent it to `sent_to` of its peers, and is back `downtime` later."""

    height: int
    sent_to: int
    downtime: float


@dataclass(frozen=True, slots=True)
class Faults:
    """One fault scenario; `torn_wal` makes every crash leave a torn record at the WAL's end,
    `wal_damage` damages the WAL at every crash, and `last_signed` False takes away the
    validators' last-signed records (a negative control: they do sign twice then)."""

    byzantine: Mapping[int, Behaviour] = field(default_factory=dict)
    crashes: tuple[Crash, ...] = ()
    crash_proposer: CrashProposer | None = None
    height_crashes: tuple[HeightCrash, ...] = ()
    torn_wal: bool = True
    wal_damage: WalDamage | None = None
    last_signed: bool = True
    network: NetworkConfig = field(default_factory=NetworkConfig)

    @property
    def faulty(self) -> frozenset[int]:
        """Nodes not counted as correct: the Byzantine ones (crashed nodes come back)."""
        return frozenset(self.byzantine)

    @property
    def stable_from(self) -> float:
        """When the network has healed and every crashed node is back (for crashes at a
        height: once it is back, see `run_cluster`)."""
        restarts = [c.restart_at for c in self.crashes]
        return max([self.network.heal_at, *restarts])


BYZANTINE_KINDS = (
    "silent",
    "equivocate",
    "unknown_blocks",
    "withhold",
    "vote_flood",
    "old_vote_replay",
    "forged_relay",
)
FAULT_KINDS = (*BYZANTINE_KINDS, "crash_restart", "crash_proposer")


def random_faults(n: int, seed: int, kind: str, count: int | None = None) -> Faults:
    """A seeded scenario of `kind` (one of FAULT_KINDS) with `count` faulty validators
    (default f = (n - 1) // 3) on a rough network."""
    rng = random.Random(f"{n}/{seed}/{kind}")
    faulty = rng.sample(range(n), (n - 1) // 3 if count is None else count)
    network = _rough_network(n, rng)
    if kind in BYZANTINE_KINDS:
        behaviour = Behaviour(kind)
        return Faults(byzantine={i: behaviour for i in faulty}, network=network)
    if kind == "crash_restart":
        crashes = []
        for node in faulty:
            at = rng.uniform(0.2, 6.0)
            crashes.append(Crash(node, at, at + rng.uniform(0.5, 4.0)))
        return Faults(crashes=tuple(crashes), network=network)
    if kind == "crash_proposer":
        return Faults(
            crash_proposer=CrashProposer(rng.randint(1, 3), rng.randint(0, n - 1), 1.5),
            network=network,
        )
    raise ValueError(f"unknown fault kind {kind!r}")


def _rough_network(n: int, rng: random.Random) -> NetworkConfig:
    partition: tuple[frozenset[int], ...] = ()
    if rng.random() < 0.5:
        nodes = list(range(n))
        rng.shuffle(nodes)
        cut = rng.randint(1, n - 1)
        partition = (frozenset(nodes[:cut]), frozenset(nodes[cut:]))
    return NetworkConfig(
        delay=rng.uniform(0.01, 0.08),
        jitter=rng.uniform(0.0, 0.05),
        loss=rng.choice((0.0, 0.05, 0.2)),
        duplicate=rng.choice((0.0, 0.05)),
        reorder=rng.choice((0.0, 0.1)),
        partition=partition,
        heal_at=rng.uniform(1.0, 8.0),
    )
