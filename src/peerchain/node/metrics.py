"""Prometheus metrics of one node (prometheus-client; the only module that imports it).

Each node keeps its metrics in its own `CollectorRegistry`, never the library's global
one, so that several nodes in one process (tests, the simulator) keep theirs apart.
`NodeMetrics.render()` is the text exposition served at `/metrics` (made off the event
loop).

Read from the node at each scrape (`NodeSample`), as gauges:
- EIP-2159: `ethereum_blockchain_height`, `ethereum_best_known_block_number`,
  `ethereum_peer_count`, `ethereum_peer_limit`;
- `peerchain_consensus_height`, `peerchain_consensus_round` (what consensus is deciding),
  `peerchain_consensus_validators`, `peerchain_consensus_evidence` (double-sign evidence
  held), `peerchain_p2p_banned_peers`, `peerchain_mempool_size`, `peerchain_node_fault`
  (1 while a local fault halts the node).

Counted as things happen:
- `peerchain_consensus_block_interval_seconds` (histogram of the time between consecutive
  block headers, as CometBFT measures it), `peerchain_consensus_rounds_per_height`
  (histogram: rounds a height took, from its certificate), and
  `peerchain_consensus_missed_blocks_total{validator}` (blocks whose canonical certificate,
  the one the next block carries, lacks the validator's signature);
- `peerchain_p2p_messages_total` and `peerchain_p2p_message_bytes_total` by `channel`
  (consensus, blocks, transactions, peer_exchange, sync, control) and `direction`
  (in/out; bytes as encoded, before encryption), `peerchain_p2p_send_dropped_total`
  (messages a full peer queue refused), `peerchain_p2p_bans_total`;
- `peerchain_mempool_admitted_total`, `peerchain_mempool_rejected_total{reason}`;
- `peerchain_rpc_requests_total{method,outcome}` and
  `peerchain_rpc_request_duration_seconds{method}` (the dispatcher names unregistered
  methods `other`, so clients cannot grow the label set).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from peerchain.core.blocks import Header
from peerchain.core.consensus.certificate import CommitCertificate
from peerchain.core.p2p.messages import (
    Blocks,
    Channel,
    Direct,
    GetBlocks,
    Gossip,
    Message,
    PexRequest,
    PexResponse,
    encode_message,
)

BLOCK_INTERVAL_BUCKETS = (0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120)
ROUND_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16)
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass(frozen=True, slots=True)
class NodeSample:
    """What the node reports at each scrape; consensus fields are None on a dev node."""

    height: int
    best_known: int
    peers: int
    peer_limit: int
    mempool_size: int
    fault: bool
    consensus_height: int | None = None
    consensus_round: int | None = None
    validators: int | None = None
    evidence: int | None = None
    banned_peers: int | None = None


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class _SampleCollector(Collector):
    """Gauges read from the node when Prometheus scrapes: `take` reads them (on the
    node's event loop), `collect` reports what was taken, from any thread."""

    def __init__(self, sample: Callable[[], NodeSample]) -> None:
        self._sample = sample
        self._taken: NodeSample | None = None

    def take(self) -> None:
        self._taken = self._sample()

    def collect(self) -> Iterable[Metric]:
        s = self._taken if self._taken is not None else self._sample()
        yield _gauge(
            "ethereum_blockchain_height", "The current height of the canonical chain", s.height
        )
        yield _gauge(
            "ethereum_best_known_block_number",
            "The estimated highest block available (peers' heights, block sync target)",
            s.best_known,
        )
        yield _gauge("ethereum_peer_count", "The current number of peers connected", s.peers)
        yield _gauge(
            "ethereum_peer_limit", "The maximum number of peers this node connects", s.peer_limit
        )
        yield _gauge("peerchain_mempool_size", "Transactions in the mempool", s.mempool_size)
        yield _gauge("peerchain_node_fault", "1 while a local fault halts the node", s.fault)
        optional = (
            ("peerchain_consensus_height", "Height consensus is deciding", s.consensus_height),
            ("peerchain_consensus_round", "Round consensus is in", s.consensus_round),
            ("peerchain_consensus_validators", "Validators in the current set", s.validators),
            ("peerchain_consensus_evidence", "Double-sign evidence records held", s.evidence),
            ("peerchain_p2p_banned_peers", "Peers banned at the moment", s.banned_peers),
        )
        for name, documentation, value in optional:
            if value is not None:
                yield _gauge(name, documentation, value)

    def describe(self) -> Iterable[Metric]:
        return []  # sampled on demand; nothing to register up front


def _channel_of(message: Message) -> str:
    """The channel label of a message."""
    if isinstance(message, Gossip | Direct):
        return message.channel.name.lower()
    if isinstance(message, Blocks | GetBlocks):
        return "sync"
    if isinstance(message, PexRequest | PexResponse):
        return Channel.PEER_EXCHANGE.name.lower()
    return "control"


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def reason_label(error: Exception) -> str:
    """`NonceTooLow` -> `nonce_too_low`: the label of a rejection reason."""
    return _CAMEL.sub("_", type(error).__name__).lower()


class NodeMetrics:
    """The metrics of one node, in its own registry. Methods are cheap and thread-safe."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._block_interval = Histogram(
            "peerchain_consensus_block_interval_seconds",
            "Time between the headers of consecutive blocks",
            buckets=BLOCK_INTERVAL_BUCKETS,
            registry=r,
        )
        self._rounds = Histogram(
            "peerchain_consensus_rounds_per_height",
            "Rounds a height took to be decided (1: decided in its first round)",
            buckets=ROUND_BUCKETS,
            registry=r,
        )
        self._missed = Counter(
            "peerchain_consensus_missed_blocks",
            "Blocks whose canonical commit certificate lacks this validator's signature",
            ["validator"],
            registry=r,
        )
        self._messages = Counter(
            "peerchain_p2p_messages",
            "Peer-to-peer messages by channel and direction",
            ["channel", "direction"],
            registry=r,
        )
        self._bytes = Counter(
            "peerchain_p2p_message_bytes",
            "Encoded bytes of peer-to-peer messages (before encryption)",
            ["channel", "direction"],
            registry=r,
        )
        self._dropped = Counter(
            "peerchain_p2p_send_dropped",
            "Messages not sent because the peer's queue was full",
            ["channel"],
            registry=r,
        )
        self._bans = Counter("peerchain_p2p_bans", "Peers banned", registry=r)
        self._admitted = Counter(
            "peerchain_mempool_admitted", "Transactions admitted to the mempool", registry=r
        )
        self._rejected = Counter(
            "peerchain_mempool_rejected",
            "Transactions refused by the mempool, by reason",
            ["reason"],
            registry=r,
        )
        self._rpc_requests = Counter(
            "peerchain_rpc_requests",
            "JSON-RPC calls by method and outcome (ok, error)",
            ["method", "outcome"],
            registry=r,
        )
        self._rpc_duration = Histogram(
            "peerchain_rpc_request_duration_seconds",
            "Time to answer a JSON-RPC call, by method",
            ["method"],
            buckets=RPC_BUCKETS,
            registry=r,
        )
        self._last_timestamp: int | None = None
        self._samples: _SampleCollector | None = None
        self._rendering: asyncio.Future[bytes] | None = None

    def sample_from(self, sample: Callable[[], NodeSample]) -> None:
        """Read the gauges from `sample()` at each scrape (the node calls this once)."""
        self._samples = _SampleCollector(sample)
        self.registry.register(self._samples)

    async def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition of every metric, and its content type.

        The node's gauges are read on the calling (event loop) thread; the text, tens of
        milliseconds for a busy node's histograms, is made on a worker thread, and
        scrapes that arrive meanwhile share it, so scrapes cannot hold the loop."""
        if self._rendering is None:
            if self._samples is not None:
                self._samples.take()
            rendering = asyncio.ensure_future(asyncio.to_thread(generate_latest, self.registry))
            self._rendering = rendering
            rendering.add_done_callback(lambda _: setattr(self, "_rendering", None))
        return await asyncio.shield(self._rendering), CONTENT_TYPE_LATEST

    # --- consensus ------------------------------------------------------------------------
    def block_committed(self, header: Header) -> None:
        """A block became the head: observe the interval since its parent's header."""
        last, self._last_timestamp = self._last_timestamp, header.timestamp
        if last is not None and header.timestamp >= last:
            self._block_interval.observe(header.timestamp - last)

    def certificate_final(
        self, certificate: CommitCertificate, validators: Iterable[bytes]
    ) -> None:
        """The canonical certificate of a block is known: count its rounds and who missed it."""
        self._rounds.observe(certificate.round + 1)
        signed = {validator for validator, _ in certificate.signatures}
        for validator in validators:
            if validator not in signed:
                self._missed.labels("0x" + validator.hex()).inc()

    # --- peer-to-peer ---------------------------------------------------------------------
    def message(self, message: Message, direction: str) -> None:
        """A message was received ("in") or queued for a peer ("out")."""
        channel = _channel_of(message)
        self._messages.labels(channel, direction).inc()
        self._bytes.labels(channel, direction).inc(len(encode_message(message)))

    def send_dropped(self, message: Message) -> None:
        self._dropped.labels(_channel_of(message)).inc()

    def peer_banned(self) -> None:
        self._bans.inc()

    # --- mempool --------------------------------------------------------------------------
    def transaction_admitted(self) -> None:
        self._admitted.inc()

    def transaction_rejected(self, error: Exception) -> None:
        self._rejected.labels(reason_label(error)).inc()

    # --- JSON-RPC -------------------------------------------------------------------------
    def rpc_called(self, method: str, seconds: float, failed: bool) -> None:
        """One JSON-RPC call answered; `method` is a registered name or "other"."""
        self._rpc_requests.labels(method, "error" if failed else "ok").inc()
        self._rpc_duration.labels(method).observe(seconds)
