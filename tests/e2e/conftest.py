"""A real `peerchain dev` process for end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from peerchain.testing.processes import NodeProcess, free_port, wait_for_heavy_queries


@dataclass
class DevProcess:
    datadir: Path
    port: int
    log: Path
    process: NodeProcess

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, *extra: str, heavy_queries: bool = True) -> None:
        """Start the node and wait until it serves JSON-RPC, and with `heavy_queries` until
        it answers eth_call too (its query workers start later, at a lower priority)."""
        self.process = NodeProcess(
            ["dev", "--datadir", str(self.datadir), "--port", str(self.port), *extra],
            self.log,
            ready_marker="JSON-RPC:",
        ).start()
        if heavy_queries:
            wait_for_heavy_queries(self.url)


@pytest.fixture
def dev_node(tmp_path: Path) -> Iterator[DevProcess]:
    node = DevProcess(tmp_path / "data", free_port(), tmp_path / "node.log", None)  # type: ignore[arg-type]
    node.start()
    yield node
    node.process.stop()
