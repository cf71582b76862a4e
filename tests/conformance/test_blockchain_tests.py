"""BlockchainTests samples (ValidBlocks, InvalidBlocks) through ExecutionEngine.execute_block.

The genesis is rebuilt from the fixture's header fields and `pre` through the
project's Genesis, so a matching genesis hash also checks genesis construction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from peerchain.core.genesis import Genesis, GenesisAccount
from peerchain.core.kv import apply_changes
from peerchain.execution.engine import ExecutionEngine, InvalidBlock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BLOCKCHAIN_TESTS = FIXTURES / "ethereum-tests" / "BlockchainTests"
CASES = [
    (path, name, test)
    for path in sorted(BLOCKCHAIN_TESTS.rglob("*.json"))
    for name, test in json.loads(path.read_text()).items()
]


def num(value: str) -> int:
    return int(value, 16)


def raw(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def fixture_genesis(test: dict[str, Any]) -> Genesis:
    header = test["genesisBlockHeader"]
    alloc = {
        raw(address): GenesisAccount(
            balance=num(account["balance"]),
            nonce=num(account["nonce"]),
            code=raw(account["code"]),
            storage=tuple(sorted((num(k), num(v)) for k, v in account["storage"].items())),
        )
        for address, account in test["pre"].items()
    }
    return Genesis(
        chain_id=1,
        fork=test["network"],
        alloc=tuple(sorted(alloc.items())),
        gas_limit=num(header["gasLimit"]),
        base_fee_per_gas=num(header["baseFeePerGas"]),
        timestamp=num(header["timestamp"]),
        extra_data=raw(header["extraData"]),
        difficulty=num(header["difficulty"]),
        mix_hash=raw(header["mixHash"]),
        coinbase=raw(header["coinbase"]),
        nonce=raw(header["nonce"]),
    )


def test_fixtures_are_present() -> None:
    assert {p.parent.parent.name for p, _, _ in CASES} == {"ValidBlocks", "InvalidBlocks"}


@pytest.mark.parametrize(("path", "name", "test"), CASES, ids=[name for _, name, _ in CASES])
def test_blocks_import_as_the_fixture_says(path: Path, name: str, test: dict[str, Any]) -> None:
    store: dict[bytes, bytes] = {}
    engine = ExecutionEngine(store, fixture_genesis(test))
    assert "0x" + engine.genesis_hash.hex() == test["genesisBlockHeader"]["hash"]
    apply_changes(store, engine.genesis_changes()[1])
    for block in test["blocks"]:
        if "expectException" in block:
            with pytest.raises(InvalidBlock):
                engine.execute_block(raw(block["rlp"]))
            continue
        executed = engine.execute_block(raw(block["rlp"]))
        assert "0x" + executed.block.hash.hex() == block["blockHeader"]["hash"]
        apply_changes(store, executed.changes)
    head = engine.head()
    assert "0x" + head.hash.hex() == test["lastblockhash"]
    for address, account in test["postState"].items():
        assert engine.get_balance(raw(address), head) == num(account["balance"])
        assert engine.get_nonce(raw(address), head) == num(account["nonce"])
        assert engine.get_code(raw(address), head) == raw(account["code"])
        for slot, value in account["storage"].items():
            assert engine.get_storage(raw(address), num(slot), head) == num(value).to_bytes(
                32, "big"
            )
