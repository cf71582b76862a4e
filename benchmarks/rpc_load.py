"""Heavy JSON-RPC calls against a 4-validator devnet: consensus and cheap calls with and
without them, side by side in one run.

    python benchmarks/rpc_load.py [--window 60] [--clients 3] [--inline]

Method:
- A devnet as `peerchain devnet -n 4` runs it (same files, same node command), on free
  loopback ports in a temporary directory.
- quiet: for `--window` seconds, node 3 is watched for new blocks (blocks per minute,
  longest gap between two blocks) while a probe times cheap calls (eth_blockNumber,
  eth_chainId, eth_getBalance) at node 0, one round every 50 ms.
- loaded: the same, while `--clients` clients at each of nodes 0 and 1 send eth_call of a
  loop that burns about 2.6M gas (about 1.3 s of py-evm), back to back.
- `--inline` repeats both phases on a second devnet whose nodes answer heavy calls in
  their event loop (rpc_workers = 0), as every node did before the query workers.
- eth_estimateGas of the same loop: executions per call, counted by the engine over an
  in-memory chain, and the time of one eth_estimateGas at node 0 of the devnet.
Every figure is printed with os.getloadavg(): on a shared machine compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from peerchain.cli.devnet import create_devnet
from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import dev_genesis
from peerchain.core.kv import apply_changes
from peerchain.core.queries import CallRequest
from peerchain.drivers.keystore import dev_private_keys
from peerchain.execution.engine import ExecutionEngine
from peerchain.testing.processes import NodeProcess, free_ports
from peerchain.testing.queries import loop_code
from peerchain.testing.rpcload import LoadReport, RpcClient, measure_under_load

VALIDATORS = 4
LOOP = loop_code(65_000)
LOOP_CALL = ("eth_call", [{"data": "0x" + LOOP.hex()}, "latest"])


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def start_devnet(directory: Path, extra_settings: str) -> tuple[list[str], list[NodeProcess]]:
    base = free_ports(2 * VALIDATORS)
    nodes = create_devnet(directory, VALIDATORS, p2p_port=base, rpc_port=base + VALIDATORS)
    for node in nodes:
        with node.config.open("a") as config:
            config.write(extra_settings)
    processes = [
        NodeProcess(["node", "--config", str(n.config)], n.directory / "node.log", "JSON-RPC:")
        for n in nodes
    ]
    for process in processes:
        process.launch()
    for process in processes:
        process.wait_ready()
    urls = [n.rpc_url for n in nodes]
    client = RpcClient(urls[3])
    deadline = time.monotonic() + 120
    while int(client.call("eth_blockNumber", [])["result"], 16) < 3:
        if time.monotonic() > deadline:
            raise RuntimeError("the devnet made no blocks in 120 s")
        time.sleep(0.2)
    return urls, processes


def phases(urls: list[str], window: float, clients: int) -> tuple[LoadReport, LoadReport]:
    def measure(heavy: list[str]) -> LoadReport:
        return measure_under_load(
            watch=urls[3],
            probe=urls[0],
            heavy=heavy,
            request=LOOP_CALL,
            clients=clients,
            seconds=window,
        )

    quiet = measure([])
    print(f"  quiet  done, loadavg {loadavg()}", flush=True)
    loaded = measure(urls[:2])
    print(f"  loaded done, loadavg {loadavg()}", flush=True)
    return quiet, loaded


def report(name: str, quiet: LoadReport, loaded: LoadReport) -> None:
    print(f"\n{name}")
    print(f"  {'':28}{'quiet':>12}{'loaded':>12}{'ratio':>9}")
    p50, p99 = (
        (1000 * quiet.cheap_percentile(f), 1000 * loaded.cheap_percentile(f)) for f in (0.5, 0.99)
    )
    rows = [
        ("blocks per minute", quiet.blocks_per_minute, loaded.blocks_per_minute),
        ("longest block gap (s)", quiet.longest_gap, loaded.longest_gap),
        ("cheap call p50 (ms)", *p50),
        ("cheap call p99 (ms)", *p99),
    ]
    for label, a, b in rows:
        ratio = b / a if a else float("nan")
        print(f"  {label:28}{a:12.2f}{b:12.2f}{ratio:9.2f}")
    print(f"  cheap calls: {len(quiet.cheap_latencies)} / {len(loaded.cheap_latencies)}, "
          f"failed {quiet.cheap_errors} / {loaded.cheap_errors}")  # fmt: skip
    errors = dict(loaded.heavy_errors.most_common(3))
    print(f"  heavy calls answered {loaded.heavy_answers}, refused or failed {errors}")


def estimate_executions() -> None:
    keys = dev_private_keys(1)
    genesis = dev_genesis(1337, [private_key_to_address(k) for k in keys], 10**21)
    store: dict[bytes, bytes] = {}
    engine = ExecutionEngine(store, genesis)
    apply_changes(store, engine.genesis_changes()[1])
    head = engine.head()
    for label, request in (
        ("transfer", CallRequest(sender=private_key_to_address(keys[0]), to=b"\x42" * 20)),
        ("loop of 1,000 turns", CallRequest(data=loop_code(1_000))),
        ("loop of 65,000 turns (2.6M gas)", CallRequest(data=LOOP)),
    ):
        started = time.monotonic()
        estimate = engine.estimate_gas(request, head)
        seconds = time.monotonic() - started
        print(f"  {label:34} {estimate.gas:>10} gas  {estimate.executions} executions  "
              f"{seconds:6.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--clients", type=int, default=3, help="heavy clients per loaded node")
    parser.add_argument("--inline", action="store_true", help="also run with rpc_workers = 0")
    args = parser.parse_args()
    print(f"loadavg at start {loadavg()} ({os.cpu_count()} cores)")
    print("eth_estimateGas executions per call (engine, in-memory chain):")
    estimate_executions()
    setups = [("query workers (rpc_workers = 2)", "")]
    if args.inline:
        setups.append(("heavy calls on the event loop (rpc_workers = 0)", "rpc_workers = 0\n"))
    results = []
    for name, settings in setups:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{name}: starting a devnet", flush=True)
            urls, processes = start_devnet(Path(tmp) / "devnet", settings)
            try:
                quiet, loaded = phases(urls, args.window, args.clients)
                client = RpcClient(urls[0])
                started = time.monotonic()
                answer = client.call("eth_estimateGas", [{"data": "0x" + LOOP.hex()}])
                estimate_seconds = time.monotonic() - started
                results.append((name, quiet, loaded, answer, estimate_seconds))
            finally:
                for process in processes:
                    process.stop(timeout=30)
    for name, quiet, loaded, answer, seconds in results:
        report(name, quiet, loaded)
        print(f"  eth_estimateGas of the 2.6M-gas loop at node 0: {answer.get('result')} "
              f"in {seconds:.2f} s")  # fmt: skip
    print(f"\nloadavg at end {loadavg()}")


if __name__ == "__main__":
    main()
