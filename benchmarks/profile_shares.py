"""Shares of a py-spy profile: how much of all samples each function is on the stack for.

Reads py-spy's raw output (`py-spy record --format raw`: one collapsed stack per line,
frames joined by ';', then the sample count) and prints, for the functions that matter
on the block path and for the top ones overall, the share of samples whose stack holds
them (inclusive time). `--within F` counts only the samples whose stack holds function F
(e.g. `ExecutionEngine.execute_block` for block import alone).

    python benchmarks/profile_shares.py /tmp/dev.txt [--top 30] [--within FUNCTION]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

# What the dev chain spends its time on, from the request to the disk.
WATCHED = [
    "RequestHandler._handle_request",
    "Dispatcher.handle_body",
    "ChainView.admit",
    "DevNode.mine_block",
    "ExecutionEngine.build_block",
    "ExecutionEngine.execute_block",
    "ExecutionEngine._decode_raw_transactions",
    "ExecutionEngine._evm_transactions",
    "apply_block",
    "FrontierState.apply_transaction",
    "BaseComputation.apply_computation",
    "make_outcome",
    "AccountDB.persist",
    "AccountDB.make_state_root",
    "ordered_root",
    "ExecutionEngine._store_block",
    "Ledger.commit",
    "LmdbStore.write",
    "ChainView.publish_block",
    "ChainView.get_receipt",
]


def shares(path: Path, within: str | None = None) -> tuple[int, Counter[str]]:
    """Total samples and, per function name, the samples whose stack holds it (only the
    samples whose stack holds `within`, when given)."""
    total = 0
    inclusive: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        names = {frame.split(" (", 1)[0] for frame in stack.split(";")}
        if within is not None and within not in names:
            continue
        samples = int(count)
        total += samples
        for name in names:
            inclusive[name] += samples
    return total, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--within", help="count only samples inside this function")
    args = parser.parse_args()
    total, inclusive = shares(args.profile, args.within)
    if not total:
        raise SystemExit(f"no samples in {args.profile}")
    print(f"{total} samples" + (f" inside {args.within}" if args.within else ""))
    for name in WATCHED:
        print(f"{100 * inclusive[name] / total:6.1f}%  {name}")
    print("top functions (inclusive):")
    for name, samples in inclusive.most_common(args.top):
        print(f"{100 * samples / total:6.1f}%  {name}")


if __name__ == "__main__":
    main()
