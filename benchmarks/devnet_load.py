"""Load on a 4-validator devnet of real processes on this machine: finalized ERC-20
transfers per second at saturation, submission-to-finality latency at a light load,
blocks per minute, and the gossip latency of a vote.

    python benchmarks/devnet_load.py [--senders 60] [--per-sender 50] [--light 40]

Method:
- The devnet is the one `peerchain devnet -n 4` runs (same files, same node command),
  on free loopback ports in a temporary directory. examples/Token.vy is deployed and
  `--senders` fresh accounts get ether and tokens.
- Finality: BFT commits are final, so a transfer is final when a block holding it is
  committed. A WebSocket `newHeads` subscription on node 0 stamps each block on arrival;
  a transfer's latency is that stamp minus the moment its eth_sendRawTransaction
  returned.
- Light load: one transfer every `--interval` seconds, sent to the nodes in turn.
  Blocks per minute are counted over that phase.
- Saturation: `--senders` x `--per-sender` signed transfers (signed beforehand) are sent
  as fast as `--concurrency` HTTP requests allow, spread over the 4 nodes. Transfers per
  second = transfers / (commit of the block holding the last one - first submission).
- Vote gossip latency: a probe peer in this process (the real TCP + Noise transport) holds
  a link to every validator and stamps each consensus vote each link delivers. A vote
  comes directly from its signer's node and once more from every other node, which
  relays it on receipt; the difference between the two arrivals is one gossip hop
  (signer -> validator -> probe minus signer -> probe): the time a vote takes to reach
  another validator and leave it again, decryption, checks and queues included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from signing import NonceSigner

from peerchain.cli.abi import encode_arguments, encode_call
from peerchain.cli.contracts import compile_vyper
from peerchain.cli.devnet import DevnetNode, create_devnet
from peerchain.cli.rpcclient import RpcClient
from peerchain.core.consensus.messages import Vote
from peerchain.core.consensus.wire import decode_message as decode_consensus
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.errors import DecodeError
from peerchain.core.p2p.identity import NodeKey, parse_address
from peerchain.core.p2p.messages import PROTOCOL_VERSION, Channel, Gossip, Hello
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.net import TcpTransport, TransportConfig
from peerchain.node.ports import LinkClosed, PeerLink
from peerchain.testing.processes import NodeProcess, free_ports

ROOT = Path(__file__).resolve().parents[1]
ETHER = 10**18
VALIDATORS = 4
RECEIVER = "0x" + "42" * 20


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# --- the devnet -------------------------------------------------------------------------------
def start_devnet(directory: Path) -> tuple[list[DevnetNode], list[NodeProcess]]:
    base = free_ports(2 * VALIDATORS)
    nodes = create_devnet(directory, VALIDATORS, p2p_port=base, rpc_port=base + VALIDATORS)
    processes = [
        NodeProcess(
            ["node", "--config", str(n.config)], n.directory / "node.log", "JSON-RPC:"
        ).launch()
        for n in nodes
    ]
    for process in processes:
        process.wait_ready()
    return nodes, processes


class Signer(NonceSigner):
    """Signs transactions with local nonces; returns them as hex for JSON-RPC."""

    def sign_hex(self, key: bytes, to: bytes | None, data: bytes, gas: int, value: int = 0) -> str:
        return _hex(self.sign(key, to, data, gas, value).raw)


def setup_token(client: RpcClient, signer: Signer, senders: list[bytes]) -> bytes:
    """Deploy the token, give every sender ether and tokens; return the token address."""
    dev = dev_private_keys(10)
    bytecode = compile_vyper(ROOT / "examples" / "Token.vy").bytecode
    init = bytecode + encode_arguments(
        ["string", "string", "uint256"], ["Load", "L", "1" + "0" * 30]
    )
    deploy = client.request(
        "eth_sendRawTransaction", signer.sign_hex(dev[0], None, init, 3_000_000)
    )
    token = bytes.fromhex(client.wait_for_receipt(deploy, 120)["contractAddress"][2:])
    last: list[str] = []
    for i, key in enumerate(senders):
        address = private_key_to_address(key)
        data = encode_call("transfer(address,uint256)", [_hex(address), "1" + "0" * 24])[0]
        last.append(
            client.request("eth_sendRawTransaction", signer.sign_hex(dev[0], token, data, 100_000))
        )
        funder = dev[1 + i % 9]
        last.append(
            client.request(
                "eth_sendRawTransaction", signer.sign_hex(funder, address, b"", 21_000, ETHER)
            )
        )
        if len(last) >= 100:
            for tx_hash in last:
                client.wait_for_receipt(tx_hash, 120)
            last = []
    for tx_hash in last:
        client.wait_for_receipt(tx_hash, 120)
    return token


# --- observers ------------------------------------------------------------------------------
@dataclass
class Heads:
    """Blocks as node 0 announces them over WebSocket, stamped on arrival."""

    ws_url: str
    http_url: str
    included_at: dict[str, float] = field(default_factory=dict)
    blocks: list[tuple[int, float, int]] = field(default_factory=list)  # number, time, txs
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(self.ws_url) as ws:
            await ws.send_json(
                {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}
            )
            async for message in ws:
                data = json.loads(message.data)
                if data.get("method") != "eth_subscription":
                    continue
                stamp = time.perf_counter()
                number = data["params"]["result"]["number"]
                block = await rpc(session, self.http_url, "eth_getBlockByNumber", number, False)
                for tx_hash in block["transactions"]:
                    self.included_at[tx_hash] = stamp
                self.blocks.append((int(number, 16), stamp, len(block["transactions"])))
                self.changed.set()

    async def wait_for(self, hashes: Sequence[str], timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while not all(h in self.included_at for h in hashes):
            self.changed.clear()
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                missing = sum(h not in self.included_at for h in hashes)
                raise TimeoutError(f"{missing} transfers not final after {timeout}s")
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                continue

    def per_minute(self, start: float, end: float) -> float:
        count = sum(1 for _, stamp, _ in self.blocks if start <= stamp <= end)
        return count * 60 / (end - start)


class VoteProbe:
    """A peer linked to every validator that stamps each vote each link delivers."""

    def __init__(self, chain_id: int, genesis_hash: bytes) -> None:
        self.identity = NodeKey.from_private_key(keccak256(b"vote probe"))
        self.hello_message = Hello(
            PROTOCOL_VERSION, chain_id, genesis_hash, self.identity.node_id, "127.0.0.1", 0, 0
        )
        self.transport = TcpTransport(self.identity, TransportConfig(listen_port=0))
        self.arrivals: dict[tuple[Any, ...], dict[int, float]] = defaultdict(dict)
        self.tasks: list[asyncio.Task[None]] = []
        self.recording = True

    # LinkHandler
    def hello(self) -> Hello:
        return self.hello_message

    def on_link(self, link: PeerLink) -> None:
        link.close("the probe only dials")

    def on_rejected(self, *args: object) -> None:
        pass

    async def start(self, nodes: list[DevnetNode]) -> None:
        await self.transport.start(self)
        for node in nodes:
            link = await self.transport.dial(parse_address(node.p2p_address))
            self.tasks.append(asyncio.create_task(self._listen(node.index, link)))

    async def _listen(self, index: int, link: PeerLink) -> None:
        try:
            while True:
                message = await link.receive()
                stamp = time.perf_counter()
                if not self.recording or not isinstance(message, Gossip):
                    continue
                if message.channel != Channel.CONSENSUS:
                    continue
                try:
                    vote = decode_consensus(message.payload)
                except DecodeError:
                    continue
                if isinstance(vote, Vote):
                    key = (vote.kind, vote.height, vote.round, vote.validator, vote.block_hash)
                    self.arrivals[key].setdefault(index, stamp)
        except LinkClosed:
            return

    def hops(self, signer_node: dict[bytes, int]) -> list[float]:
        """For each vote and each node other than its signer's: the extra time it took to
        come through that node."""
        found = []
        for key, arrivals in self.arrivals.items():
            direct = arrivals.get(signer_node[key[3]])
            if direct is None:
                continue
            found += [t - direct for i, t in arrivals.items() if i != signer_node[key[3]]]
        return found

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.transport.stop()


async def rpc(session: aiohttp.ClientSession, url: str, method: str, *params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    async with session.post(url, json=body) as response:
        answer = await response.json()
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


# --- the phases -------------------------------------------------------------------------------
def transfer(signer: Signer, key: bytes, token: bytes, gas: int) -> str:
    data = encode_call("transfer(address,uint256)", [RECEIVER, "1"])[0]
    return signer.sign_hex(key, token, data, gas)


async def light_load(
    session: aiohttp.ClientSession,
    urls: list[str],
    heads: Heads,
    raws: list[str],
    interval: float,
) -> dict[str, float]:
    sent_at: dict[str, float] = {}
    start = time.perf_counter()
    for i, raw in enumerate(raws):
        await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
        tx_hash = await rpc(session, urls[i % len(urls)], "eth_sendRawTransaction", raw)
        sent_at[tx_hash] = time.perf_counter()
    await heads.wait_for(list(sent_at), 120)
    end = time.perf_counter()
    latencies = [heads.included_at[h] - t for h, t in sent_at.items()]
    return {
        "count": len(raws),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "blocks_per_minute": heads.per_minute(start, end),
    }


async def saturation(
    session: aiohttp.ClientSession,
    urls: list[str],
    heads: Heads,
    raws: list[str],
    concurrency: int,
) -> dict[str, float]:
    gate = asyncio.Semaphore(concurrency)
    sent: list[str] = []
    rejected: list[str] = []

    async def send(i: int, raw: str) -> None:
        async with gate:
            try:
                sent.append(await rpc(session, urls[i % len(urls)], "eth_sendRawTransaction", raw))
            except RuntimeError as exc:
                rejected.append(str(exc))

    start = time.perf_counter()
    await asyncio.gather(*(send(i, raw) for i, raw in enumerate(raws)))
    submitted = time.perf_counter()
    await heads.wait_for(sent, 900)
    final = max(heads.included_at[h] for h in sent)
    busy = [b for b in heads.blocks if start <= b[1] <= final]
    return {
        "count": len(sent),
        "rejected": len(rejected),
        "submit_per_s": len(raws) / (submitted - start),
        "final_per_s": len(sent) / (final - start),
        "seconds": final - start,
        "blocks": len(busy),
        "max_block_txs": max((b[2] for b in busy), default=0),
        "blocks_per_minute": heads.per_minute(start, final),
    }


async def run(args: argparse.Namespace, nodes: list[DevnetNode]) -> None:
    urls = [n.rpc_url for n in nodes]
    client = RpcClient(urls[0], timeout=60)
    chain_id = int(client.request("eth_chainId"), 16)
    signer = Signer(chain_id)
    senders = [keccak256(b"load sender %d" % i) for i in range(args.senders)]
    token = setup_token(client, signer, senders)
    light = [
        transfer(signer, senders[i % len(senders)], token, args.gas) for i in range(args.light)
    ]
    heavy = [
        transfer(signer, key, token, args.gas) for _ in range(args.per_sender) for key in senders
    ]  # interleaved senders: each sender's nonces stay in order per node
    genesis = bytes.fromhex(client.request("eth_getBlockByNumber", "0x0", False)["hash"][2:])
    signer_node = {
        private_key_to_address(bytes.fromhex((n.directory / "validator.key").read_text())): n.index
        for n in nodes
    }
    probe = VoteProbe(chain_id, genesis)
    await probe.start(nodes)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=args.concurrency + 8)
    ) as session:
        heads = Heads(urls[0].replace("http", "ws", 1), urls[0])
        watcher = asyncio.create_task(heads.run(session))
        quiet = await light_load(session, urls, heads, light, args.interval)
        quiet_hops = probe.hops(signer_node)
        probe.arrivals.clear()
        busy = await saturation(session, urls, heads, heavy, args.concurrency)
        busy_hops = probe.hops(signer_node)
        watcher.cancel()
    await probe.stop()

    print(f"4-validator devnet on this machine, ERC-20 transfers of {ROOT / 'examples/Token.vy'}")
    print(
        f"light load ({quiet['count']:.0f} transfers, one every {args.interval}s): "
        f"finality p50 {quiet['p50_ms']:.0f} ms, p99 {quiet['p99_ms']:.0f} ms; "
        f"{quiet['blocks_per_minute']:.1f} blocks/min"
    )
    print(
        f"saturation ({busy['count']:.0f} transfers from {args.senders} senders, "
        f"{busy['rejected']:.0f} rejected): {busy['final_per_s']:.1f} finalized transfers/s "
        f"({busy['seconds']:.1f} s; submitted at {busy['submit_per_s']:.0f}/s); "
        f"{busy['blocks']:.0f} blocks, at most {busy['max_block_txs']:.0f} transfers in one, "
        f"{busy['blocks_per_minute']:.1f} blocks/min"
    )
    for name, hops in (("light load", quiet_hops), ("saturation", busy_hops)):
        if hops:
            print(
                f"vote gossip, one hop, {name}: p50 {statistics.median(hops) * 1000:.1f} ms, "
                f"p99 {percentile(hops, 0.99) * 1000:.1f} ms ({len(hops)} samples)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=60, help="accounts sending at saturation")
    parser.add_argument("--per-sender", type=int, default=50, help="transfers each (<= 64)")
    parser.add_argument("--light", type=int, default=40, help="transfers at light load")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between them")
    parser.add_argument(
        "--gas",
        type=int,
        default=60_000,
        help="gas limit of a transfer (the block holds 30M / this many)",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--keep", type=Path, help="keep the devnet files (and logs) here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp) / "devnet"
        nodes, processes = start_devnet(directory)
        try:
            asyncio.run(run(args, nodes))
        finally:
            for process in processes:
                process.stop(timeout=20)


if __name__ == "__main__":
    main()
