"""GeneralStateTests fixtures through `python -m peerchain.tools.statetest`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from peerchain.tools.statetest import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STATE_TESTS = FIXTURES / "ethereum-tests" / "GeneralStateTests"
FILES = sorted(STATE_TESTS.rglob("*.json"))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    code = main(list(args))
    return code, json.loads(capsys.readouterr().out)


def test_fixtures_are_present() -> None:
    assert FILES, f"no state tests under {STATE_TESTS}"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_cancun_case_passes(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, results = run(capsys, str(path), "--fork", "Cancun")
    fixture = json.loads(path.read_text())
    expected = sum(len(t["post"].get("Cancun", [])) for t in fixture.values())
    assert len(results) == expected > 0
    failures = [r for r in results if not r["pass"]]
    assert not failures, failures
    assert code == 0
    roots = [e["hash"] for t in fixture.values() for e in t["post"]["Cancun"]]
    assert [r["stateRoot"] for r in results] == roots


def test_a_wrong_expectation_fails_with_exit_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixture = json.loads(FILES[0].read_text())
    name = next(iter(fixture))
    fixture[name]["post"]["Cancun"][0]["hash"] = "0x" + "11" * 32
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(fixture))
    code, results = run(capsys, str(tampered))
    assert code == 1
    assert results[0]["pass"] is False and "state root" in str(results[0]["error"])
    assert all(r["pass"] for r in results[1:])


def test_command_line_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "peerchain.tools.statetest", str(FILES[0])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results and {"name", "pass", "stateRoot", "logsHash", "fork", "error"} <= set(results[0])
