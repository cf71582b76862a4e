"""Base fee arithmetic, fee-history percentiles and the log bloom."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from peerchain.core.bloom import BLOOM_BYTES, bloom_add, bloom_matches, bloom_may_contain
from peerchain.core.fees import next_base_fee, reward_percentiles

GWEI = 10**9


def test_base_fee_unchanged_at_target() -> None:
    assert next_base_fee(15_000_000, 30_000_000, GWEI) == GWEI


def test_base_fee_rises_one_eighth_when_full() -> None:
    assert next_base_fee(30_000_000, 30_000_000, GWEI) == GWEI + GWEI // 8


def test_base_fee_falls_one_eighth_when_empty() -> None:
    assert next_base_fee(0, 30_000_000, GWEI) == GWEI - GWEI // 8


def test_base_fee_rises_at_least_one_wei() -> None:
    assert next_base_fee(15_000_001, 30_000_000, 7) == 8


@given(st.integers(0, 30_000_000), st.integers(1, 10**12))
def test_base_fee_moves_at_most_one_eighth(used: int, base: int) -> None:
    nxt = next_base_fee(used, 30_000_000, base)
    assert abs(nxt - base) <= max(base // 8, 1)


def test_reward_percentiles_weighted_by_gas() -> None:
    # 10 % of the gas pays tip 1, 90 % pays tip 5.
    tips = [(5, 90_000), (1, 10_000)]
    assert reward_percentiles(tips, [5.0, 10.0, 50.0, 100.0]) == (1, 1, 5, 5)
    assert reward_percentiles([], [25.0, 75.0]) == (0, 0)


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=20))
def test_bloom_has_no_false_negatives(items: list[bytes]) -> None:
    bloom = bytearray(BLOOM_BYTES)
    for item in items:
        bloom_add(bloom, item)
    assert all(bloom_may_contain(bytes(bloom), item) for item in items)


def test_bloom_filter_rejects_absent_address() -> None:
    bloom = bytearray(BLOOM_BYTES)
    bloom_add(bloom, b"\x11" * 20)
    assert bloom_matches(bytes(bloom), (b"\x11" * 20,), ())
    assert not bloom_matches(bytes(bloom), (b"\x22" * 20,), ())
    assert not bloom_matches(bytes(BLOOM_BYTES), (), ((b"\x33" * 32,),))
