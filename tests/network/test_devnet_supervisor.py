"""`peerchain devnet` as users run it: four real node processes under the supervisor, a
validator killed with SIGKILL from outside, another paused, while the rest commit blocks;
the dead one is restarted with `peerchain devnet restart` and catches up to the same
chain; a running validator's chain is exported and imported elsewhere; Ctrl-C stops them
all."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from peerchain.cli.main import cli
from peerchain.testing.processes import NodeProcess

from .harness import Devnet, wait_until

ALL = (0, 1, 2, 3)


def peerchain(*args: str) -> str:
    """Run a `peerchain` command to completion in this process (the supervisor and the
    nodes it acts on are processes; an interpreter per command would only add its start
    on a busy machine); its output (fails the test on an error)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, f"peerchain {' '.join(args)}: {result.output}"
    return result.output


def status(directory: Path) -> list[dict[str, Any]]:
    nodes = json.loads(peerchain("devnet", "status", "--dir", str(directory), "--json"))["nodes"]
    return list(nodes)


def test_the_devnet_survives_a_killed_validator_and_restarts_it(tmp_path: Path) -> None:
    net = Devnet.create(tmp_path / "devnet", len(ALL))
    directory = str(net.directory)
    supervisor = NodeProcess(
        ["devnet", "--dir", directory], tmp_path / "supervisor.log", ready_marker="Ctrl-C stops"
    )
    supervisor.start()
    try:
        net.wait_for_rpc(ALL, timeout=120)
        net.wait_for_height(ALL, 2, timeout=60)
        for i in ALL:
            net.wait_for_peer_count(i, 3, timeout=60)
        first = status(net.directory)
        assert [n["state"] for n in first] == ["running"] * 4
        assert all(n["height"] >= 2 and n["peers"] >= 1 for n in first), first
        pids = [n["pid"] for n in first]

        # A crash from outside: reported with its exit status and log, the others go on.
        os.kill(pids[3], signal.SIGKILL)
        wait_until(
            lambda: f"node3 (pid {pids[3]}) exited: killed by SIGKILL" in supervisor.output(),
            30,
            "the supervisor to report node3's death",
            state=supervisor.output,
        )
        report = supervisor.output()
        assert "the other nodes keep running" in report
        assert f"last lines of {net.nodes[3].directory / 'node.log'}" in report
        assert "committed block" in report.split("last lines of", 1)[1]
        survivors = (0, 1, 2)
        net.wait_for_height(survivors, max(net.heights(survivors)) + 3, timeout=60)
        after = status(net.directory)
        assert [n["state"] for n in after] == ["running", "running", "running", "exited"]
        assert [n["pid"] for n in after[:3]] == pids[:3]
        assert after[3]["exit"] == "killed by SIGKILL" and after[3]["height"] is None

        # Restarted on request, it catches up to the same blocks.
        out = peerchain("devnet", "restart", "3", "--dir", directory, "--wait", "120")
        assert "node3 restarted" in out and "node3 answers at" in out
        net.wait_for_height([3], max(net.heights(survivors)) + 1, timeout=90)
        net.assert_same_chain(ALL, 1, min(net.heights(ALL)))

        # A paused validator stops answering while three commit; resumed, it catches up.
        assert "node1 paused" in peerchain("devnet", "pause", "1", "--dir", directory)
        paused = status(net.directory)[1]
        assert paused["state"] == "paused" and paused["height"] is None
        others = (0, 2, 3)
        net.wait_for_height(others, max(net.heights(others)) + 2, timeout=60)
        assert "node1 resumed" in peerchain("devnet", "resume", "1", "--dir", directory)
        net.wait_for_height([1], max(net.heights(others)), timeout=60)
        net.assert_same_chain(ALL, 1, min(net.heights(ALL)))
        last_pids = [n["pid"] for n in status(net.directory)]

        # A hot backup: node0's chain exported while it runs, imported into a fresh
        # directory, gives the blocks and state root the network has.
        backup = tmp_path / "backup.export.gz"
        data = net.nodes[0].directory / "data"
        genesis = str(net.directory / "genesis.json")
        out = peerchain("export", "--datadir", str(data), str(backup))  # genesis found above
        last = int(out.split("exported blocks 1..", 1)[1].split()[0])
        restored = tmp_path / "restored"
        out = peerchain("import", "--datadir", str(restored), "--genesis", genesis, str(backup))
        block = net.block(1, last)
        assert block is not None
        assert f"head block {last} {block['hash']}, state root {block['stateRoot']}" in out, out
    except BaseException:
        supervisor.stop()
        raise
    finally:
        net.close()

    # Ctrl-C stops every node and the supervisor.
    assert supervisor.proc is not None
    supervisor.proc.send_signal(signal.SIGINT)
    assert supervisor.proc.wait(60) == 0
    assert "devnet stopped" in supervisor.output()
    for pid in last_pids:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
