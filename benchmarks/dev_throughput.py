"""ERC-20 throughput and latency of a dev node, and of Ganache when it is installed.

Sends N signed ERC-20 transfers (from ten senders) through eth_sendRawTransaction to a
node with interval mining and prints accepted/s, included/s and submit-to-inclusion
latency p50/p99. Then times the node's block import path in-process (build a block,
re-import it on a fresh engine). With `--ganache` it runs the same load against
ganache (npm package) in the same invocation and prints the ratios.

    python benchmarks/dev_throughput.py -n 1000
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from signing import NonceSigner

from peerchain.cli.abi import encode_arguments, encode_call
from peerchain.cli.contracts import compile_vyper
from peerchain.cli.rpcclient import RpcClient
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.drivers.keystore import dev_private_keys
from peerchain.testing.processes import NodeProcess, free_port

ROOT = Path(__file__).resolve().parents[1]


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class Load:
    """Signs and submits the transfers, and watches blocks for their inclusion."""

    def __init__(self, client: RpcClient, chain_id: int, keys: list[bytes]) -> None:
        self.client = client
        self.chain_id = chain_id
        self.keys = keys
        self.signer = NonceSigner(
            chain_id,
            {
                k: int(
                    client.request(
                        "eth_getTransactionCount", _hex(private_key_to_address(k)), "pending"
                    ),
                    16,
                )
                for k in keys
            },
        )

    def sign(self, key: bytes, to: bytes | None, data: bytes, gas: int, value: int = 0) -> bytes:
        return self.signer.sign(key, to, data, gas, value).raw

    def send_and_wait(self, raw: bytes) -> dict[str, Any]:
        tx_hash = self.client.request("eth_sendRawTransaction", _hex(raw))
        return self.client.wait_for_receipt(tx_hash, timeout=120)


def run_load(url: str, n: int, block_time_ms: int | None) -> dict[str, float]:
    """Run the load; `block_time_ms` None means the node was started with interval mining."""
    client = RpcClient(url)
    chain_id = int(client.request("eth_chainId"), 16)
    # The mempool keeps at most 64 transactions per sender: spread the load so that no
    # sender has more than 50 waiting; senders beyond the ten dev accounts get ether first.
    keys = dev_private_keys(10) + [
        keccak256(b"bench-sender-%d" % i) for i in range(max(0, -(-n // 50) - 10))
    ]
    if block_time_ms is not None:
        client.request("evm_setAutomine", False)
        client.request("evm_setIntervalMining", block_time_ms)
    load = Load(client, chain_id, keys)
    _, bytecode = compile_vyper(ROOT / "examples" / "Token.vy")
    init = bytecode + encode_arguments(
        ["string", "string", "uint256"], ["Bench", "B", "1" + "0" * 30]
    )
    deployed = load.send_and_wait(load.sign(keys[0], None, init, 3_000_000))
    token = bytes.fromhex(deployed["contractAddress"][2:])

    def fund(key: bytes, to: bytes) -> bytes:
        data = encode_call("transfer(address,uint256)", [_hex(to), "1" + "0" * 24])[0]
        return load.sign(key, token, data, 100_000)

    funding = [
        load.sign(keys[i % 10], private_key_to_address(k), b"", 21_000, 10**18)
        for i, k in enumerate(keys[10:])
    ]
    funding += [fund(keys[0], private_key_to_address(k)) for k in keys[1:]]
    for raw in funding[:-1]:
        client.request("eth_sendRawTransaction", _hex(raw))
    load.send_and_wait(funding[-1])
    receiver = _hex(b"\x42" * 20)
    raws = [
        load.sign(
            keys[i % len(keys)],
            token,
            encode_call("transfer(address,uint256)", [receiver, "1"])[0],
            100_000,
        )
        for i in range(n)
    ]
    start_block = int(client.request("eth_blockNumber"), 16)
    sent_at: dict[str, float] = {}
    included_at: dict[str, float] = {}
    done = threading.Event()
    finished = threading.Event()

    def watch() -> None:
        watcher = RpcClient(url)
        number = start_block + 1
        deadline = time.monotonic() + 600
        while (
            not finished.is_set()
            and time.monotonic() < deadline
            and (not done.is_set() or any(h not in included_at for h in list(sent_at)))
        ):
            block = watcher.request("eth_getBlockByNumber", hex(number), False)
            if block is None:
                time.sleep(0.02)
                continue
            now = time.perf_counter()
            for tx_hash in block["transactions"]:
                included_at[tx_hash] = now
            number += 1

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    for raw in raws:
        tx_hash = client.request("eth_sendRawTransaction", _hex(raw))
        sent_at[tx_hash] = time.perf_counter()
    t_accepted = time.perf_counter() - t0
    done.set()
    watcher.join(300)
    finished.set()
    included = [h for h in sent_at if h in included_at]
    if not included:
        raise SystemExit(f"none of the {n} transfers was included")
    t_included = max(included_at[h] for h in included) - t0
    latencies = sorted(included_at[h] - sent_at[h] for h in included)
    return {
        "accepted_per_s": n / t_accepted,
        "included_per_s": len(included) / t_included,
        "lost": n - len(included),
        "latency_p50_ms": statistics.median(latencies) * 1000,
        "latency_p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def import_path(n: int) -> dict[str, float]:
    """Build blocks of ERC-20 transfers in-process and re-import them on a fresh engine."""
    from execution_import import erc20_transfers  # the sibling benchmark script

    return erc20_transfers(n, per_block=min(n, 200))


def start_peerchain(tmp: Path) -> tuple[NodeProcess, str]:
    port = free_port()
    node = NodeProcess(
        ["dev", "--datadir", str(tmp / "data"), "--port", str(port)],
        tmp / "node.log",
        ready_marker="JSON-RPC:",
    ).start()
    return node, f"http://127.0.0.1:{port}"


def start_ganache(
    prefix: Path, tmp: Path, block_time_ms: int
) -> tuple[subprocess.Popen[bytes], str] | None:
    """Start ganache from an npm prefix (`npm install --prefix PREFIX ganache@7`)."""
    binary = prefix / "node_modules" / ".bin" / "ganache"
    if not binary.exists():
        return None
    port = free_port()
    proc = subprocess.Popen(
        [
            str(binary),
            "--port",
            str(port),
            "--chain.chainId",
            "1337",
            "--wallet.mnemonic",
            "test test test test test test test test test test test junk",
            "--logging.quiet",
            "--miner.blockTime",
            str(block_time_ms / 1000),
            "--miner.blockGasLimit",
            "30000000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    client = RpcClient(url, timeout=2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            client.request("eth_chainId")
            return proc, url
        except Exception:
            if proc.poll() is not None:
                return None
            time.sleep(0.2)
    proc.kill()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="number of transfers")
    parser.add_argument("--block-time-ms", type=int, default=1000)
    parser.add_argument(
        "--ganache",
        type=Path,
        metavar="NPM_PREFIX",
        help="also run against ganache installed under this npm prefix",
    )
    args = parser.parse_args()
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        node, url = start_peerchain(tmp)
        try:
            rows["peerchain"] = run_load(url, args.n, args.block_time_ms)
        finally:
            node.stop()
        if args.ganache:
            started = start_ganache(args.ganache, tmp, args.block_time_ms)
            if started is None:
                print(f"ganache not found under {args.ganache}: skipped")
            else:
                proc, url = started
                try:
                    rows["ganache"] = run_load(url, args.n, None)
                finally:
                    proc.kill()
    print(f"{args.n} ERC-20 transfers, interval mining every {args.block_time_ms} ms")
    print(
        f"{'node':<12}{'accepted/s':>12}{'included/s':>12}{'p50 ms':>10}{'p99 ms':>10}"
        f"{'never included':>16}"
    )
    for name, r in rows.items():
        print(
            f"{name:<12}{r['accepted_per_s']:>12.1f}{r['included_per_s']:>12.1f}"
            f"{r['latency_p50_ms']:>10.0f}{r['latency_p99_ms']:>10.0f}{r['lost']:>16.0f}"
        )
    if "ganache" in rows:
        p, g = rows["peerchain"], rows["ganache"]
        ratios = (f"{k} {p[k] / g[k]:.2f}" for k in p if k != "lost")
        print("ratio peerchain/ganache: " + ", ".join(ratios))
    timings = import_path(args.n)
    print(
        f"block path in-process, {args.n} ERC-20 transfers: build "
        f"{timings['build_per_s']:.0f} tx/s, import {timings['execute_per_s']:.0f} tx/s"
    )


if __name__ == "__main__":
    main()
