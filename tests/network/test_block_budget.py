"""A proposer under load builds no more than it can execute within its budget, so that its
proposal reaches the other validators before their propose timeout, and block sizes grow
over a few blocks when a burst arrives."""

from __future__ import annotations

import asyncio
from pathlib import Path

from peerchain.core.chainvalue import decode_chain_value
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import Validator, dev_genesis
from peerchain.core.mempool import Mempool
from peerchain.core.transactions import UnsignedTransaction, decode_transaction, sign_transaction
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.storage import LmdbStore
from peerchain.node.chainapp import GROWTH, MIN_BLOCK_TXS, ChainApplication
from peerchain.node.executor import BlockExecutor
from peerchain.node.ledger import Ledger

CHAIN_ID = 1337
KEYS = dev_private_keys(5)


class SteppingClock:
    """Each reading is `step` seconds after the previous one: a build takes `step`."""

    def __init__(self, step: float) -> None:
        self.time = 1_750_000_000.0
        self.step = step

    def now(self) -> float:
        self.time += self.step
        return self.time


def test_block_size_follows_the_measured_speed_and_the_budget(tmp_path: Path) -> None:
    genesis = dev_genesis(CHAIN_ID, [private_key_to_address(k) for k in KEYS], 10**21)
    store = LmdbStore(tmp_path / "chain")
    try:
        ledger = Ledger(store, genesis)
        mempool = Mempool(CHAIN_ID)
        for key in KEYS:
            for nonce in range(60):
                unsigned = UnsignedTransaction(
                    type=2, chain_id=CHAIN_ID, nonce=nonce, gas_limit=21000,
                    max_fee_per_gas=10**10, max_priority_fee_per_gas=1, to=b"\x42" * 20,
                    value=1,
                )  # fmt: skip
                tx = decode_transaction(sign_transaction(unsigned, key).raw, CHAIN_ID)
                mempool.add(
                    tx,
                    account=ledger.account_state(tx.sender),
                    base_fee=ledger.next_base_fee(),
                    block_gas_limit=ledger.head.gas_limit,
                )
        assert len(mempool) == 300
        clock = SteppingClock(step=0.064)  # 64 transactions in 0.064 s: 1 ms each
        validators = ValidatorSet([Validator(private_key_to_address(KEYS[0]), 1)])
        executor = BlockExecutor(ledger.engine, store)
        app = ChainApplication(
            ledger, mempool, validators, clock, private_key_to_address(KEYS[0]),
            on_commit=lambda block: None, executor=executor, build_budget=0.2,
        )  # fmt: skip

        def proposal_size(round_: int) -> int:
            value = asyncio.run(app.prepare_proposal(1, round_))
            return len(ledger.engine.execute_block(_block_rlp(value.data)).block.transactions)

        assert proposal_size(0) == MIN_BLOCK_TXS  # nothing measured yet
        clock.step = 0.2  # 192 transactions in 0.2 s: about 1 ms each again
        # 0.2 s at 1 ms a transaction would be 200: the growth from the last block bounds it
        assert proposal_size(1) == GROWTH * MIN_BLOCK_TXS + MIN_BLOCK_TXS == 192
        clock.step = 0.6  # three times slower: the estimate moves halfway, to about 2 ms
        assert proposal_size(2) == 195  # 0.2 s at 1.02 ms (the growth allows 448)
        assert proposal_size(3) == 97  # 0.2 s at 2.05 ms

        unlimited = ChainApplication(
            ledger, mempool, validators, clock, private_key_to_address(KEYS[0]),
            on_commit=lambda block: None, executor=executor,
        )  # fmt: skip
        value = asyncio.run(unlimited.prepare_proposal(1, 0))
        assert len(ledger.engine.execute_block(_block_rlp(value.data)).block.transactions) == 300
        executor.close()
    finally:
        store.close()


def _block_rlp(value_data: bytes) -> bytes:
    return decode_chain_value(value_data).block_rlp
