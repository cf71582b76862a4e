"""A bare network node driven over stdin/stdout, for multi-process tests and benchmarks.

    python -m peerchain.tools.p2p_probe --seed alice --listen 127.0.0.1:0 \\
        [--bootstrap peerchain://<id>@host:port ...] [--chain-id 1337] [--pex-interval 1]

It prints one JSON object a line: {"event": "ready", "address": ...} first, then
{"event": "peer", "id": ..., "state": "connected"|"disconnected"|"banned"}, and
{"event": "message", "from": ..., "channel": n, "payload": hex, "time": unix seconds}
for each delivered message. It reads commands, one JSON object a line:
{"cmd": "broadcast", "channel": n, "payload": hex, "stamp": false} -> {"event": "sent",
"count": n} (with "stamp", the payload is prefixed with the send time as a big-endian double),
{"cmd": "send", "to": id, "channel": n, "payload": hex} -> {"event": "sent", "count": 0|1},
{"cmd": "peers"} -> {"event": "peers", "peers": [...]}, {"cmd": "stop"} (or end of input).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import struct
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from peerchain.core.crypto import keccak256
from peerchain.core.p2p.identity import NodeKey, parse_address
from peerchain.core.p2p.messages import Channel
from peerchain.drivers.clock import SystemClock
from peerchain.drivers.net import FileAddressBook, TcpTransport, TransportConfig
from peerchain.node.network import Network, NetworkConfig

GENESIS = keccak256(b"peerchain p2p probe genesis")


def probe_key(seed: str) -> NodeKey:
    """The deterministic node key of a probe named `seed`."""
    return NodeKey.from_private_key(keccak256(b"p2p-probe:" + seed.encode()))


class _MemoryBook:
    def load_addresses(self) -> list[Any]:
        return []

    def save_addresses(self, addresses: Any) -> None:
        pass


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def _run(args: argparse.Namespace) -> None:
    host, _, port = args.listen.rpartition(":")
    identity = probe_key(args.seed)
    transport = TcpTransport(
        identity,
        TransportConfig(
            listen_host=host,
            listen_port=int(port),
            ping_interval=args.ping_interval,
            dead_after=args.dead_after,
        ),
    )
    config = NetworkConfig(
        chain_id=args.chain_id,
        genesis_hash=bytes.fromhex(args.genesis) if args.genesis else GENESIS,
        bootstrap=tuple(parse_address(a) for a in args.bootstrap),
        persistent=tuple(parse_address(a) for a in args.persistent),
        backoff_max=args.backoff_max,
        pex_interval=args.pex_interval,
        dial_interval=args.dial_interval,
        backoff_base=0.2,
        max_outbound=args.max_outbound,
    )
    store = FileAddressBook(Path(args.book)) if args.book else _MemoryBook()
    network = Network(identity, config, transport, store, SystemClock())
    network.on_message(
        lambda peer, channel, payload: _emit(
            {
                "event": "message",
                "from": peer.hex(),
                "channel": int(channel),
                "payload": payload.hex(),
                "time": time.time(),
            }
        )
    )
    network.on_peer(
        lambda peer, event: _emit({"event": "peer", "id": peer.hex(), "state": event.value})
    )
    await network.start()
    _emit({"event": "ready", "address": str(network.address), "id": identity.node_id.hex()})

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            command = json.loads(line)
            match command["cmd"]:
                case "broadcast":
                    payload = bytes.fromhex(command["payload"])
                    if command.get("stamp"):
                        payload = struct.pack(">d", time.time()) + payload
                    count = network.broadcast(Channel(command["channel"]), payload)
                    _emit({"event": "sent", "count": count})
                case "send":
                    ok = network.send(
                        bytes.fromhex(command["to"]),
                        Channel(command["channel"]),
                        bytes.fromhex(command["payload"]),
                    )
                    _emit({"event": "sent", "count": int(ok)})
                case "peers":
                    peers = [asdict(p) | {"banned": p.banned} for p in network.peers()]
                    _emit({"event": "peers", "peers": peers})
                case "stop":
                    break
    finally:
        await network.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="p2p_probe", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", required=True, help="name the node key is derived from")
    parser.add_argument("--listen", default="127.0.0.1:0", help="host:port")
    parser.add_argument("--bootstrap", action="append", default=[], help="peer address")
    parser.add_argument("--persistent", action="append", default=[], help="peer to keep")
    parser.add_argument("--backoff-max", type=float, default=60.0)
    parser.add_argument("--chain-id", type=int, default=1337)
    parser.add_argument("--genesis", default="", help="genesis hash hex")
    parser.add_argument("--book", default="", help="address book file")
    parser.add_argument("--pex-interval", type=float, default=1.0)
    parser.add_argument("--dial-interval", type=float, default=1.0)
    parser.add_argument("--ping-interval", type=float, default=2.0)
    parser.add_argument("--dead-after", type=float, default=10.0)
    parser.add_argument("--max-outbound", type=int, default=8)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
