"""geth's recorded eth_simulateV1 answers (execution-apis tests) replayed on a real dev node.

The recordings ran on the execution-apis chain: head block 54 at time 540, gas limit
200M, Osaka rules. Here a Prague dev chain is made with the same chain id, genesis
accounts (system contracts included), gas limit, and 54 empty blocks ending at time
540, so that the simulated blocks have the recorded numbers and timestamps. State roots
and block hashes cannot match (the recorded chain's 54 blocks hold transactions); what
is compared is everything a simulation decides: each block's number, timestamp, gas
limit, gas used, base fee, fee recipient and transaction hashes (unsigned calls hash the
same when their fields are the same), and each call's status, return data, gas used,
logs (all but the block hash) and error; or the error of a refused request, code and
message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peerchain.core.genesis import parse_genesis
from peerchain.drivers.storage import LmdbStore
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger

from .harness import Rpc
from .openrpc import SPEC_ROOT, load_io

RECORDED = SPEC_ROOT / "tests"
FILES = sorted((RECORDED / "eth_simulateV1").glob("*.io"))
HEAD_NUMBER = 54
HEAD_TIME = 540
HEAD_GAS_LIMIT = 200_000_000
# The base fee the recorded head has for the next block's 23985819 (an empty block: -1/8).
HEAD_BASE_FEE = 27_412_364
BLOCK_FIELDS = ("number", "timestamp", "gasLimit", "gasUsed", "baseFeePerGas", "miner")

# Recordings that do not apply to this node, and why.
NOT_APPLICABLE = {
    "ethSimulate-blobs": "blob transactions (blobVersionedHashes) are refused, -32602",
}
_HASHES = "returns block hashes (BLOCKHASH), which hold the recorded chain's state roots"
# Recordings that apply but whose answer differs from geth's here, and why: each must
# still differ (a fix moves it out of here).
DIFFERENT = {
    "ethSimulate-add-more-non-defined-BlockStateCalls-than-fit-but-now-with-fit": _HASHES,
    "ethSimulate-blockhash-complex": _HASHES,
    "ethSimulate-blockhash-simple": _HASHES,
    "ethSimulate-blockhash-start-before-head": _HASHES,
    "ethSimulate-contract-calls-itself": _HASHES,
    "ethSimulate-get-block-properties": _HASHES,
    "ethSimulate-overwrite-existing-contract": _HASHES,
    "ethSimulate-empty-with-block-num-set-firstblock": "builds on the recorded genesis, "
    "which predates London (no base fee) and has another gas limit",
    "ethSimulate-overflow-nonce": "py-evm refuses a transaction with nonce 2^64-1 even "
    "without validation; geth runs it",
    "ethSimulate-use-as-many-features-as-possible": "block hashes as above, and geth's "
    "logIndex also counts the transfer logs of failed calls, which it drops",
}


class Clock:
    def now(self) -> float:
        return float(HEAD_TIME)


@pytest.fixture(scope="module")
def rpc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rpc]:
    recorded = {
        k: v
        for k, v in json.loads((RECORDED / "genesis.json").read_text()).items()
        if v is not None
    }
    chain_id = recorded["config"]["chainId"]
    config = {"chainId": chain_id, "shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0}
    # The zero address holds the recorded chain's pre-merge block rewards: it exists there.
    alloc = {**recorded["alloc"], "0x" + "00" * 20: {"balance": "0x1"}}
    genesis = parse_genesis({**recorded, "config": config, "alloc": alloc, "difficulty": "0x0"})
    store = LmdbStore(Path(tmp_path_factory.mktemp("recorded")) / "lmdb")
    try:
        node = DevNode(Ledger(store, genesis, dev=True), Clock(), [], automine=True)
        node.set_block_gas_limit(HEAD_GAS_LIMIT)
        for number in range(1, HEAD_NUMBER + 1):
            if number == HEAD_NUMBER:
                node.set_next_block_base_fee(HEAD_BASE_FEE)
            node.mine_block(HEAD_TIME * number // HEAD_NUMBER)
        assert node.ledger.head.timestamp == HEAD_TIME
        yield Rpc(node)
    finally:
        store.close()


def _block(block: dict[str, Any]) -> dict[str, Any]:
    """What a simulation decides of a block."""
    decided = {name: block.get(name) for name in BLOCK_FIELDS}
    decided["transactions"] = [
        tx if isinstance(tx, str) else tx["hash"] for tx in block["transactions"]
    ]
    decided["calls"] = [
        {
            **call,
            "logs": [{k: v for k, v in log.items() if k != "blockHash"} for log in call["logs"]],
        }
        for call in block["calls"]
    ]
    return decided


def differences(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """How our answer differs from geth's in what a simulation decides."""
    if "error" in theirs or "error" in ours:
        return (
            []
            if ours.get("error") == theirs.get("error")
            else [f"error: ours {ours.get('error')} geth's {theirs.get('error')}"]
        )
    mine, geths = ours["result"], theirs["result"]
    if len(mine) != len(geths):
        return [f"{len(mine)} blocks, geth {len(geths)}"]
    found = []
    for index, (a, b) in enumerate(zip(mine, geths, strict=True)):
        left, right = _block(a), _block(b)
        for name in right:
            if left[name] != right[name]:
                found.append(f"block {index} {name}: ours {left[name]} geth's {right[name]}")
    return found


def replay(rpc: Rpc, path: Path) -> list[str]:
    found = []
    for request, response in load_io(path):
        found += differences(rpc.request(request["method"], *request["params"]), response)
    return found


APPLICABLE = [p for p in FILES if p.stem not in NOT_APPLICABLE]


@pytest.mark.parametrize("path", APPLICABLE, ids=[p.stem for p in APPLICABLE])
def test_recorded_simulation(rpc: Rpc, path: Path) -> None:
    found = replay(rpc, path)
    if path.stem in DIFFERENT:
        assert found, f"{path.stem} now matches geth: take it out of DIFFERENT"
    else:
        assert found == []
