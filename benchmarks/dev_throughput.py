"""ERC-20 load on a dev chain: `peerchain dev` against Hardhat's node, side by side.

Each round starts Hardhat's node (when installed) and then `peerchain dev`, both with
automine, and runs the same load on each: examples/Token.vy is deployed, `--senders`
accounts get ether and tokens, then `-n` ERC-20 transfers (signed beforehand, each
sender's nonces in order) go through eth_sendRawTransaction over `--connections`
keep-alive HTTP connections. A connection owns a fixed set of senders and, for each
transfer, sends it and then asks for its receipt until there is one.

Printed per node and round: included transfers/s (transfers / time from the first send to
the last receipt) and receipt latency p50/p99 (send to receipt, per transfer); then the
medians over the rounds, peerchain/Hardhat ratios and the load average of the machine.

    make bench-dev                    # installs Hardhat 2 under .bench/hardhat first
    python benchmarks/dev_throughput.py -n 2000 --rounds 3 --hardhat .bench/hardhat
    python benchmarks/dev_throughput.py --py-spy /tmp/dev.txt   # profile peerchain dev
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from signing import NonceSigner

from peerchain.cli.abi import encode_arguments, encode_call
from peerchain.cli.contracts import compile_vyper
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.drivers.keystore import dev_private_keys
from peerchain.testing.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
HARDHAT_CONFIG = "module.exports = { networks: { hardhat: { mining: { auto: true } } } };\n"
TOKEN_UNIT = 10**18


class Connection:
    """One keep-alive HTTP connection speaking JSON-RPC."""

    def __init__(self, port: int) -> None:
        self._http = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self._id = 0

    def request(self, method: str, *params: Any) -> Any:
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        self._http.request("POST", "/", body, {"Content-Type": "application/json"})
        answer = json.loads(self._http.getresponse().read())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def receipt(self, tx_hash: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (found := self.request("eth_getTransactionReceipt", tx_hash)) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no receipt for {tx_hash} in {timeout}s")
            time.sleep(0.005)
        return dict(found)

    def close(self) -> None:
        self._http.close()


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _transfer(to: bytes, amount: int) -> bytes:
    return encode_call("transfer(address,uint256)", [_hex(to), str(amount)])[0]


def prepare(conn: Connection, senders: int) -> tuple[NonceSigner, list[bytes], bytes]:
    """Deploy the token and fund `senders` accounts; returns the signer, keys and token."""
    keys = dev_private_keys(10) + [keccak256(b"bench-sender-%d" % i) for i in range(senders - 10)]
    keys = keys[:senders]
    chain_id = int(conn.request("eth_chainId"), 16)
    start = {
        k: int(conn.request("eth_getTransactionCount", _hex(private_key_to_address(k))), 16)
        for k in keys
    }
    signer = NonceSigner(chain_id, start)
    bytecode = compile_vyper(ROOT / "examples" / "Token.vy").bytecode
    init = bytecode + encode_arguments(
        ["string", "string", "uint256"], ["Bench", "B", "1" + "0" * 30]
    )
    deploy = signer.sign(keys[0], None, init, 3_000_000)
    token_hex = conn.receipt(conn.request("eth_sendRawTransaction", _hex(deploy.raw)))[
        "contractAddress"
    ]
    token = bytes.fromhex(token_hex[2:])
    funding = [
        signer.sign(keys[i % 10], private_key_to_address(k), b"", 21_000, 10**20)
        for i, k in enumerate(keys[10:])
    ]
    funding += [
        signer.sign(keys[0], token, _transfer(private_key_to_address(k), TOKEN_UNIT), 100_000)
        for k in keys[1:]
    ]
    hashes = [conn.request("eth_sendRawTransaction", _hex(tx.raw)) for tx in funding]
    for tx_hash in hashes:
        conn.receipt(tx_hash)
    return signer, keys, token


def run_load(port: int, n: int, senders: int, connections: int) -> dict[str, float]:
    """Run the load on a node listening on `port`; returns its figures."""
    setup = Connection(port)
    signer, keys, token = prepare(setup, senders)
    setup.close()
    receiver = b"\x42" * 20
    # Transfer i comes from sender i % senders; connection c owns senders c, c+k, c+2k...
    per_connection: list[list[str]] = [[] for _ in range(connections)]
    for i in range(n):
        sender = i % senders
        raw = signer.sign(keys[sender], token, _transfer(receiver, 1), 100_000).raw
        per_connection[sender % connections].append(_hex(raw))
    latencies: list[float] = []
    last_receipt = [0.0]
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(connections + 1)

    def drive(raws: list[str]) -> None:
        conn = Connection(port)
        mine: list[float] = []
        try:
            start.wait()
            for raw in raws:
                sent = time.perf_counter()
                receipt = conn.receipt(conn.request("eth_sendRawTransaction", raw))
                done = time.perf_counter()
                if receipt["status"] != "0x1":
                    raise RuntimeError(f"transfer failed: {receipt}")
                mine.append(done - sent)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)
                last_receipt[0] = max(last_receipt[0], time.perf_counter())

    threads = [threading.Thread(target=drive, args=(raws,)) for raws in per_connection]
    for thread in threads:
        thread.start()
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"load failed: {failures[0]!r}")
    latencies.sort()
    return {
        "included_per_s": len(latencies) / (last_receipt[0] - t0),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
    }


@contextmanager
def _process(
    command: list[str], log: Path, cwd: Path, port: int, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A node process writing its output straight to `log` (a slow reader of a pipe would
    hold it up), ready once it answers JSON-RPC on `port`; terminated on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                Connection(port).request("eth_chainId")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text()[-2000:]) from None
                time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def peerchain_dev(tmp: Path, profile: Path | None, source: Path | None = None) -> Iterator[int]:
    """`peerchain dev` of this checkout, or of the `src/` folder `source` (a baseline)."""
    port = free_port()
    command = [sys.executable, "-m", "peerchain.cli", "dev", "--datadir", str(tmp / "data")]
    env = None
    if source is not None:  # as it runs on its own: not with the keccak backend we chose
        env = {k: v for k, v in os.environ.items() if k != "ETH_HASH_BACKEND"}
        env["PYTHONPATH"] = str(source.resolve())
    log = tmp / "peerchain.log"
    with _process([*command, "--port", str(port)], log, tmp, port, env) as proc:
        spy = None
        if profile is not None:
            py_spy = str(Path(sys.executable).parent / "py-spy")
            options = ["--format", "raw", "--rate", "200", "--nonblocking", "--output"]
            spy = subprocess.Popen(
                [py_spy, "record", *options, str(profile), "--pid", str(proc.pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
        try:
            yield port
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)


@contextmanager
def hardhat_node(prefix: Path, tmp: Path) -> Iterator[int]:
    """Hardhat's node from an npm prefix (`npm install --prefix PREFIX hardhat@2`)."""
    binary = prefix.resolve() / "node_modules" / ".bin" / "hardhat"
    project = tmp / "hardhat"
    project.mkdir(exist_ok=True)
    (project / "hardhat.config.js").write_text(HARDHAT_CONFIG)
    (project / "node_modules").symlink_to(prefix.resolve() / "node_modules")
    port = free_port()
    command = [str(binary), "node", "--hostname", "127.0.0.1", "--port", str(port)]
    with _process(command, tmp / "hardhat.log", project, port):
        yield port


def _row(name: str, r: dict[str, float]) -> str:
    return f"{name:<14}{r['included_per_s']:>12.1f}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}"


def _median(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="transfers per node and round")
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hardhat", type=Path, metavar="NPM_PREFIX", help="Hardhat 2 install")
    parser.add_argument("--py-spy", type=Path, metavar="FILE", help="profile peerchain (raw)")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="SRC",
        help="also run peerchain from this src/ folder (say an older commit's, by git archive)",
    )
    args = parser.parse_args()
    os.environ.setdefault("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
    runs: dict[str, list[dict[str, float]]] = {"hardhat": [], "baseline": [], "peerchain": []}
    nodes: dict[str, Callable[[Path], Any]] = {}
    if args.hardhat and (args.hardhat / "node_modules" / ".bin" / "hardhat").exists():
        nodes["hardhat"] = lambda tmp: hardhat_node(args.hardhat, tmp)
    else:
        print("Hardhat not installed (make bench-dev installs it): peerchain only")
    if args.baseline:
        nodes["baseline"] = lambda tmp: peerchain_dev(tmp, None, args.baseline)
    nodes["peerchain"] = lambda tmp: peerchain_dev(tmp, args.py_spy)
    print(
        f"{args.n} ERC-20 transfers from {args.senders} senders over {args.connections} "
        f"connections, automine; loadavg {os.getloadavg()[0]:.2f}"
    )
    print(f"{'round/node':<14}{'included/s':>12}{'p50 ms':>10}{'p99 ms':>10}   loadavg")
    for round_ in range(1, args.rounds + 1):
        for name, start in nodes.items():
            with tempfile.TemporaryDirectory() as tmpdir, start(Path(tmpdir)) as port:
                result = run_load(port, args.n, args.senders, args.connections)
            runs[name].append(result)
            print(f"{_row(f'{round_} {name}', result)}   {os.getloadavg()[0]:.2f}", flush=True)
    medians = {name: _median(rows) for name, rows in runs.items() if rows}
    for name, row in medians.items():
        print(_row(f"median {name}", row))
    if "hardhat" in medians:
        p, h = medians["peerchain"], medians["hardhat"]
        ratio = p["included_per_s"] / h["included_per_s"]
        print(
            f"ratio peerchain/hardhat: included/s {ratio:.2f} (target >= 0.50: "
            f"{'met' if ratio >= 0.5 else 'not met'}), p50 latency "
            f"{p['p50_ms'] / h['p50_ms']:.2f}x, p99 latency {p['p99_ms'] / h['p99_ms']:.2f}x"
        )
    if "baseline" in medians:
        p, b = medians["peerchain"], medians["baseline"]
        print(
            f"ratio peerchain/baseline: included/s {p['included_per_s'] / b['included_per_s']:.2f}"
            f", p50 latency {p['p50_ms'] / b['p50_ms']:.2f}x"
        )
    print(f"loadavg at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
