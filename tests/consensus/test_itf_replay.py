"""Model-based check: the Quint Tendermint trace replayed into the machine, step by step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peerchain.tools.itf_replay import load_trace, main, replay_trace

TRACE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "consensus"
    / "tendermint_n4_f1_trace0.itf.json"
)
PREFIX = "MC_n4_f1::TendermintTest::"
GENERATED = sorted((Path(__file__).parent / "traces").glob("*.itf.json.gz"))


def test_every_step_of_the_model_trace_matches_the_machine() -> None:
    states = load_trace(TRACE)
    reports = replay_trace(states, ["v0", "v1"])
    assert len(reports) == len(states) == 21
    assert [r.problems for r in reports if r.problems] == []
    actions = {r.action for r in reports}
    assert {"InsertProposal", "UponProposalInPropose", "UponQuorumOfPrevotesAny",
            "UponQuorumOfPrecommitsAny", "OnTimeoutPropose"} <= actions  # fmt: skip
    assert all(r.actor for r in reports[1:])


def test_generated_model_traces_replay_to_decisions() -> None:
    """More traces of the same model (see traces/README.md): locks, decisions, round
    catch-up and proofs of lock. Where the model lets a timeout win over an enabled
    lock or decision, the replay stops there, as the machine fires the rule eagerly."""
    assert len(GENERATED) >= 10
    actions: set[str] = set()
    complete = 0
    for path in GENERATED:
        reports = replay_trace(load_trace(path), ["v0", "v1"])
        assert [r.problems for r in reports if r.problems and not r.diverged] == [], path
        actions |= {r.action for r in reports}
        complete += reports[-1].diverged is None
        decided = reports[-1].diverged is None and "decide" in path.name
        assert not decided or reports[-1].action == "UponProposalInPrecommitNoDecision"
    assert complete >= 10
    assert {"UponProposalInProposeAndPrevote", "UponProposalInPrevoteOrCommitAndPrevote",
            "UponProposalInPrecommitNoDecision", "OnRoundCatchup"} <= actions  # fmt: skip


def _mutated(tmp_path: Path, index: int, var: str, process: str, value: object) -> Path:
    document = json.loads(TRACE.read_text())
    for state in document["states"][index:]:
        entries = state[PREFIX + var]["#map"]
        for entry in entries:
            if entry[0] == process:
                entry[1] = value
    path = tmp_path / "mutated.itf.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("index", "var", "process", "value"),
    [
        (13, "step", "p1", "prevote"),  # the model says p1 did not precommit
        (14, "lockedRound", "p2", {"#bigint": "1"}),  # a lock the machine never took
        (3, "round", "p3", {"#bigint": "1"}),
    ],
)
def test_a_diverging_trace_is_reported_at_the_step_it_diverges(
    tmp_path: Path, index: int, var: str, process: str, value: object
) -> None:
    reports = replay_trace(load_trace(_mutated(tmp_path, index, var, process, value)), ["v0", "v1"])
    first_bad = next(r for r in reports if r.problems)
    assert first_bad.index <= index and first_bad.diverged is None
    assert any(process in problem for r in reports for problem in r.problems)


def test_the_validity_predicate_matters() -> None:
    reports = replay_trace(load_trace(TRACE), ["v1"])  # v0 invalid: prevotes turn nil
    assert any(r.problems for r in reports)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(TRACE)]) == 0
    assert "0 mismatching" in capsys.readouterr().out
    assert main([str(_mutated(tmp_path, 5, "step", "p2", "propose"))]) == 1
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main([str(bad)]) == 1
