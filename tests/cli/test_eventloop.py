"""The node commands run on uvloop where it is installed."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from peerchain.cli import eventloop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not built here")
def test_commands_run_on_uvloop() -> None:
    assert eventloop.run(_loop_module()).startswith("uvloop")
