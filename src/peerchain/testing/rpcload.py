"""JSON-RPC load on running nodes, for tests and benchmarks: clients sending one heavy call
back to back, a probe timing cheap calls, and a watcher stamping each new block.

    report = measure_under_load(watch=url2, probe=url0, heavy=[url0, url1],
                                request=("eth_call", [{"data": "0x..."}, "latest"]),
                                clients=3, seconds=30)
    print(report.blocks_per_minute, report.cheap_p50)

Every loop is bounded by the deadline; HTTP clients are plain threads (http.client).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

CHEAP_CALLS: tuple[tuple[str, list[Any]], ...] = (
    ("eth_blockNumber", []),
    ("eth_chainId", []),
    ("eth_getBalance", ["0x" + "00" * 19 + "01", "latest"]),
)
WATCH_INTERVAL = 0.05  # seconds between two height polls of the watcher
PROBE_INTERVAL = 0.05  # seconds between two rounds of cheap calls


class RpcClient:
    """One keep-alive HTTP connection to a node's JSON-RPC."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def call(self, method: str, params: Sequence[Any]) -> dict[str, Any]:
        """The JSON-RPC answer (with "result" or "error"). Raises OSError when the node
        cannot be reached."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._host, self._port, self._timeout)
            try:
                self._conn.request("POST", "/", body, {"Content-Type": "application/json"})
                answer: dict[str, Any] = json.loads(self._conn.getresponse().read())
                return answer
            except (OSError, http.client.HTTPException):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


@dataclass
class LoadReport:
    """What one measuring window saw."""

    seconds: float
    blocks: int
    longest_gap: float
    cheap_latencies: list[float] = field(default_factory=list)
    cheap_errors: int = 0
    heavy_answers: int = 0
    heavy_errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def blocks_per_minute(self) -> float:
        return 60.0 * self.blocks / self.seconds

    def cheap_percentile(self, fraction: float) -> float:
        ordered = sorted(self.cheap_latencies) or [float("nan")]
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _height(client: RpcClient) -> int:
    return int(client.call("eth_blockNumber", [])["result"], 16)


def _watch(url: str, deadline: float, report: LoadReport) -> None:
    client = RpcClient(url)
    start_height = last_height = _height(client)
    last_change = time.monotonic()
    while (now := time.monotonic()) < deadline:
        height = _height(client)
        if height != last_height:
            report.longest_gap = max(report.longest_gap, now - last_change)
            last_height, last_change = height, now
        time.sleep(WATCH_INTERVAL)
    report.longest_gap = max(report.longest_gap, time.monotonic() - last_change)
    report.blocks = last_height - start_height
    client.close()


def _probe(url: str, deadline: float, report: LoadReport) -> None:
    client = RpcClient(url)
    while time.monotonic() < deadline:
        for method, params in CHEAP_CALLS:
            started = time.monotonic()
            try:
                answer = client.call(method, params)
            except OSError:
                answer = {"error": "unreachable"}
            report.cheap_latencies.append(time.monotonic() - started)
            report.cheap_errors += "error" in answer
        time.sleep(PROBE_INTERVAL)
    client.close()


def _hammer(url: str, request: tuple[str, list[Any]], deadline: float, report: LoadReport) -> None:
    client = RpcClient(url)
    while time.monotonic() < deadline:
        try:
            answer = client.call(*request)
        except OSError as exc:
            answer = {"error": {"message": type(exc).__name__}}
        with report.lock:
            if "error" in answer:
                report.heavy_errors[str(answer["error"].get("message"))[:60]] += 1
            else:
                report.heavy_answers += 1
    client.close()


def measure_under_load(
    *,
    watch: str,
    probe: str,
    heavy: Sequence[str],
    request: tuple[str, list[Any]],
    clients: int,
    seconds: float,
) -> LoadReport:
    """Count the blocks `watch` commits in `seconds` and time cheap calls at `probe` while
    `clients` clients per URL of `heavy` send `request` back to back (none if empty)."""
    report = LoadReport(seconds=seconds, blocks=0, longest_gap=0.0)
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=_watch, args=(watch, deadline, report))]
    threads.append(threading.Thread(target=_probe, args=(probe, deadline, report)))
    for url in heavy:
        for _ in range(clients):
            threads.append(threading.Thread(target=_hammer, args=(url, request, deadline, report)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return report
