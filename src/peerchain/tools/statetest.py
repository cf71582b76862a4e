"""`python -m peerchain.tools.statetest FILE...`: run GeneralStateTests fixtures.

Prints a JSON list shaped like geth's `evm statetest` output (name, pass,
stateRoot, logsHash, fork, error) and exits with status 1 if any case fails,
2 if a file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from peerchain.execution.statetest import run_state_tests
from peerchain.execution.vm import FORKS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m peerchain.tools.statetest",
        description="Run Ethereum GeneralStateTests fixtures through PeerChain's execution layer.",
    )
    parser.add_argument("files", nargs="+", type=Path, help="state test JSON files")
    parser.add_argument(
        "--fork", choices=sorted(FORKS), help="run only this fork's post states (default: all)"
    )
    args = parser.parse_args(argv)
    results: list[dict[str, object]] = []
    for path in args.files:
        try:
            fixture = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            print(f"statetest: cannot read {path}: {exc}", file=sys.stderr)
            return 2
        results.extend(r.to_json() for r in run_state_tests(fixture, args.fork))
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if all(r["pass"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
