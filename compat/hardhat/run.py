"""OpenZeppelin Contracts' own Hardhat tests against `peerchain dev --compat hardhat`, with
Hardhat's in-process network run on the same tests beside it.

    python compat/hardhat/run.py --oz-dir CHECKOUT [--work DIR] [--suite NAME ...]

CHECKOUT is a checkout of openzeppelin-contracts at v5.1.0 (npm's @openzeppelin/contracts
holds the sources only, not the tests and mocks). It is copied to DIR, where its npm
dependencies (its own lockfile), solc 0.8.24 (solc-js from npm) and this folder's Hardhat
config overlay are installed; then each suite runs twice and the table of passing and
failing tests is printed. Exit status 0 when every suite ran on both networks.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peerchain.cli.solidity import RUNNER
from peerchain.testing.processes import NodeProcess, free_port

HERE = Path(__file__).resolve().parent
SUITES = {
    "ERC20": ["test/token/ERC20/ERC20.test.js"],
    "ERC721": ["test/token/ERC721/ERC721.test.js", "test/token/ERC721/ERC721Enumerable.test.js"],
    "Governor": ["test/governance/Governor.test.js"],
    "VestingWallet": ["test/finance/VestingWallet.test.js"],
    "Address": ["test/utils/Address.test.js"],
}
OVERLAY = "hardhat.peerchain.js"
SOLC = "solc@0.8.24"


def sh(
    cmd: list[str], cwd: Path, log: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """Run a command; return its output (also written to `log`). Raises on failure."""
    result = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if log is not None:
        log.write_text(result.stdout)
    # mocha's exit status is the number of failures: only a run without a summary failed.
    if result.returncode != 0 and not re.search(r"\d+ (passing|failing)", result.stdout):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}")
    return result.stdout


def prepare(oz_dir: Path, work: Path) -> None:
    """Copy the checkout, install its npm dependencies and solc-js, add the overlay."""
    if not (oz_dir / "test" / "token" / "ERC20" / "ERC20.test.js").exists():
        raise SystemExit(f"{oz_dir} is not an openzeppelin-contracts checkout with its tests")
    if not (work / "package.json").exists():
        shutil.copytree(oz_dir, work, ignore=shutil.ignore_patterns(".git", "node_modules"))
    if not (work / "node_modules" / "hardhat").exists():
        sh(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], work)
    if not (work / "node_modules" / "solc" / "soljson.js").exists():
        install = ["npm", "install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund"]
        sh([*install, SOLC], work)
    shutil.copy(HERE / OVERLAY, work / OVERLAY)
    shutil.copy(RUNNER, work / "solcjs-compile.js")  # the node's own solc-js runner
    print("compiling (solc-js 0.8.24) ...", flush=True)
    sh(
        ["npx", "hardhat", "--config", "hardhat.peerchain.js", "compile"],
        work,
        work / "compile.log",
    )


def counts(output: str) -> tuple[int, int, int]:
    """(passing, failing, pending) from mocha's summary."""

    def number(word: str) -> int:
        match = re.search(rf"(\d+) {word}", output)
        return int(match.group(1)) if match else 0

    return number("passing"), number("failing"), number("pending")


def run_suite(work: Path, files: list[str], network: str | None, log: Path) -> tuple[int, ...]:
    cmd = ["npx", "hardhat", "--config", "hardhat.peerchain.js", "test", "--no-compile"]
    if network:
        cmd += ["--network", network]
    return counts(sh([*cmd, *files], work, log, env=dict(os.environ)))


def start_node(url_port: int, log: Path) -> NodeProcess:
    datadir = Path(tempfile.mkdtemp(prefix="peerchain-compat-"))
    args = ["dev", "--compat", "hardhat", "--accounts", "20", "--datadir", str(datadir)]
    return NodeProcess([*args, "--port", str(url_port)], log, ready_marker="JSON-RPC:").start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oz-dir", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path(".compat/openzeppelin"))
    parser.add_argument("--suite", action="append", choices=sorted(SUITES))
    args = parser.parse_args()
    work = args.work.resolve()
    prepare(args.oz_dir.resolve(), work)
    logs = work / "compat-logs"
    logs.mkdir(exist_ok=True)
    rows = []
    for name in args.suite or list(SUITES):
        port = free_port()
        node = start_node(port, logs / f"{name}.node.log")
        os.environ["PEERCHAIN_URL"] = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        try:
            ours = run_suite(work, SUITES[name], "localhost", logs / f"{name}.peerchain.log")
        finally:
            node.stop()
        ours_s = time.monotonic() - started
        started = time.monotonic()
        theirs = run_suite(work, SUITES[name], None, logs / f"{name}.hardhat.log")
        theirs_s = time.monotonic() - started
        rows.append((name, ours, ours_s, theirs, theirs_s))
        print(
            f"{name}: peerchain {ours[0]} passing {ours[1]} failing; "
            f"hardhat {theirs[0]} passing {theirs[1]} failing",
            flush=True,
        )
    print(f"\nload average {os.getloadavg()}")
    print(f"{'suite':<14} {'peerchain pass/fail':>20} {'s':>6} {'hardhat pass/fail':>18} {'s':>6}")
    for name, ours, ours_s, theirs, theirs_s in rows:
        print(
            f"{name:<14} {ours[0]:>11}/{ours[1]:<8} {ours_s:>6.0f} "
            f"{theirs[0]:>9}/{theirs[1]:<8} {theirs_s:>6.0f}"
        )
    print(f"logs: {logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
