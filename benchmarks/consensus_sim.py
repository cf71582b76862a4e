"""Consensus in simulation: heights per CPU second and proposal-to-commit latency.

Runs `run_cluster` without faults on links of a fixed one-way delay (50 ms) for n = 4,
16, 64 and 100 validators and prints, per size: simulated heights per second of CPU
(process time of the whole run: signing, signature recovery, the machine, the simulated
network and the invariant checks after every message), messages delivered per height,
and the virtual-time latency from a height's first proposal leaving its proposer to each
node's commit of that height (p50 and max over nodes and heights).

    python benchmarks/consensus_sim.py [--delay 0.05] [--sizes 4,16,64,100]
"""

from __future__ import annotations

import argparse
import statistics
import time

from peerchain.testing.cluster import run_cluster
from peerchain.testing.faults import Faults
from peerchain.testing.network import NetworkConfig

HEIGHTS = {4: 200, 16: 40, 64: 6, 100: 4}


def measure(n: int, heights: int, delay: float) -> dict[str, float]:
    faults = Faults(network=NetworkConfig(delay=delay))
    start = time.process_time()
    result = run_cluster(n, seed=1, faults=faults, heights=heights)
    cpu = time.process_time() - start
    if not result.ok:
        raise SystemExit(f"run failed: {result.violations}")
    decided = min(node.height for node in result.nodes)
    latencies = [
        node.commit_times[h - 1] - result.first_proposal_at[h]
        for node in result.nodes
        for h in range(1, decided + 1)
    ]
    return {
        "heights": decided,
        "cpu": cpu,
        "per_cpu_s": decided / cpu,
        "msgs_per_height": result.delivered / decided,
        "virtual_s_per_height": result.end_time / decided,
        "p50_ms": 1000 * statistics.median(latencies),
        "max_ms": 1000 * max(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.05, help="one-way link delay, s")
    parser.add_argument("--sizes", default="4,16,64,100")
    args = parser.parse_args()
    print(f"links: {args.delay * 1000:.0f} ms one way, no loss; timeout_commit 0")
    header = (
        f"{'n':>4} {'heights':>8} {'CPU s':>7} {'heights/CPU s':>14} {'msgs/height':>12} "
        f"{'virt s/height':>14} {'latency p50':>12} {'latency max':>12}"
    )
    print(header)
    for n in (int(s) for s in args.sizes.split(",")):
        r = measure(n, HEIGHTS.get(n, 5), args.delay)
        print(
            f"{n:>4} {r['heights']:>8.0f} {r['cpu']:>7.2f} {r['per_cpu_s']:>14.2f} "
            f"{r['msgs_per_height']:>12.0f} {r['virtual_s_per_height']:>14.3f} "
            f"{r['p50_ms']:>10.0f}ms {r['max_ms']:>10.0f}ms"
        )


if __name__ == "__main__":
    main()
