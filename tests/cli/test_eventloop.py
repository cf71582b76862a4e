"""The node commands run on uvloop where it is installed, with the collector tuned."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys

import pytest

from peerchain.cli import eventloop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not built here")
def test_commands_run_on_uvloop() -> None:
    assert eventloop.run(_loop_module()).startswith("uvloop")


def test_node_processes_collect_less_often_and_freeze_what_start_up_made() -> None:
    # In a process of its own: the settings are the whole process's.
    code = (
        "import gc; from peerchain.cli import eventloop; eventloop.tune_gc(); "
        "print(gc.get_threshold() == eventloop.GC_THRESHOLDS, gc.get_freeze_count() > 1000)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["True", "True"], result.stderr
