"""Fixtures of the real-process network tests; a failing test shows every node's log tail."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from .harness import LIVE


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for devnet in LIVE:
            report.sections.append((f"node logs of {devnet.directory}", devnet.log_tails()))
    return report
