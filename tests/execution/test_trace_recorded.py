"""The tracers against geth's recorded debug_trace* answers (execution-apis tests).

The recorded chain starts in Homestead (Tangerine Whistle from block 3), so it is
loaded here into a py-evm chain with that schedule; blocks 1-3 hold every transaction
the recorded traces name. Each recorded struct-log answer must be reproduced exactly,
entry by entry (pc, op, gas, gasCost, depth, stack, memory, storage, refund).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth.chains.base import MiningChain
from eth.consensus.noproof import NoProofConsensus
from eth.db.atomic import AtomicDB
from eth.vm.chain_context import ChainContext
from eth.vm.forks.homestead import HomesteadVM
from eth.vm.forks.tangerine_whistle import TangerineWhistleVM
from rlp.codec import consume_length_prefix

from peerchain.core.tracing import TraceConfig, TraceFailed
from peerchain.execution.tracing import trace_block

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "execution-apis" / "tests"
BLOCKS = 3  # the recorded traces need no block past this one


def _io(path: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The (request, response) pairs of a recorded exchange."""
    lines = path.read_text().splitlines()
    requests = [json.loads(line[3:]) for line in lines if line.startswith(">> ")]
    responses = [json.loads(line[3:]) for line in lines if line.startswith("<< ")]
    return list(zip(requests, responses, strict=True))


class RecordedChain:
    """The execution-apis chain's first blocks in py-evm, with a block trace helper."""

    def __init__(self) -> None:
        genesis = json.loads((ROOT / "genesis.json").read_text())
        config = genesis["config"]
        vms = (
            (
                0,
                HomesteadVM.configure(
                    consensus_class=NoProofConsensus,
                    support_dao_fork=False,
                    _dao_fork_block_number=0,
                ),
            ),
            (
                config["eip150Block"],
                TangerineWhistleVM.configure(consensus_class=NoProofConsensus),
            ),
        )
        self.chain_context = ChainContext(config["chainId"])
        chain_class = MiningChain.configure(vm_configuration=vms, chain_id=config["chainId"])
        params = {
            "difficulty": int(genesis["difficulty"], 16),
            "gas_limit": int(genesis["gasLimit"], 16),
            "timestamp": int(genesis["timestamp"], 16),
            "extra_data": bytes.fromhex(genesis["extraData"][2:]),
            "nonce": int(genesis["nonce"], 16).to_bytes(8, "big"),
            "mix_hash": bytes.fromhex(genesis["mixHash"][2:]),
        }
        state = {
            bytes.fromhex(address.removeprefix("0x")): {
                "balance": int(account.get("balance", "0x0"), 16),
                "nonce": int(account.get("nonce", "0x0"), 16),
                "code": bytes.fromhex(account.get("code", "0x")[2:]),
                "storage": {int(k, 16): int(v, 16) for k, v in account.get("storage", {}).items()},
            }
            for address, account in genesis["alloc"].items()
        }
        self.chain = chain_class.from_genesis(AtomicDB(), params, state)
        data = (ROOT / "chain.rlp").read_bytes()
        position = 0
        self.blocks = []
        while position < len(data) and len(self.blocks) < BLOCKS:
            _, _, length, start = consume_length_prefix(data, position)
            raw = data[position : start + length]
            position = start + length
            number = len(self.blocks) + 1
            block_class = self.chain.get_vm_class_for_block_number(number).get_block_class()
            block = rlp.decode(raw, sedes=block_class)
            self.chain.import_block(block)
            self.blocks.append(block)
        self.by_tx = {
            bytes(tx.hash): (b, i) for b in self.blocks for i, tx in enumerate(b.transactions)
        }

    def genesis_hash(self) -> bytes:
        return bytes(self.chain.get_canonical_block_header_by_number(0).hash)

    def trace(self, block: Any, config: TraceConfig, only: int | None = None) -> list[Any]:
        vm_class = self.chain.get_vm_class_for_block_number(block.number)
        traces = trace_block(
            vm_class,
            self.chain.chaindb,
            self.chain_context,
            self.chain.consensus_context,
            block,
            config,
            only,
        )
        return [{"txHash": "0x" + h.hex(), "result": r} for h, r in traces]


@pytest.fixture(scope="module")
def recorded() -> RecordedChain:
    return RecordedChain()


def _config(options: dict[str, Any]) -> TraceConfig:
    return TraceConfig(
        disable_stack=options.get("disableStack", False),
        disable_storage=options.get("disableStorage", False),
        enable_memory=options.get("enableMemory", False),
        enable_return_data=options.get("enableReturnData", False),
    )


def test_chain_is_the_recorded_one(recorded: RecordedChain) -> None:
    assert recorded.genesis_hash().hex().startswith("44fd89d5")
    assert recorded.blocks[0].hash.hex().startswith("80e911b6")


BLOCK_TRACES = sorted(
    p.name for p in (ROOT / "debug_traceBlockByNumber").glob("*.io") if "result" in _io(p)[0][1]
)


@pytest.mark.parametrize("name", BLOCK_TRACES)
def test_block_traces_match_geth(recorded: RecordedChain, name: str) -> None:
    for request, response in _io(ROOT / "debug_traceBlockByNumber" / name):
        number = int(request["params"][0], 16)
        options = request["params"][1] if len(request["params"]) > 1 else {}
        ours = recorded.trace(recorded.blocks[number - 1], _config(options))
        assert len(ours) == len(response["result"])
        for mine, theirs in zip(ours, response["result"], strict=True):
            assert mine["txHash"] == theirs["txHash"]
            assert {k: v for k, v in mine["result"].items() if k != "structLogs"} == {
                k: v for k, v in theirs["result"].items() if k != "structLogs"
            }
            for index, (a, b) in enumerate(
                zip(mine["result"]["structLogs"], theirs["result"]["structLogs"], strict=True)
            ):
                assert a == b, f"{theirs['txHash']} step {index}"


def test_block_trace_by_hash_matches_geth(recorded: RecordedChain) -> None:
    [(request, response)] = _io(
        ROOT / "debug_traceBlockByHash" / "trace-block-with-transactions.io"
    )
    block = recorded.blocks[0]
    assert "0x" + block.hash.hex() == request["params"][0]
    assert recorded.trace(block, TraceConfig()) == response["result"]


def test_genesis_is_not_traceable(recorded: RecordedChain) -> None:
    genesis = recorded.chain.get_canonical_block_by_number(0)
    with pytest.raises(TraceFailed, match="genesis is not traceable"):
        recorded.trace(genesis, TraceConfig())


@pytest.mark.parametrize("name", ["trace-contract-call.io", "trace-legacy-transfer.io"])
def test_transaction_traces_match_geth(recorded: RecordedChain, name: str) -> None:
    [(request, response)] = _io(ROOT / "debug_traceTransaction" / name)
    block, index = recorded.by_tx[bytes.fromhex(request["params"][0][2:])]
    [traced] = recorded.trace(block, TraceConfig(), only=index)
    assert traced["result"] == response["result"]
