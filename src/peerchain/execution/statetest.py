"""Ethereum GeneralStateTests run through the execution layer's VMs and decoders.

A state test applies one transaction (`txbytes` of each post entry) to the `pre`
accounts in the block context of `env`, then compares the state root and the hash
of the RLP of the logs with the fixture's. A transaction the rules reject leaves the
pre state (that is what fixtures with `expectException` expect). Results have the
shape of geth's `evm statetest` output.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eth._utils.db import apply_state_dict
from eth.abc import StateAPI
from eth.constants import BLANK_ROOT_HASH
from eth.db.chain import ChainDB
from eth.vm.chain_context import ChainContext
from eth.vm.forks.cancun.blocks import CancunBlockHeader
from eth_typing import Address, BlockNumber, Hash32
from eth_utils.exceptions import ValidationError

from peerchain.core.crypto import keccak256
from peerchain.core.errors import PeerChainError
from peerchain.core.rlp import encode_object
from peerchain.core.transactions import decode_transaction
from peerchain.execution.convert import prime_sender
from peerchain.execution.db import open_overlay
from peerchain.execution.vm import FORKS

FIXTURE_CHAIN_ID = 1
_BLOCK_HASH_DEPTH = 256


@dataclass(frozen=True, slots=True)
class StateTestResult:
    """One post entry of one test on one fork, as geth's `evm statetest` reports it."""

    name: str
    fork: str
    indexes: tuple[int, int, int]
    passed: bool
    state_root: bytes
    logs_hash: bytes
    error: str = ""

    def to_json(self) -> dict[str, object]:
        data, gas, value = self.indexes
        return {
            "name": self.name,
            "pass": self.passed,
            "stateRoot": "0x" + self.state_root.hex(),
            "logsHash": "0x" + self.logs_hash.hex(),
            "fork": self.fork,
            "error": self.error,
            "indexes": {"data": data, "gas": gas, "value": value},
        }


def run_state_tests(
    fixture: Mapping[str, Any], fork: str | None = None
) -> Iterator[StateTestResult]:
    """Results of every test in a fixture file, on `fork` or on every fork this
    layer runs (entries for other forks are left out)."""
    for name, test in fixture.items():
        for fork_name, entries in test["post"].items():
            if fork_name not in FORKS or (fork is not None and fork_name != fork):
                continue
            for entry in entries:
                yield _run_entry(name, fork_name, test, entry)


def _run_entry(
    name: str, fork: str, test: Mapping[str, Any], entry: Mapping[str, Any]
) -> StateTestResult:
    vm_class = FORKS[fork].vm
    env = test["env"]
    db, _ = open_overlay({})
    header: Any = CancunBlockHeader(
        difficulty=_int(env.get("currentDifficulty", "0x0")),
        block_number=BlockNumber(_int(env["currentNumber"])),
        gas_limit=_int(env["currentGasLimit"]),
        timestamp=_int(env["currentTimestamp"]),
        coinbase=Address(_bytes(env["currentCoinbase"])),
        mix_hash=Hash32(_bytes(env.get("currentRandom", "0x" + "00" * 32))),
        base_fee_per_gas=_int(env.get("currentBaseFee", "0x0")),
        excess_blob_gas=_int(env.get("currentExcessBlobGas", "0x0")),
    )
    chain_context = ChainContext(FIXTURE_CHAIN_ID)
    prev_hashes = _fixture_block_hashes(header.block_number)
    state = vm_class.build_state(db, header.copy(state_root=BLANK_ROOT_HASH), chain_context)
    apply_state_dict(state, _pre_state(test["pre"]))
    state.persist()
    header = header.copy(state_root=state.state_root)
    state = vm_class.build_state(db, header, chain_context, prev_hashes)
    vm = vm_class(
        header=header, chaindb=ChainDB(db), chain_context=chain_context, consensus_context=None
    )
    logs: list[Any] = []
    error = ""
    try:
        logs = _apply(vm, state, _bytes(entry["txbytes"]))
    except (ValidationError, PeerChainError) as exc:
        error = str(exc)
    state.persist()
    logs_hash = keccak256(encode_object(logs))
    root = bytes(state.state_root)
    expected_root, expected_logs = _bytes(entry["hash"]), _bytes(entry["logs"])
    passed = root == expected_root and logs_hash == expected_logs
    if error and "expectException" not in entry:
        passed = False
    elif not error and "expectException" in entry:
        passed = False
        error = f"expected exception {entry['expectException']} did not occur"
    elif not passed and not error:
        error = (
            f"post state root mismatch: got 0x{root.hex()}, want 0x{expected_root.hex()}"
            if root != expected_root
            else f"logs hash mismatch: got 0x{logs_hash.hex()}, want 0x{expected_logs.hex()}"
        )
    indexes = entry.get("indexes", {})
    return StateTestResult(
        name=name,
        fork=fork,
        indexes=(indexes.get("data", 0), indexes.get("gas", 0), indexes.get("value", 0)),
        passed=passed,
        state_root=root,
        logs_hash=logs_hash,
        error=error,
    )


def _apply(vm: Any, state: StateAPI, raw: bytes) -> list[Any]:
    """Decode and apply one transaction; return its logs in RLP form.

    Raises DecodeError/InvalidTransaction (core decoding) or ValidationError (the
    VM's rules) for a transaction that cannot be included; state is then untouched.
    """
    tx = decode_transaction(raw, FIXTURE_CHAIN_ID)
    evm_tx = vm.get_transaction_builder().decode(raw)
    prime_sender(evm_tx, tx.sender)
    vm.validate_transaction_against_header(vm.get_header(), evm_tx)
    computation = state.apply_transaction(evm_tx)
    return [
        [address, [topic.to_bytes(32, "big") for topic in topics], data]
        for address, topics, data in computation.get_log_entries()
    ]


def _fixture_block_hashes(number: int) -> tuple[Hash32, ...]:
    """BLOCKHASH values of the fixtures' generator: keccak of the decimal number."""
    first = max(number - _BLOCK_HASH_DEPTH, 0)
    return tuple(Hash32(keccak256(str(n).encode())) for n in range(number - 1, first - 1, -1))


def _pre_state(pre: Mapping[str, Any]) -> dict[Address, Any]:
    return {
        Address(_bytes(address)): {
            "balance": _int(account.get("balance", "0x0")),
            "nonce": _int(account.get("nonce", "0x0")),
            "code": _bytes(account.get("code", "0x")),
            "storage": {_int(k): _int(v) for k, v in account.get("storage", {}).items()},
        }
        for address, account in pre.items()
    }


def _int(value: str | int) -> int:
    return value if isinstance(value, int) else int(value, 16)


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)
