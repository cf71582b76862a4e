"""Shared test configuration: Hypothesis profiles, and the suites that need more than the
default run has (time, root, a browser), skipped with the reason in the run summary.

- `make test`: the "ci" profile, derandomized: every run tries the same cases.
- `make test-fuzz`: the "fuzz" profile with fresh randomness from `--hypothesis-seed`,
  and the consensus simulator on seeds from `PEERCHAIN_FUZZ_SEED` (the `fuzz_seed` fixture);
  both come from one SEED, printed at the end with how to replay and pin a failure.
- `--slow` / `--browser` let tests marked `slow` / `browser` run; tests marked `netns`
  run only as root with iproute2. Otherwise each is skipped, saying what runs it.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from peerchain.testing.netns import netns_available

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "fuzz",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=False,
    database=None,  # a run is replayed by its seed alone
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

FUZZ_SEED_VARIABLE = "PEERCHAIN_FUZZ_SEED"


def _fuzz_seed() -> int | None:
    value = os.environ.get(FUZZ_SEED_VARIABLE)
    return int(value) if value else None


@pytest.fixture
def fuzz_seed() -> int:
    """The seed of a `make test-fuzz` run; a test asking for it is skipped in other runs."""
    seed = _fuzz_seed()
    if seed is None:
        pytest.skip("fresh seeds: make test-fuzz runs it")
    return seed


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run tests marked slow")
    parser.addoption("--browser", action="store_true", help="also run tests marked browser")


SKIPS = {
    "slow": ("--slow", "slow: make test-slow runs it"),
    "browser": ("--browser", "needs Chromium: make test-browser runs it (installs chromium)"),
}
NETNS_REASON = "needs root and iproute2 (network namespaces): .ci/run runs it as root"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker, (option, reason) in SKIPS.items():
            if marker in item.keywords and not config.getoption(option):
                item.add_marker(pytest.mark.skip(reason=reason))
        if "netns" in item.keywords and not netns_available():
            item.add_marker(pytest.mark.skip(reason=NETNS_REASON))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    seed = _fuzz_seed()
    if seed is None:
        return
    failed = bool(terminalreporter.stats.get("failed"))
    terminalreporter.section(f"fuzz seed {seed}: {'FAILED' if failed else 'passed'}")
    terminalreporter.write_line(f"replay this run: make test-fuzz SEED={seed}")
    if failed:
        terminalreporter.write_line(
            "pin each failure so that the default suite keeps it: a Hypothesis test gets "
            "@example(<the falsifying example printed above>); a simulator seed goes into "
            "REGRESSIONS (OPEN until it is fixed) in tests/consensus/test_consensus_simulation.py"
        )
