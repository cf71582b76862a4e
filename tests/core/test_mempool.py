"""Mempool rules, one test per rule, and a stateful comparison with a reference model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from peerchain.core import crypto
from peerchain.core.errors import (
    AlreadyKnown,
    FeeTooLow,
    GasLimitExceeded,
    InsufficientFunds,
    IntrinsicGasTooLow,
    InvalidTransaction,
    NonceTooLow,
    OversizedTransaction,
    ReplacementUnderpriced,
    TxPoolFull,
    WrongChainId,
)
from peerchain.core.mempool import (
    AccountLimitExceeded,
    AccountState,
    Mempool,
    MempoolConfig,
)
from peerchain.core.transactions import Transaction
from peerchain.testing.transactions import signed_transaction

CHAIN = 1337
KEYS = [bytes([i]) * 32 for i in range(1, 5)]
ADDRS = [crypto.private_key_to_address(k) for k in KEYS]
A, B, C, D = range(4)
RICH = AccountState(nonce=0, balance=10**24)
GAS_LIMIT = 30_000_000
TO = b"\x11" * 20


def tx(
    who: int, nonce: int, fee: int = 100, tip: int = 10, *, chain_id: int = CHAIN, **fields: Any
) -> Transaction:
    """A transaction to TO from KEYS[who]; `fields` as `signed_transaction` takes them."""
    return signed_transaction(
        KEYS[who], nonce, to=TO, chain_id=chain_id, max_fee=fee, tip=tip, **fields
    )


def pool(**config: int | bool) -> Mempool:
    return Mempool(CHAIN, MempoolConfig(**config))  # type: ignore[arg-type]


def add(p: Mempool, t: Transaction, account: AccountState = RICH, base_fee: int = 0) -> None:
    p.add(t, account, base_fee, GAS_LIMIT)


def hashes(txs: list[Transaction] | tuple[Transaction, ...]) -> list[bytes]:
    return [t.hash for t in txs]


def at_nonce(nonce: int) -> Callable[[bytes], AccountState]:
    return lambda _sender: AccountState(nonce=nonce, balance=10**24)


# ---------------------------------------------------------------- admission


def test_add_get_contains_len() -> None:
    p, t = pool(), tx(A, 0)
    result = p.add(t, RICH, 7, GAS_LIMIT)
    assert result.pending and result.replaced is None and result.dropped == ()
    assert len(p) == 1 and t.hash in p and p.get(t.hash) == t
    assert p.get(b"\x00" * 32) is None and b"\x00" * 32 not in p
    assert p.content().pending == {ADDRS[A]: (t,)} and p.content().queued == {}


def test_nonce_gap_queues_and_filling_it_promotes() -> None:
    p = pool()
    t0, t1, t2, t4 = tx(A, 0), tx(A, 1), tx(A, 2), tx(A, 4)
    for t in (t2, t4):
        assert not p.add(t, RICH, 0, GAS_LIMIT).pending
    assert p.content().queued == {ADDRS[A]: (t2, t4)}
    assert p.pending_nonce(ADDRS[A], 0) == 0
    assert p.add(t0, RICH, 0, GAS_LIMIT).promoted == ()
    result = p.add(t1, RICH, 0, GAS_LIMIT)
    assert result.pending and hashes(result.promoted) == [t2.hash]
    assert p.content().pending == {ADDRS[A]: (t0, t1, t2)}
    assert p.content().queued == {ADDRS[A]: (t4,)}
    assert p.pending_nonce(ADDRS[A], 0) == 3
    assert p.pending_nonce(ADDRS[B], 9) == 9


def test_already_known() -> None:
    p, t = pool(), tx(A, 0)
    add(p, t)
    with pytest.raises(AlreadyKnown, match=r"^already known$"):
        add(p, t)


def test_oversized() -> None:
    big = tx(A, 0, gas=3_000_000, data=b"\x01" * (128 * 1024))
    with pytest.raises(OversizedTransaction) as info:
        add(pool(), big)
    assert str(info.value) == f"oversized data: transaction size {len(big.raw)}, limit 131072"
    add(pool(), tx(A, 0, gas=6_000_000, data=b"\x01" * (127 * 1024)))


def test_wrong_chain_id() -> None:
    with pytest.raises(WrongChainId, match=r"^invalid chain id for signer: have 5 want 1337$"):
        add(pool(), tx(A, 0, chain_id=5))


def test_nonce_too_low() -> None:
    with pytest.raises(NonceTooLow) as info:
        add(pool(), tx(A, 2), AccountState(nonce=3, balance=10**18))
    assert str(info.value) == f"nonce too low: address 0x{ADDRS[A].hex()}, tx: 2 state: 3"


def test_insufficient_funds() -> None:
    t = tx(A, 0, fee=100, value=5)
    poor = AccountState(nonce=0, balance=21000 * 100 + 4)
    with pytest.raises(InsufficientFunds) as info:
        add(pool(), t, poor)
    assert str(info.value) == (
        "insufficient funds for gas * price + value: "
        f"address 0x{ADDRS[A].hex()} have {poor.balance} want {21000 * 100 + 5}"
    )
    add(pool(), t, AccountState(nonce=0, balance=21000 * 100 + 5))


def test_intrinsic_gas_too_low() -> None:
    with pytest.raises(IntrinsicGasTooLow, match="minimum needed 21000"):
        add(pool(), tx(A, 0, gas=20999))


def test_calldata_floor_follows_config() -> None:
    heavy = tx(A, 0, gas=40_000, data=b"\x01" * 1000)
    with pytest.raises(IntrinsicGasTooLow, match="minimum needed 61000"):
        add(pool(), heavy)
    add(pool(calldata_floor=False), heavy)


def test_exceeds_block_gas_limit() -> None:
    with pytest.raises(GasLimitExceeded) as info:
        pool().add(tx(A, 0, gas=100_001), RICH, 0, 100_000)
    assert str(info.value) == "exceeds block gas limit: gas 100001, block gas limit 100000"


def test_fee_below_minimum_gas_price() -> None:
    p = pool(min_gas_price=10)
    with pytest.raises(FeeTooLow) as info:
        add(p, tx(A, 0, fee=9, tip=1))
    assert str(info.value) == "transaction underpriced: gas fee cap 9, minimum needed 10"
    add(p, tx(A, 0, fee=10, tip=1))


def test_tip_above_fee_cap() -> None:
    with pytest.raises(
        InvalidTransaction, match=r"^max priority fee per gas higher than max fee per gas$"
    ):
        add(pool(), tx(A, 0, fee=10, tip=11))


def test_fee_cap_below_base_fee_waits_until_base_fee_falls() -> None:
    p = pool()
    low0, a1, b0 = tx(A, 0, fee=50, tip=5), tx(A, 1, fee=500), tx(B, 0, fee=500)
    for t in (low0, a1, b0):
        assert p.add(t, RICH, 100, GAS_LIMIT).pending
    assert hashes(p.reap(GAS_LIMIT, base_fee=100)) == [b0.hash]
    assert hashes(p.reap(GAS_LIMIT, base_fee=50)) == [b0.hash, low0.hash, a1.hash]


# ---------------------------------------------------------------- replacement


@pytest.mark.parametrize(
    ("fee", "tip", "accepted"),
    [
        (1100, 110, True),
        (5000, 900, True),
        (1099, 110, False),
        (1100, 109, False),
        (1100, 100, False),
        (1000, 500, False),
    ],
)
def test_replacement_needs_ten_percent_on_both_fees(fee: int, tip: int, accepted: bool) -> None:
    p, old = pool(), tx(A, 0, fee=1000, tip=100)
    add(p, old)
    new = tx(A, 0, fee=fee, tip=tip)
    if not accepted:
        with pytest.raises(ReplacementUnderpriced, match=r"^replacement transaction underpriced$"):
            add(p, new)
        assert old.hash in p and len(p) == 1
        return
    result = p.add(new, RICH, 0, GAS_LIMIT)
    assert result.replaced == old and result.pending and result.dropped == ()
    assert old.hash not in p and p.get(new.hash) == new and len(p) == 1


def test_replacement_bump_is_strict_for_tiny_prices() -> None:
    p = pool()
    add(p, tx(A, 0, fee=5, tip=1))
    with pytest.raises(ReplacementUnderpriced):  # 10 % of 1 rounds to 0: equal is not a bump
        add(p, tx(A, 0, fee=6, tip=1))
    add(p, tx(A, 0, fee=6, tip=2))


def test_legacy_replacement_bumps_gas_price() -> None:
    p = pool()
    add(p, tx(A, 0, fee=100, tx_type=0))
    with pytest.raises(ReplacementUnderpriced):
        add(p, tx(A, 0, fee=109, tx_type=0))
    add(p, tx(A, 0, fee=110, tx_type=0))


# ---------------------------------------------------------------- limits


def test_sender_limit() -> None:
    p = pool(max_per_sender=3)
    a0, a2, a3 = tx(A, 0), tx(A, 2), tx(A, 3)
    for t in (a0, a2, a3):
        add(p, t)
    with pytest.raises(AccountLimitExceeded, match="account limit exceeded"):
        add(p, tx(A, 4))
    result = p.add(tx(A, 1), RICH, 0, GAS_LIMIT)  # a lower nonce displaces the highest
    assert result.dropped == (a3,) and result.promoted == (a2,)
    assert [t.nonce for t in p.content().pending[ADDRS[A]]] == [0, 1, 2]
    add(p, tx(B, 0))  # other senders are unaffected


def test_full_pool_evicts_cheapest_tail() -> None:
    p = pool(max_size=3)
    a0, a1, b0 = tx(A, 0, tip=1), tx(A, 1, tip=50), tx(B, 0, tip=5)
    for t in (a0, a1, b0):
        add(p, t)
    # a0 is cheapest but evicting it would strand a1: the cheapest tail (b0) goes.
    result = p.add(tx(C, 0, tip=6), RICH, 0, GAS_LIMIT)
    assert result.dropped == (b0,) and len(p) == 3 and a0.hash in p


@pytest.mark.parametrize("tip", [1, 5])
def test_full_pool_rejects_newcomer_not_paying_more(tip: int) -> None:
    p = pool(max_size=2)
    add(p, tx(A, 0, tip=5))
    add(p, tx(B, 0, tip=9))
    with pytest.raises(TxPoolFull, match=r"^txpool is full$"):
        add(p, tx(C, 0, tip=tip))
    assert len(p) == 2


def test_eviction_uses_effective_tip_at_base_fee() -> None:
    p = pool(max_size=2)
    capped = tx(A, 0, fee=105, tip=50)  # effective tip 5 at base fee 100
    add(p, capped, base_fee=100)
    add(p, tx(B, 0, fee=200, tip=20), base_fee=100)
    result = p.add(tx(C, 0, fee=200, tip=10), RICH, 100, GAS_LIMIT)
    assert result.dropped == (capped,)


def test_eviction_ties_drop_newest() -> None:
    p = pool(max_size=2)
    old, new = tx(A, 0, tip=5), tx(B, 0, tip=5)
    add(p, old)
    add(p, new)
    assert p.add(tx(C, 0, tip=6), RICH, 0, GAS_LIMIT).dropped == (new,)


# ---------------------------------------------------------------- reaping


def test_reap_orders_by_tip_across_senders_and_nonce_within() -> None:
    p = pool()
    a0, a1 = tx(A, 0, tip=1), tx(A, 1, tip=90)
    b0, b1 = tx(B, 0, tip=50), tx(B, 1, tip=2)
    c0 = tx(C, 0, tip=50)  # ties with b0: earlier arrival first
    for t in (a0, a1, b0, b1, c0):
        add(p, t)
    assert hashes(p.reap(GAS_LIMIT, 0)) == hashes([b0, c0, b1, a0, a1])
    assert hashes(p.reap(GAS_LIMIT, 0, max_txs=2)) == hashes([b0, c0])
    assert len(p) == 5  # reaping does not remove


def test_reap_respects_gas_and_skips_a_sender_that_does_not_fit() -> None:
    p = pool()
    big, after_big = tx(A, 0, tip=90, gas=50_000), tx(A, 1, tip=90)
    small0, small1 = tx(B, 0, tip=5), tx(B, 1, tip=5)
    for t in (big, after_big, small0, small1):
        add(p, t)
    assert hashes(p.reap(45_000, 0)) == hashes([small0, small1])
    assert hashes(p.reap(71_000, 0)) == hashes([big, after_big])
    assert p.reap(20_999, 0) == []


def test_reap_legacy_tip_is_price_minus_base_fee() -> None:
    p = pool()
    legacy = tx(A, 0, fee=130, tx_type=0)  # tip 30 at base fee 100
    dynamic = tx(B, 0, fee=1000, tip=20)
    add(p, dynamic)
    add(p, legacy)
    assert hashes(p.reap(GAS_LIMIT, 100)) == hashes([legacy, dynamic])
    assert hashes(p.reap(GAS_LIMIT, 0)) == hashes([legacy, dynamic])
    assert hashes(p.reap(GAS_LIMIT, 120)) == hashes([dynamic, legacy])


# ---------------------------------------------------------------- blocks


def test_on_new_block_removes_included_and_stale() -> None:
    p = pool()
    a0, a1, a2 = tx(A, 0), tx(A, 1), tx(A, 2)
    rival = tx(A, 1, fee=200, tip=30)  # included elsewhere: same nonce, other hash
    for t in (a0, a1, a2):
        add(p, t)
    dropped = p.on_new_block([a0.hash], at_nonce(2))
    assert dropped == (a1,) and rival.hash not in p
    assert p.content().pending == {ADDRS[A]: (a2,)}


def test_on_new_block_drops_unaffordable_and_queues_the_rest() -> None:
    p = pool()
    a0, a1 = tx(A, 0, fee=100), tx(A, 1, fee=1000)
    a2 = tx(A, 2, fee=100)
    for t in (a0, a1, a2):
        add(p, t)
    dropped = p.on_new_block([], lambda _s: AccountState(nonce=0, balance=21000 * 100))
    assert dropped == (a1,)
    assert p.content().pending == {ADDRS[A]: (a0,)}
    assert p.content().queued == {ADDRS[A]: (a2,)}
    assert hashes(p.reap(GAS_LIMIT, 0)) == [a0.hash]


def test_on_new_block_promotes_when_nonce_catches_up() -> None:
    p = pool()
    a2, a3 = tx(A, 2), tx(A, 3)
    add(p, a2)
    add(p, a3)
    assert p.reap(GAS_LIMIT, 0) == []
    assert p.on_new_block([], at_nonce(2)) == ()
    assert p.content().pending == {ADDRS[A]: (a2, a3)}
    assert hashes(p.reap(GAS_LIMIT, 0)) == hashes([a2, a3])


def test_remove_opens_a_gap() -> None:
    p = pool()
    a0, a1, a2 = tx(A, 0), tx(A, 1), tx(A, 2)
    for t in (a0, a1, a2):
        add(p, t)
    assert p.remove([a1.hash, b"\x00" * 32]) == (a1,)
    assert p.content().queued == {ADDRS[A]: (a2,)}
    assert hashes(p.reap(GAS_LIMIT, 0)) == [a0.hash]


def test_add_with_newer_account_nonce_drops_stale() -> None:
    p = pool()
    a0, a1 = tx(A, 0), tx(A, 1)
    add(p, a0)
    add(p, a1)
    result = p.add(tx(A, 2), AccountState(nonce=1, balance=10**24), 0, GAS_LIMIT)
    assert result.dropped == (a0,) and result.pending
    assert [t.nonce for t in p.content().pending[ADDRS[A]]] == [1, 2]


# ---------------------------------------------------------------- model-based


MAX_SIZE, MAX_PER_SENDER, BUMP = 8, 3, 10
SIGNED: dict[tuple[int, int, int, int, int], Transaction] = {}


def signed(who: int, nonce: int, fee: int, tip: int, gas: int) -> Transaction:
    key = (who, nonce, fee, tip, gas)
    if key not in SIGNED:
        SIGNED[key] = tx(who, nonce, fee, tip, gas=gas, value=1)
    return SIGNED[key]


@dataclass
class Model:
    """A slow, obvious reference: a list in arrival order plus account states."""

    accounts: dict[bytes, AccountState]
    txs: list[Transaction] = field(default_factory=list)

    def of(self, sender: bytes) -> dict[int, Transaction]:
        return {t.nonce: t for t in self.txs if t.sender == sender}

    def run(self, sender: bytes) -> list[Transaction]:
        mine, nonce, out = self.of(sender), self.accounts[sender].nonce, []
        while nonce in mine:
            out.append(mine[nonce])
            nonce += 1
        return out

    def add(self, t: Transaction, base_fee: int) -> tuple[type[Exception] | None, set[bytes]]:
        """Expected error, or None and the hashes that leave (replaced + evicted)."""
        account = self.accounts[t.sender]
        if any(x.hash == t.hash for x in self.txs):
            return AlreadyKnown, set()
        if t.max_priority_fee_per_gas > t.max_fee_per_gas:
            return InvalidTransaction, set()
        if t.nonce < account.nonce:
            return NonceTooLow, set()
        if account.balance < t.cost:
            return InsufficientFunds, set()
        mine = self.of(t.sender)
        if t.nonce in mine:
            old = mine[t.nonce]
            ok = all(
                new > prev and new >= prev * (100 + BUMP) // 100
                for new, prev in (
                    (t.max_fee_per_gas, old.max_fee_per_gas),
                    (t.max_priority_fee_per_gas, old.max_priority_fee_per_gas),
                )
            )
            if not ok:
                return ReplacementUnderpriced, set()
            self.txs = [x for x in self.txs if x is not old] + [t]
            return None, {old.hash}
        gone: set[bytes] = set()
        if len(mine) >= MAX_PER_SENDER:
            if t.nonce > max(mine):
                return AccountLimitExceeded, set()
            gone = {mine[max(mine)].hash}
        elif len(self.txs) >= MAX_SIZE:
            tails = [max(self.of(s).items())[1] for s in {x.sender for x in self.txs}]
            order = {x.hash: i for i, x in enumerate(self.txs)}
            victim = min(tails, key=lambda x: (x.effective_tip(base_fee), -order[x.hash]))
            if t.effective_tip(base_fee) <= victim.effective_tip(base_fee):
                return TxPoolFull, set()
            gone = {victim.hash}
        self.txs = [x for x in self.txs if x.hash not in gone] + [t]
        return None, gone

    def reap(self, max_gas: int, base_fee: int) -> list[Transaction]:
        order = {x.hash: i for i, x in enumerate(self.txs)}
        runs = {s: self.run(s) for s in {x.sender for x in self.txs}}
        out: list[Transaction] = []
        gas = max_gas
        while gas >= 21000:
            heads = [r[0] for r in runs.values() if r and r[0].max_fee_per_gas >= base_fee]
            if not heads:
                break
            best = min(heads, key=lambda x: (-x.effective_tip(base_fee), order[x.hash]))
            if best.gas_limit <= gas:
                out.append(best)
                gas -= best.gas_limit
                runs[best.sender].pop(0)
            else:
                runs[best.sender] = []
        return out

    def block(self, included: list[Transaction], base_fee: int) -> set[bytes]:
        for t in included:
            a = self.accounts[t.sender]
            paid = t.gas_limit * t.effective_gas_price(base_fee) + t.value
            self.accounts[t.sender] = AccountState(a.nonce + 1, max(0, a.balance - paid))
        return self.recheck({t.hash for t in included})

    def recheck(self, included: set[bytes]) -> set[bytes]:
        self.txs = [t for t in self.txs if t.hash not in included]
        bad = {
            t.hash
            for t in self.txs
            if t.nonce < self.accounts[t.sender].nonce or t.cost > self.accounts[t.sender].balance
        }
        self.txs = [t for t in self.txs if t.hash not in bad]
        return bad


class MempoolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.pool = Mempool(CHAIN, MempoolConfig(max_size=MAX_SIZE, max_per_sender=MAX_PER_SENDER))
        self.model = Model({a: AccountState(0, 30000 * 300) for a in ADDRS})
        self.base_fee = 50

    def state(self, sender: bytes) -> AccountState:
        return self.model.accounts[sender]

    @rule(
        who=st.integers(0, 3),
        offset=st.integers(-1, 5),
        fee=st.sampled_from([40, 44, 60, 100, 111, 150, 400]),
        tip=st.sampled_from([0, 1, 5, 10, 11, 40, 43]),
        gas=st.sampled_from([21000, 30000]),
    )
    def add(self, who: int, offset: int, fee: int, tip: int, gas: int) -> None:
        nonce = max(0, self.model.accounts[ADDRS[who]].nonce + offset)
        t = signed(who, nonce, fee, tip, gas)
        expected_error, expected_gone = self.model.add(t, self.base_fee)
        try:
            result = self.pool.add(t, self.state(t.sender), self.base_fee, GAS_LIMIT)
        except InvalidTransaction as exc:
            assert type(exc) is expected_error, (exc, expected_error)
            return
        assert expected_error is None
        gone = {x.hash for x in result.dropped}
        if result.replaced is not None:
            gone.add(result.replaced.hash)
        assert gone == expected_gone
        assert result.pending == (t in self.model.run(t.sender))

    @rule(max_gas=st.sampled_from([21000, 50000, 72000, 81000, 10**6]))
    def mine(self, max_gas: int) -> None:
        reaped = self.pool.reap(max_gas, self.base_fee)
        assert hashes(reaped) == hashes(self.model.reap(max_gas, self.base_fee))
        assert sum(t.gas_limit for t in reaped) <= max_gas
        by_sender: dict[bytes, list[int]] = {}
        for t in reaped:
            assert t.max_fee_per_gas >= self.base_fee
            by_sender.setdefault(t.sender, []).append(t.nonce)
        for sender, nonces in by_sender.items():
            start = self.model.accounts[sender].nonce
            assert nonces == list(range(start, start + len(nonces)))
        expected = self.model.block(reaped, self.base_fee)
        dropped = self.pool.on_new_block(hashes(reaped), self.state)
        assert set(hashes(dropped)) == expected

    @rule(who=st.integers(0, 3), amount=st.integers(-30000 * 200, 30000 * 200))
    def transfer(self, who: int, amount: int) -> None:
        a = self.model.accounts[ADDRS[who]]
        self.model.accounts[ADDRS[who]] = AccountState(a.nonce, max(0, a.balance + amount))
        expected = self.model.recheck(set())
        assert set(hashes(self.pool.on_new_block([], self.state))) == expected

    @rule(base_fee=st.sampled_from([0, 30, 50, 100, 120]))
    def set_base_fee(self, base_fee: int) -> None:
        self.base_fee = base_fee

    @invariant()
    def same_contents(self) -> None:
        assert all(t.hash in self.pool for t in self.model.txs)
        assert len(self.pool) == len(self.model.txs) <= MAX_SIZE
        content = self.pool.content()
        for sender in ADDRS:
            run = self.model.run(sender)
            assert content.pending.get(sender, ()) == tuple(run)
            mine = self.model.of(sender)
            queued = tuple(mine[n] for n in sorted(mine) if mine[n] not in run)
            assert content.queued.get(sender, ()) == queued
            assert len(self.model.of(sender)) <= MAX_PER_SENDER
            state_nonce = self.model.accounts[sender].nonce
            assert self.pool.pending_nonce(sender, state_nonce) == state_nonce + len(run)


MempoolMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_mempool_matches_model = MempoolMachine.TestCase
