"""`--log-format json`: every line a node prints is one JSON object, banners included."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from peerchain.cli.logs import JsonFormatter
from peerchain.testing.processes import NodeProcess, free_port


def test_a_record_becomes_one_json_object_with_its_extras_and_traceback() -> None:
    logger = logging.getLogger("peerchain.test")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logger.makeRecord(
            "peerchain.test", logging.ERROR, __file__, 1, "block %d failed", (7,),
            sys.exc_info(), extra={"height": 7},
        )  # fmt: skip
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "error" and entry["logger"] == "peerchain.test"
    assert entry["msg"] == "block 7 failed" and entry["height"] == 7
    assert entry["ts"].endswith("Z") and entry["pid"] > 0
    assert "ValueError: boom" in entry["exc"]


def test_a_dev_node_with_json_logs_prints_only_json_lines(tmp_path: Path) -> None:
    port = free_port()
    node = NodeProcess(
        ["dev", "--datadir", str(tmp_path / "data"), "--port", str(port), "--log-format", "json"],
        tmp_path / "dev.log",
        ready_marker="JSON-RPC:",
    )
    node.start()
    try:
        assert node.stop() == 0
    finally:
        node.kill()
    lines = [line for line in node.output().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    messages = [e["msg"] for e in entries]
    assert any(m.startswith(f"JSON-RPC: http://127.0.0.1:{port}") for m in messages), messages
    assert any(m.startswith("  (0) 0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266") for m in messages)
    assert "stopped" in messages
    assert any(e["logger"] == "peerchain.rpc.server" for e in entries)
    assert all({"ts", "level", "logger", "msg", "pid"} <= set(e) for e in entries)
