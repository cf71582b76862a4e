"""The node's consensus policy (machine and reactor) in simulated clusters: many seeds of
each fault kind (Byzantine validators that stay silent, equivocate, vote for unknown
blocks, withhold proposals, flood votes, replay old votes, or relay forged bodies;
crashes), checked after every delivered message; a failing seed is printed so that it
can be pinned.

The default run tries the first seeds of each kind and the pinned REGRESSIONS, make
test-slow more, and `make test-fuzz` a fresh range chosen by its SEED (the date unless
given)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from peerchain.core.consensus.messages import VoteKind
from peerchain.core.consensus.reactor import ReactorConfig
from peerchain.core.consensus.votes import MAX_AHEAD_ROUNDS, DuplicateProposal, DuplicateVote
from peerchain.core.consensus.wal import decode_wal
from peerchain.testing import simnode
from peerchain.testing.byzantine import FLOOD_ROUNDS
from peerchain.testing.cluster import ClusterResult, run_cluster
from peerchain.testing.faults import (
    FAULT_KINDS,
    Behaviour,
    CrashProposer,
    Faults,
    random_faults,
)
from peerchain.testing.memwal import WalDamage
from peerchain.testing.network import NetworkConfig

SEEDS_PER_KIND = 30  # x 9 kinds = 270 seeds per cluster size (make test-slow: 200 each)

# Seeds that once failed, kept as regression cases: (n, kind, seed, what went wrong).
REGRESSIONS = [
    (4, "crash_proposer", 0, "a restarted proposer committed a block its app never executed"),
    (4, "crash_restart", 0, "a restarted node synced one block per status and fell behind"),
    (7, "crash_restart", 3, "catch-up of a node many heights behind"),
    (
        7,
        "unknown_blocks",
        20261130026,
        "a node partitioned for three rounds, proposer of the others' round, caught up one "
        "round per timeout (catch-up sent no votes of the rounds in between)",
    ),
    (
        7,
        "unknown_blocks",
        273,
        "a late prevote made a polka of a finished round: a correct validator locked on it and "
        "the others could not accept its proposal (that prevote was lost to them)",
    ),
    (
        7,
        "unknown_blocks",
        309,
        "a validator that lagged locked on a finished round: the others never made that "
        "value their valid value, so only its own rounds could decide",
    ),
    *(
        (n, "unknown_blocks", seed, "no commit for 30-50 s after a partition heals: as above")
        for n, seed in ((7, 79), (7, 193), (10, 139), (10, 173))
    ),
    (
        10,
        "unknown_blocks",
        38,
        "prevotes lost before the network healed were never sent again while rounds moved "
        "on: two validators stayed locked on a polka the others never saw complete",
    ),
]


# Seeds found failing and not fixed yet, (n, kind, seed, what goes wrong): pinned below as
# strict xfails, so that every run says so and a fix shows up as XPASS (failing the run
# until the seed moves to REGRESSIONS); the seed ranges above leave them to that test.
OPEN: list[tuple[int, str, int, str]] = []
OPEN_SEEDS = {r[:3] for r in OPEN}


def _failures(n: int, kind: str, seeds: range | list[int], *, open_too: bool = False) -> list[str]:
    """What went wrong with each seed (the OPEN ones only with `open_too`)."""
    failures = []
    for seed in seeds:
        if (n, kind, seed) in OPEN_SEEDS and not open_too:
            continue
        try:
            result = run_cluster(n, seed, random_faults(n, seed, kind))
        except Exception as exc:  # a crash inside the run is a failing seed too
            failures.append(f"seed={seed} n={n} kind={kind}: {exc!r}")
        else:
            if not result.ok:
                failures.append(f"kind={kind} {result.describe()}")
        if failures and failures[-1].find(f"seed={seed} ") >= 0:
            print("FAILING SEED:", failures[-1])
    return failures


@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("n", [4, 7])
def test_safety_and_liveness_with_f_faulty(n: int, kind: str) -> None:
    failures = _failures(n, kind, range(SEEDS_PER_KIND))
    assert not failures, "pin these seeds in REGRESSIONS:\n" + "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("n", [4, 7, 10])
def test_safety_and_liveness_with_f_faulty_many_seeds(n: int, kind: str) -> None:
    failures = _failures(n, kind, range(SEEDS_PER_KIND, 200))
    assert not failures, "pin these seeds in REGRESSIONS:\n" + "\n".join(failures)


@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("n", [4, 7])
def test_safety_and_liveness_on_fresh_seeds(n: int, kind: str, fuzz_seed: int) -> None:
    """`make test-fuzz`: a range of seeds no run has tried, chosen by the run's seed."""
    first = fuzz_seed * 1000
    failures = _failures(n, kind, range(first, first + SEEDS_PER_KIND))
    assert not failures, "pin these seeds in REGRESSIONS:\n" + "\n".join(failures)


PINNED = [r[:3] for r in REGRESSIONS] + [
    pytest.param(*r[:3], marks=pytest.mark.xfail(strict=True, reason=f"open: {r[3]}")) for r in OPEN
]


@pytest.mark.parametrize(("n", "kind", "seed"), PINNED)
def test_pinned_regressions(n: int, kind: str, seed: int) -> None:
    assert _failures(n, kind, [seed], open_too=True) == []


def test_runs_are_deterministic() -> None:
    faults = random_faults(7, 11, "equivocate")
    a, b = run_cluster(7, 11, faults), run_cluster(7, 11, faults)
    assert [n.disk.chain for n in a.nodes] == [n.disk.chain for n in b.nodes]
    assert (a.delivered, a.end_time) == (b.delivered, b.end_time)


def test_a_proposer_crashing_mid_round_comes_back_with_the_same_proposal() -> None:
    for sent_to in (0, 2):  # crashed before any peer got its proposal, or after two did
        faults = Faults(
            crash_proposer=CrashProposer(height=2, sent_to=sent_to, downtime=2.0),
            network=NetworkConfig(delay=0.05, jitter=0.02),
        )
        result = run_cluster(4, sent_to, faults, heights=3)
        assert result.ok, result.describe()
        (node,) = [n for n in result.nodes if n.restarts]
        mine = [
            r for r in decode_wal(bytes(node.disk.wal)).records
            if r.height == 2 and getattr(r, "proposer", None) == node.address
        ]  # fmt: skip
        assert len(mine) == 1  # persisted before the crash, not signed again after it
        sent = _proposals_of(result, node.address, 2, mine[0].round)
        assert sent == [mine[0]]  # what the network saw, before and after the restart
        assert min(n.height for n in result.nodes) > 2  # past the height of the crash


def _proposals_of(result: ClusterResult, address: bytes, height: int, round: int) -> list[object]:
    return [
        p for p in result.proposed.values()
        if (p.proposer, p.height, p.round) == (address, height, round)
    ]  # fmt: skip


def test_an_equivocating_validator_is_reported_and_safety_holds() -> None:
    for seed in range(4):
        faults = Faults(
            byzantine={0: Behaviour.EQUIVOCATE}, network=NetworkConfig(delay=0.05, jitter=0.03)
        )
        result = run_cluster(4, seed, faults, heights=4)
        assert result.ok, result.describe()  # includes: no evidence against correct nodes
        culprit = result.nodes[0].address
        reporters = [i for i in result.correct if result.nodes[i].evidence]
        assert len(reporters) >= 2, result.describe()
        for i in reporters:
            for evidence in result.nodes[i].evidence:
                if isinstance(evidence, DuplicateVote):
                    assert evidence.first.validator == evidence.second.validator == culprit
                else:
                    assert isinstance(evidence, DuplicateProposal)
                    assert evidence.first.proposer == evidence.second.proposer == culprit


def test_negative_control_more_than_f_byzantine_break_agreement() -> None:
    """The checker can fail: two equivocators of four split the correct nodes."""
    for seed in range(40):
        result = run_cluster(4, seed, random_faults(4, seed, "equivocate", count=2))
        if any(v.startswith("agreement") for v in result.violations):
            return
    pytest.fail("no seed broke agreement with 2 Byzantine validators of 4")


def test_unequal_voting_power() -> None:
    # Total 11: a quorum needs 8, so the silent 2-power validator cannot stop progress.
    faults = Faults(byzantine={3: Behaviour.SILENT}, network=NetworkConfig(delay=0.04, jitter=0.02))
    result = run_cluster(4, 5, faults, powers=[3, 3, 3, 2], heights=4)
    assert result.ok, result.describe()
    # The 3-power validators propose more often than the 2-power one would.
    assert all(result.nodes[i].height >= 4 for i in result.correct)


def test_crashed_nodes_restart_from_a_torn_wal() -> None:
    dropped = restarts = 0
    for seed in range(6):
        result = run_cluster(4, seed, random_faults(4, seed, "crash_restart"))
        assert result.ok, result.describe()
        dropped += sum(node.torn_bytes_dropped for node in result.nodes)
        restarts += sum(node.restarts for node in result.nodes)
    assert restarts >= 6 and dropped > 0


def test_forged_bodies_from_a_relay_are_refused_and_without_the_check_stop_the_chain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    faults = Faults(
        byzantine={0: Behaviour.FORGED_RELAY}, network=NetworkConfig(delay=0.05, jitter=0.02)
    )
    result = run_cluster(4, 1, faults, heights=3)
    assert result.ok, result.describe()
    forged = result.notes["forged"]
    assert isinstance(forged, int) and forged > 0
    assert all(result.nodes[i].invalid_messages > 0 for i in result.correct)
    # Negative control: a node that keeps the first body seen for a hash never decides.
    monkeypatch.setattr(simnode, "check_kv_value", lambda block: None)
    broken = run_cluster(4, 1, faults, heights=3, liveness_bound=10.0)
    assert any(v.startswith("liveness") for v in broken.violations), broken.describe()


def test_a_vote_flood_stays_within_the_round_window() -> None:
    faults = Faults(byzantine={2: Behaviour.VOTE_FLOOD}, network=NetworkConfig(delay=0.05))
    result = run_cluster(4, 3, faults, heights=4)
    assert result.ok, result.describe()
    for i in result.correct:
        machine = result.nodes[i].machine
        assert machine is not None
        kept = sum(
            1
            for r in range(machine.round + 2, machine.round + 2 + FLOOD_ROUNDS)
            for kind in VoteKind
            if machine.votes(machine.height, r, kind)
        )
        assert kept <= 2 * MAX_AHEAD_ROUNDS  # of the flooder's 2 x FLOOD_ROUNDS vote sets


def test_old_vote_replays_get_rate_limited_commits() -> None:
    faults = Faults(byzantine={1: Behaviour.OLD_VOTE_REPLAY}, network=NetworkConfig(delay=0.05))
    result = run_cluster(4, 2, faults, heights=6)
    assert result.ok, result.describe()
    config = ReactorConfig()
    for i in result.correct:
        sent = result.nodes[i].commits_sent
        assert sent <= 3 * (config.catch_up_burst + config.catch_up_rate * result.end_time)


@pytest.mark.parametrize("damage", list(WalDamage))
def test_a_validator_whose_wal_is_lost_or_damaged_never_signs_twice(damage: WalDamage) -> None:
    """Crashed validators restart in an undecided height with their WAL deleted, cut inside
    its first record, or with a byte of it flipped: the last-signed record keeps them from
    signing a conflicting proposal or vote (evidence against a correct validator, or a
    halt, would be a violation), and consensus goes on."""
    beyond_wal = refusals = restarts = 0
    for seed in range(8):
        faults = replace(random_faults(4, seed, "crash_restart"), wal_damage=damage)
        result = run_cluster(4, seed, faults)
        assert result.ok, result.describe()
        beyond_wal += sum(node.restarts_beyond_wal for node in result.nodes)
        refusals += sum(node.wal_refusals for node in result.nodes)
        restarts += sum(node.restarts for node in result.nodes)
    assert restarts >= 8
    assert beyond_wal > 0, "no node restarted with a signature its WAL had lost"
    if damage is WalDamage.FLIPPED:
        assert refusals > 0, "a WAL damaged before intact records was not refused"


def test_negative_control_without_last_signed_a_lost_wal_means_double_signing() -> None:
    violations = []
    for seed in range(8):
        faults = replace(
            random_faults(4, seed, "crash_restart"), wal_damage=WalDamage.DELETED, last_signed=False
        )
        violations += run_cluster(4, seed, faults).violations
    assert any("evidence against a correct validator" in v for v in violations), violations
