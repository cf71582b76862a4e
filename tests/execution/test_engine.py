"""ExecutionEngine: building, importing, persisting and reading blocks over a dict store."""

from __future__ import annotations

from typing import Any

import coincurve
import pytest
import rlp
from eth.vm.forks.cancun.constants import BEACON_ROOTS_ADDRESS, BEACON_ROOTS_CONTRACT_CODE
from eth.vm.forks.prague.constants import (
    HISTORY_STORAGE_ADDRESS,
    HISTORY_STORAGE_CONTRACT_CODE,
    WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
)
from eth_keys.backends import get_backend
from eth_keys.backends.coincurve import CoinCurveECCBackend

from peerchain.core.bloom import bloom_matches
from peerchain.core.crypto import keccak256
from peerchain.core.fees import next_base_fee
from peerchain.core.genesis import GenesisAccount
from peerchain.core.kv import apply_changes
from peerchain.core.transactions import (
    Authorization,
    UnsignedTransaction,
    decode_transaction,
    sign_transaction,
)
from peerchain.execution.engine import EmptyStore, ExecutionEngine, InvalidBlock

from .conftest import (
    ADDRS,
    CHAIN_ID,
    COINBASE,
    ETHER,
    GWEI,
    KEYS,
    DictChain,
    funded_genesis,
    sign,
    store_contract,
    word,
)

STORED_TOPIC = keccak256(b"Stored(address,uint256)")
# Stands in for the withdrawal-request contract, which the VM calls after every block:
# slot 0 += 1 (PUSH1 0 SLOAD PUSH1 1 ADD PUSH1 0 SSTORE STOP).
COUNTER_CODE = bytes.fromhex("600054600101600055" + "00")
RECIPIENT = b"\x77" * 20


def deploy_and_call(chain: DictChain) -> tuple[bytes, list]:
    """Transactions deploying the test contract (initial 7) and storing 42 in it."""
    init_code, selectors = store_contract()
    deploy = sign(0, 0, to=None, data=init_code + word(7), gas=500_000)
    contract = keccak256(rlp.encode([ADDRS[0], 0]))[12:]
    store = sign(0, 1, to=contract, data=selectors["store(uint256)"] + word(42), gas=100_000)
    return contract, [deploy, store]


def test_genesis_is_deterministic_and_identifies_the_chain() -> None:
    a = ExecutionEngine({}, funded_genesis())
    b = ExecutionEngine({}, funded_genesis())
    other = ExecutionEngine({}, funded_genesis(chain_id=CHAIN_ID + 1, gas_limit=29_000_000))
    assert a.genesis_hash == b.genesis_hash
    assert a.genesis_hash != other.genesis_hash
    block, _ = a.genesis_changes()
    assert block.number == 0 and block.hash == a.genesis_hash
    assert block.header.base_fee_per_gas == GWEI and block.header.gas_limit == 30_000_000


def test_an_empty_store_has_no_head() -> None:
    with pytest.raises(EmptyStore):
        ExecutionEngine({}, funded_genesis()).head()


def test_store_of_another_genesis_is_detectable() -> None:
    chain = DictChain(funded_genesis())
    stranger = ExecutionEngine(chain.store, funded_genesis(extra_data=b"other"))
    assert stranger.head().hash == chain.engine.genesis_hash != stranger.genesis_hash


def test_transfers_pay_value_fees_and_tips(chain: DictChain) -> None:
    genesis = chain.head
    txs = [sign(0, n, to=RECIPIENT, value=ETHER) for n in range(3)]
    executed = chain.mine(txs)
    block = executed.block
    assert block.number == 1 and block.header.parent_hash == genesis.hash
    assert [t.hash for t in block.transactions] == [t.hash for t in txs]
    assert [r.gas_used for r in executed.receipts] == [21_000] * 3
    assert [r.cumulative_gas_used for r in executed.receipts] == [21_000, 42_000, 63_000]
    base_fee = next_base_fee(0, 30_000_000, GWEI)
    assert block.header.base_fee_per_gas == base_fee
    assert all(r.status == 1 for r in executed.receipts)
    assert all(r.effective_gas_price == base_fee + GWEI for r in executed.receipts)
    assert block.header.gas_used == 63_000
    head = chain.head
    assert head.hash == block.hash
    assert chain.engine.get_balance(RECIPIENT, head) == 3 * ETHER
    paid = 63_000 * (base_fee + GWEI)
    assert chain.engine.get_balance(ADDRS[0], head) == 1000 * ETHER - 3 * ETHER - paid
    assert chain.engine.get_balance(COINBASE, head) == 63_000 * GWEI
    assert chain.engine.get_nonce(ADDRS[0], head) == 3
    assert chain.engine.get_balance(RECIPIENT, genesis) == 0
    second = chain.mine([])
    assert second.block.header.base_fee_per_gas == next_base_fee(63_000, 30_000_000, base_fee)


def test_invalid_candidates_are_skipped_not_fatal(chain: DictChain) -> None:
    good = sign(0, 0, to=RECIPIENT, value=1)
    gap = sign(0, 5, to=RECIPIENT, value=1)
    poor = sign(1, 0, to=RECIPIENT, value=10_000 * ETHER)
    foreign = sign(2, 0, to=RECIPIENT, value=1, chain_id=CHAIN_ID + 1)
    huge = sign(3, 0, to=RECIPIENT, value=1, gas=30_000_001)
    executed = chain.mine([good, gap, poor, foreign, huge])
    assert [t.hash for t in executed.block.transactions] == [good.hash]
    reasons = {tx.hash: reason for tx, reason in executed.skipped}
    assert set(reasons) == {gap.hash, poor.hash, foreign.hash, huge.hash}
    assert "nonce" in reasons[gap.hash]
    assert "balance" in reasons[poor.hash]
    assert "chain id" in reasons[foreign.hash]
    assert "gas limit" in reasons[huge.hash]


def test_contract_deploy_call_logs_and_bloom(chain: DictChain) -> None:
    contract, txs = deploy_and_call(chain)
    executed = chain.mine(txs)
    deploy, store = executed.receipts
    assert deploy.status == 1 and deploy.contract_address == contract and deploy.to is None
    assert store.status == 1 and store.contract_address is None
    (log,) = store.logs
    assert log.address == contract
    assert log.topics == (STORED_TOPIC, word(int.from_bytes(ADDRS[0], "big")))
    assert log.data == word(42)
    assert (log.block_hash, log.block_number) == (executed.block.hash, 1)
    assert (log.transaction_hash, log.transaction_index, log.log_index) == (txs[1].hash, 1, 0)
    bloom = executed.block.header.logs_bloom
    assert bloom_matches(bloom, (contract,), ((STORED_TOPIC,),))
    assert not bloom_matches(bloom, (RECIPIENT,), ())
    head = chain.head
    assert chain.engine.get_storage(contract, 0, head) == word(42)
    assert chain.engine.get_code(contract, head) != b""
    assert chain.engine.get_receipts(executed.block.hash) == executed.receipts


def test_built_block_reimports_identically_on_a_fresh_engine() -> None:
    system = {
        HISTORY_STORAGE_ADDRESS: GenesisAccount(nonce=1, code=HISTORY_STORAGE_CONTRACT_CODE),
        BEACON_ROOTS_ADDRESS: GenesisAccount(nonce=1, code=BEACON_ROOTS_CONTRACT_CODE),
        WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS: GenesisAccount(nonce=1, code=COUNTER_CODE),
    }
    genesis = funded_genesis()
    genesis = funded_genesis(alloc=tuple(sorted({**dict(genesis.alloc), **system}.items())))
    builder = DictChain(genesis)
    importer = DictChain(genesis)
    parent_hash = builder.head.hash
    _, txs = deploy_and_call(builder)
    for batch in (txs, [sign(1, 0, to=RECIPIENT, value=5)], []):
        built = builder.mine(batch)
        imported = importer.engine.execute_block(built.block.rlp)
        assert imported.block == built.block
        assert imported.receipts == built.receipts
        assert imported.changes == built.changes
        apply_changes(importer.store, imported.changes)
    head = builder.head
    # The pre-block (block-hash history) and post-block (requests) hooks ran while building.
    assert builder.engine.get_storage(HISTORY_STORAGE_ADDRESS, 0, head) == parent_hash
    assert builder.engine.get_storage(WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, 0, head) == word(3)


def test_tampered_blocks_are_rejected(chain: DictChain) -> None:
    pristine = DictChain(chain.genesis)
    built = chain.build([sign(0, 0, to=RECIPIENT, value=1)])
    header, txs, uncles, withdrawals = rlp.decode(built.block.rlp)

    def reencode(header_fields: list, transactions: list) -> bytes:
        return rlp.encode([header_fields, transactions, uncles, withdrawals])

    bad_root = list(header)
    bad_root[3] = b"\x11" * 32
    with pytest.raises(InvalidBlock, match="state_root"):
        pristine.engine.execute_block(reencode(bad_root, txs))
    other_tx = sign(0, 0, to=RECIPIENT, value=2).raw
    with pytest.raises(InvalidBlock, match="transactions root"):
        pristine.engine.execute_block(reencode(header, [other_tx]))
    with pytest.raises(InvalidBlock, match="malformed"):
        pristine.engine.execute_block(b"\xc3\x01\x02\x03")
    with pytest.raises(InvalidBlock, match="unknown parent"):
        bad_parent = list(header)
        bad_parent[0] = b"\x22" * 32
        pristine.engine.execute_block(reencode(bad_parent, txs))
    assert pristine.engine.execute_block(built.block.rlp).block == built.block


def test_block_header_settings_are_checked(chain: DictChain) -> None:
    head = chain.head
    with pytest.raises(InvalidBlock, match="timestamp"):
        chain.engine.build_block(head, [], timestamp=head.timestamp, coinbase=COINBASE)
    with pytest.raises(InvalidBlock, match="extra data"):
        chain.build([], extra_data=b"x" * 33)
    executed = chain.build([], extra_data=b"peerchain", prev_randao=b"\x05" * 32)
    assert executed.block.header.extra_data == b"peerchain"
    assert executed.block.header.mix_hash == b"\x05" * 32
    assert executed.block.header.coinbase == COINBASE


def test_chain_reads_and_rewind(chain: DictChain) -> None:
    first = chain.mine([sign(0, 0, to=RECIPIENT, value=1)])
    second_tx = sign(0, 1, to=RECIPIENT, value=1)
    second = chain.mine([second_tx])
    engine = chain.engine
    assert engine.get_block_by_number(2) == second.block
    assert engine.get_block_by_hash(first.block.hash) == first.block
    location = engine.get_transaction_location(second_tx.hash)
    assert location is not None and (location.block_hash, location.index) == (second.block.hash, 0)
    apply_changes(chain.store, engine.rewind_changes(1))
    assert chain.head.hash == first.block.hash
    assert engine.get_block_by_number(2) is None
    assert engine.get_transaction_location(second_tx.hash) is None
    assert engine.get_nonce(ADDRS[0], chain.head) == 1
    replacement = chain.mine([sign(1, 0, to=RECIPIENT, value=3)])
    assert chain.head.number == 2 and engine.get_block_by_number(2) == replacement.block
    third = chain.mine([])
    assert engine.get_block_by_number(3) == third.block


def test_cancun_chain_runs_and_leaves_out_what_cancun_lacks() -> None:
    cancun = DictChain(funded_genesis(fork="Cancun"))
    prague = DictChain(funded_genesis())
    assert cancun.engine.genesis_hash != prague.engine.genesis_hash
    assert cancun.head.requests_hash is None and prague.head.requests_hash is not None
    auth = Authorization(chain_id=CHAIN_ID, address=RECIPIENT, nonce=1, y_parity=0, r=1, s=1)
    set_code = sign_transaction(
        UnsignedTransaction(
            type=4,
            chain_id=CHAIN_ID,
            nonce=0,
            gas_limit=100_000,
            max_fee_per_gas=10 * GWEI,
            max_priority_fee_per_gas=GWEI,
            to=RECIPIENT,
            authorization_list=(auth,),
        ),
        KEYS[0],
    )
    transfer = sign(1, 0, to=RECIPIENT, value=1)
    executed = cancun.mine([set_code, transfer])
    assert executed.block.transactions == (transfer,)
    assert executed.skipped[0][0] == set_code and "not supported" in executed.skipped[0][1]
    replay = DictChain(cancun.genesis)
    assert replay.engine.execute_block(executed.block.rlp).block == executed.block
    assert prague.mine([set_code]).block.transactions == (set_code,)


def test_py_evm_recovers_signatures_with_coincurve() -> None:
    # Without coincurve eth_keys falls back to pure Python, several times slower.
    assert isinstance(get_backend(), CoinCurveECCBackend)


def test_an_executed_block_is_read_back_from_memory_once_stored(chain: DictChain) -> None:
    built = chain.build([sign(0, 0, to=RECIPIENT, value=1)])
    # Not stored yet: reads do not see it.
    number = built.block.header.number
    assert chain.engine.get_block_by_hash(built.block.hash) is None
    assert chain.engine.get_block_by_number(number) is None
    assert chain.engine.get_header_by_number(number) is None
    assert chain.engine.get_receipts(built.block.hash) == ()
    apply_changes(chain.store, built.changes)
    # Stored: the very values execution produced, without decoding them again.
    assert chain.engine.get_block_by_hash(built.block.hash) is built.block
    assert chain.engine.get_block_by_number(number) is built.block
    assert chain.engine.get_header_by_number(number) is built.block.header
    assert chain.engine.get_receipts(built.block.hash) is built.receipts
    # A fresh engine over the same store reads equal values from the store.
    fresh = ExecutionEngine(chain.store, chain.genesis)
    assert fresh.get_block_by_hash(built.block.hash) == built.block
    assert fresh.get_receipts(built.block.hash) == built.receipts


def test_each_sender_is_recovered_once_per_node(
    chain: DictChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Admission recovers a sender; building a block and importing one whose
    transactions the mempool already holds recover none again, py-evm's included."""
    signed = [sign(k, 0, to=RECIPIENT, value=1) for k in range(3)]
    recoveries: list[bytes] = []
    original = coincurve.PublicKey.from_signature_and_message

    def counting(signature: bytes, message: bytes, hasher: Any = None) -> coincurve.PublicKey:
        recoveries.append(message)
        return original(signature, message, hasher=hasher)

    monkeypatch.setattr(coincurve.PublicKey, "from_signature_and_message", counting)
    admitted = [decode_transaction(tx.raw, CHAIN_ID) for tx in signed]
    assert len(recoveries) == 3
    built = chain.build(admitted)
    assert len(built.receipts) == 3 and len(recoveries) == 3
    validator = DictChain(chain.genesis)
    known = {tx.hash: tx for tx in admitted}
    assert validator.engine.execute_block(built.block.rlp, known).block == built.block
    assert len(recoveries) == 3
    # A block from a stranger: each sender recovered once, by the decoder.
    assert DictChain(chain.genesis).engine.execute_block(built.block.rlp).block == built.block
    assert len(recoveries) == 6
