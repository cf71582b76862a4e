"""The lean block path (execution/transition.py, bodies.py, chainrecords.py) against
py-evm's own: every block the engine builds is imported by py-evm's `Chain.import_block`
on the same parent store, which must accept it unchanged and write exactly the records
the engine wrote; and the engine's import of the block writes them too.

Blocks are random mixes of transfers (every envelope), contract deployments, calls that
log, revert or run out of gas, calls of a deposit contract (Prague's deposit requests),
set-code transactions and candidates a builder must leave out, on a genesis holding the
system contracts (beacon roots, block-hash history, request contracts).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import rlp
from eth.vm.forks.cancun.constants import BEACON_ROOTS_ADDRESS, BEACON_ROOTS_CONTRACT_CODE
from eth.vm.forks.prague.constants import (
    CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
    DEPOSIT_CONTRACT_ADDRESS,
    DEPOSIT_EVENT_SIGNATURE_HASH,
    HISTORY_STORAGE_ADDRESS,
    HISTORY_STORAGE_CONTRACT_CODE,
    WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peerchain.core.crypto import keccak256
from peerchain.core.genesis import Genesis, GenesisAccount
from peerchain.core.kv import apply_changes
from peerchain.core.rlp import decode_object
from peerchain.core.transactions import (
    Authorization,
    Transaction,
    UnsignedTransaction,
    sign_transaction,
)
from peerchain.execution.db import open_overlay
from peerchain.execution.engine import ExecutedBlock, ExecutionEngine
from peerchain.execution.statecache import StateCache
from peerchain.execution.vm import FORKS

from .conftest import (
    ADDRS,
    CHAIN_ID,
    ETHER,
    GWEI,
    KEYS,
    DictChain,
    funded_genesis,
    sign,
    store_contract,
    word,
)

# Emits the deposit event with the call data as its data (576 bytes), as the deposit
# contract's log is laid out: CALLDATACOPY to memory 0, LOG1(0, 576, topic).
DEPOSIT_CODE = (
    bytes.fromhex("3660006000377f") + DEPOSIT_EVENT_SIGNATURE_HASH + bytes.fromhex("6102406000a100")
)
# Stands in for the request contracts: the withdrawal one counts its calls in slot 0,
# the consolidation one returns 4 bytes.
COUNTER_CODE = bytes.fromhex("60005460010160005500")
RETURNING_CODE = bytes.fromhex("63deadbeef6000526004601cf3")
RECIPIENT = b"\x77" * 20


def system_genesis(fork: str) -> Genesis:
    system = {
        HISTORY_STORAGE_ADDRESS: GenesisAccount(nonce=1, code=HISTORY_STORAGE_CONTRACT_CODE),
        BEACON_ROOTS_ADDRESS: GenesisAccount(nonce=1, code=BEACON_ROOTS_CONTRACT_CODE),
        DEPOSIT_CONTRACT_ADDRESS: GenesisAccount(nonce=1, code=DEPOSIT_CODE),
        WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS: GenesisAccount(nonce=1, code=COUNTER_CODE),
        CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS: GenesisAccount(nonce=1, code=RETURNING_CODE),
    }
    genesis = funded_genesis(fork=fork)
    return funded_genesis(fork=fork, alloc=tuple(sorted({**dict(genesis.alloc), **system}.items())))


def py_evm_import(genesis: Genesis, store: dict[bytes, bytes], block_rlp: bytes) -> dict:
    """The store writes of py-evm's own import of `block_rlp` on `store` (which raises
    if py-evm's execution differs from the block in any way)."""
    db, overlay = open_overlay(store, StateCache())
    machine = FORKS[genesis.fork]
    chain = machine.chain_class(genesis.chain_id)(db)
    chain.import_block(decode_object(block_rlp, machine.vm.get_block_class()))
    return dict(overlay.changes)


def check_against_py_evm(chain: DictChain, txs: list[Transaction]) -> ExecutedBlock:
    """Build `txs` on `chain`, check py-evm and a fresh import agree, persist it."""
    before = dict(chain.store)
    built = chain.build(txs)
    assert py_evm_import(chain.genesis, dict(before), built.block.rlp) == built.changes
    imported = ExecutionEngine(dict(before), chain.genesis).execute_block(built.block.rlp)
    assert imported.block == built.block and imported.receipts == built.receipts
    assert imported.changes == built.changes
    apply_changes(chain.store, built.changes)
    return built


@dataclass
class Senders:
    nonces: list[int]

    def next(self, key: int) -> int:
        self.nonces[key] += 1
        return self.nonces[key] - 1


def make_tx(kind: str, key: int, senders: Senders, arg: int) -> Transaction:
    """One candidate of the given kind from account `key`."""
    init_code, selectors = store_contract()
    if kind == "gap":  # a nonce in the future: left out, the sender's nonce unused
        return sign(key, senders.nonces[key] + 3, to=RECIPIENT, value=1)
    if kind == "broke":  # more than the sender has: left out
        return sign(key, senders.nonces[key], to=RECIPIENT, value=10_000 * ETHER)
    nonce = senders.next(key)
    if kind == "transfer":
        return sign(key, nonce, to=keccak256(b"%d" % arg)[:20], value=arg + 1)
    if kind in ("legacy", "access_list"):
        unsigned = UnsignedTransaction(
            type=0 if kind == "legacy" else 1,
            chain_id=CHAIN_ID,
            nonce=nonce,
            gas_limit=60_000,
            max_fee_per_gas=10 * GWEI,
            max_priority_fee_per_gas=0,
            to=RECIPIENT,
            value=arg,
            access_list=((RECIPIENT, (1, 2)),) if kind == "access_list" else (),
        )
        return sign_transaction(unsigned, KEYS[key])
    if kind == "deploy":
        return sign(key, nonce, to=None, data=init_code + word(arg), gas=500_000)
    if kind == "deposit":
        return sign(key, nonce, to=DEPOSIT_CONTRACT_ADDRESS, data=bytes([arg]) * 576, gas=90_000)
    if kind == "set_code":
        auth = Authorization(chain_id=CHAIN_ID, address=RECIPIENT, nonce=0, y_parity=0, r=1, s=1)
        unsigned = UnsignedTransaction(
            type=4,
            chain_id=CHAIN_ID,
            nonce=nonce,
            gas_limit=100_000,
            max_fee_per_gas=10 * GWEI,
            max_priority_fee_per_gas=GWEI,
            to=RECIPIENT,
            authorization_list=(auth,),
        )
        return sign_transaction(unsigned, KEYS[key])
    # A call of the first contract `key` deployed (nonce 0), maybe before it exists:
    # storing 13 reverts, too little gas runs out.
    contract = keccak256(rlp.encode([ADDRS[key], 0]))[12:]
    value = 13 if kind == "revert" else arg
    gas = 30_000 if kind == "out_of_gas" else 100_000
    return sign(key, nonce, to=contract, data=selectors["store(uint256)"] + word(value), gas=gas)


KINDS = [
    "transfer",
    "legacy",
    "access_list",
    "deploy",
    "store",
    "revert",
    "out_of_gas",
    "deposit",
    "set_code",
    "gap",
    "broke",
]
blocks = st.lists(
    st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 3), st.integers(0, 255)), max_size=8),
    min_size=1,
    max_size=3,
)


@pytest.mark.parametrize("fork", ["Prague", "Cancun"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=blocks)
def test_built_blocks_are_what_py_evm_makes_of_them(fork: str, plan: list) -> None:
    chain = DictChain(system_genesis(fork))
    senders = Senders([0] * len(KEYS))
    for actions in plan:
        if fork == "Cancun":  # no set-code transactions before Prague
            actions = [("transfer" if k == "set_code" else k, key, a) for k, key, a in actions]
        txs = [make_tx(kind, key, senders, arg) for kind, key, arg in actions]
        built = check_against_py_evm(chain, txs)
        for tx, _ in built.skipped:  # a left-out sender's nonce is free again
            key = ADDRS.index(tx.sender)
            senders.nonces[key] = min(senders.nonces[key], tx.nonce)


def test_every_kind_in_one_block_with_requests_and_system_contracts() -> None:
    chain = DictChain(system_genesis("Prague"))
    senders = Senders([0] * len(KEYS))
    deploys = [make_tx("deploy", k, senders, 7) for k in range(len(KEYS))]
    check_against_py_evm(chain, deploys)
    txs = [make_tx(kind, i % len(KEYS), senders, i) for i, kind in enumerate(KINDS)]
    built = check_against_py_evm(chain, txs)
    assert {tx.hash for tx, _ in built.skipped} == {
        txs[KINDS.index(k)].hash for k in ("gap", "broke")
    }
    statuses = dict(
        zip(
            [tx.hash for tx in built.block.transactions],
            [r.status for r in built.receipts],
            strict=True,
        )
    )
    assert statuses[txs[KINDS.index("revert")].hash] == 0
    assert statuses[txs[KINDS.index("store")].hash] == 1
    assert any(log.address == DEPOSIT_CONTRACT_ADDRESS for r in built.receipts for log in r.logs)
    head = chain.head
    assert chain.engine.get_storage(WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, 0, head) == word(2)
    empty = check_against_py_evm(chain, [])
    assert empty.block.header.requests_hash != built.block.header.requests_hash


def test_blocks_after_a_rewind_relink_the_canonical_chain_as_py_evm_does() -> None:
    chain = DictChain(funded_genesis())
    first = chain.mine([sign(0, 0, to=RECIPIENT, value=1)])
    chain.mine([sign(0, 1, to=RECIPIENT, value=1)])
    apply_changes(chain.store, chain.engine.rewind_changes(1))
    assert chain.head.hash == first.block.hash
    again = check_against_py_evm(chain, [sign(1, 0, to=RECIPIENT, value=2)])
    assert chain.engine.get_block_by_number(2) == again.block
    check_against_py_evm(chain, [])
