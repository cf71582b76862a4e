"""A real DevNode (py-evm, LMDB) with a deployed token, served with the explorer by the
JSON-RPC app on a loopback port, driven from sync tests on the app's own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import vyper
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from peerchain.core.consensus.certificate import CommitCertificate
from peerchain.core.consensus.signguard import SignStep
from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import dev_genesis
from peerchain.core.governance import OpenProposal
from peerchain.drivers.storage import LmdbStore
from peerchain.explorer import STATIC_DIR
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger
from peerchain.node.view import ConsensusState, EvidenceRecord, PeerInfo, SignedValue
from peerchain.rpc import RpcConfig, create_app

T = TypeVar("T")
Client = TestClient[web.Request, web.Application]

REPO = Path(__file__).resolve().parents[2]
TOKEN_SOURCE = (REPO / "examples" / "Token.vy").read_text()
CHAIN_ID = 1337
KEYS = [bytes([i + 1]) * 32 for i in range(3)]
ADDRS = ["0x" + private_key_to_address(k).hex() for k in KEYS]
TRANSFER = bytes.fromhex("a9059cbb")


class FixedClock:
    def __init__(self) -> None:
        self.time = 1_750_000_000.0

    def now(self) -> float:
        return self.time


def dev_node(datadir: Path) -> tuple[DevNode, LmdbStore]:
    """An automining dev node over LMDB in `datadir`; close the store when done."""
    store = LmdbStore(datadir / "lmdb")
    genesis = dev_genesis(CHAIN_ID, [private_key_to_address(k) for k in KEYS], 10**24)
    return DevNode(Ledger(store, genesis), FixedClock(), KEYS, automine=True), store


class Served:
    """An aiohttp app on a loopback port with a test client, on its own event loop."""

    def __init__(self, app: web.Application) -> None:
        self.loop = asyncio.new_event_loop()

        async def start() -> Client:
            client = TestClient(TestServer(app, host="127.0.0.1"))
            await client.start_server()
            return client

        self.client = self.loop.run_until_complete(start())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.client.port}"

    def run(self, make: Callable[[Client], Awaitable[T]]) -> T:
        return self.loop.run_until_complete(make(self.client))

    def get(self, path: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        async def go(client: Client) -> tuple[int, dict[str, str], bytes]:
            async with client.get(path, **kwargs) as response:
                return response.status, dict(response.headers), await response.read()

        return self.run(go)

    def raw(self, path: str, host: str = "127.0.0.1") -> tuple[int, str, bytes]:
        """GET `path` sent exactly as given (no URL normalization): status, header block
        and body."""
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"

        async def go(client: Client) -> tuple[int, str, bytes]:
            reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
            writer.write(request.encode())
            answer = await reader.read()
            writer.close()
            head, _, body = answer.partition(b"\r\n\r\n")
            return int(head.split(b" ", 2)[1]), head.decode(), body

        return self.run(go)

    def rpc(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}

        async def go(client: Client) -> Any:
            async with client.post("/", json=body) as response:
                return await response.json()

        answer = self.run(go)
        assert "error" not in answer, answer
        return answer["result"]

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


@dataclass
class Chain:
    """A served dev chain: a token deployed by ADDRS[0], then a transfer of 25 to ADDRS[1]."""

    served: Served
    node: DevNode
    token: str
    deploy_tx: str
    transfer_tx: str
    hostile_token: str = ""


def serve_chain(node: DevNode, app: web.Application | None = None) -> Chain:
    """Serve `node` with the explorer (on `app` if given) and make the token transactions."""
    served = Served(app or create_app(node, RpcConfig(), explorer_dir=STATIC_DIR))
    out = vyper.compile_code(TOKEN_SOURCE, output_formats=["bytecode"])
    args = b"".join(
        [
            (96).to_bytes(32, "big"),
            (160).to_bytes(32, "big"),
            (1000).to_bytes(32, "big"),
            abi_string("Peer"),
            abi_string("PEER"),
        ]
    )
    deploy = served.rpc(
        "eth_sendTransaction", {"from": ADDRS[0], "input": out["bytecode"] + args.hex()}
    )
    token = served.rpc("eth_getTransactionReceipt", deploy)["contractAddress"]
    call = TRANSFER + bytes(12) + bytes.fromhex(ADDRS[1][2:]) + (25).to_bytes(32, "big")
    transfer = served.rpc(
        "eth_sendTransaction", {"from": ADDRS[0], "to": token, "input": "0x" + call.hex()}
    )
    return Chain(served, node, token, deploy, transfer)


def abi_string(text: str) -> bytes:
    """One short `string` as the tail of ABI-encoded arguments."""
    raw = text.encode()
    return len(raw).to_bytes(32, "big") + raw.ljust(32, b"\0")


class FakeNetwork:
    """A NetworkView of four validators (power 10 each, until height 6) and two peers, one
    banned; every certificate is signed by the first three validators."""

    VALIDATORS = [bytes([0xA0 + i]) * 20 for i in range(4)]

    def peers(self) -> list[PeerInfo]:
        return [
            PeerInfo(
                "ab" * 20, "peerchain://" + "ab" * 20 + "@127.0.0.1:1", "outbound", 0.0, 3, None
            ),
            PeerInfo("cd" * 20, None, None, -100.0, None, 1_750_000_600.0),
        ]

    async def validator_powers(self, height: int | None = None) -> list[tuple[bytes, int]]:
        """From height 6 on the last validator is removed and the first has power 20; the
        sets of heights above 100 are not known yet."""
        if height is not None and height > 100:
            return []
        if height is not None and height >= 6:
            return [(self.VALIDATORS[0], 20), *((a, 10) for a in self.VALIDATORS[1:3])]
        return [(address, 10) for address in self.VALIDATORS]

    async def open_proposals(self, number: int | None = None) -> list[OpenProposal]:
        voters = tuple(self.VALIDATORS[:2])
        return [OpenProposal(self.VALIDATORS[-1], 0, 3, 1003, voters, 20, 40)]

    def consensus_state(self) -> ConsensusState:
        return ConsensusState(4, 1, "prevote", -1, -1, self.VALIDATORS[1], None, False)

    def commit_certificate(self, height: int) -> CommitCertificate | None:
        if height == 0:
            return None
        signatures = tuple((address, bytes([7]) * 65) for address in self.VALIDATORS[:3])
        return CommitCertificate(height, 0, bytes(32), signatures)

    def evidence(self) -> list[EvidenceRecord]:
        """One double prevote by validator 2 at height 3."""
        first = SignedValue(bytes([0x11]) * 32, -1, bytes([1]) * 65)
        second = SignedValue(None, -1, bytes([2]) * 65)
        return [EvidenceRecord(self.VALIDATORS[2], 3, 0, SignStep.PREVOTE, first, second, 3)]

    def ban_peer(self, node_id: bytes, seconds: float | None) -> None:
        raise NotImplementedError
