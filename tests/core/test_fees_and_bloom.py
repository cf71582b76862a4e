"""Base fee arithmetic, fee-history percentiles and the log bloom, checked against py-evm's
base fee formula and the eth-bloom package (what py-evm builds its blooms with)."""

from __future__ import annotations

from types import SimpleNamespace

from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth_bloom import BloomFilter
from hypothesis import given
from hypothesis import strategies as st

from peerchain.core.bloom import BLOOM_BYTES, bloom_matches, bloom_may_contain, item_bloom
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


@st.composite
def parents(draw: st.DrawFn) -> tuple[int, int, int]:
    """(gas used, gas limit, base fee) of a parent block, around the edges that matter."""
    limit = draw(st.one_of(st.integers(2, 100), st.integers(5000, 60_000_000), st.just(30_000_000)))
    target = limit // 2
    used = draw(
        st.one_of(
            st.integers(0, limit), st.sampled_from([0, target - 1, target, target + 1, limit])
        )
    )
    base = draw(st.one_of(st.integers(0, 100), st.integers(0, 10**30), st.just(7)))
    return max(0, min(used, limit)), limit, base


@given(parents())
def test_base_fee_is_py_evms(parent: tuple[int, int, int]) -> None:
    used, limit, base = parent
    header = SimpleNamespace(gas_used=used, gas_limit=limit, base_fee_per_gas=base)
    assert next_base_fee(used, limit, base) == calculate_expected_base_fee_per_gas(header)


def test_reward_percentiles_weighted_by_gas() -> None:
    # 10 % of the gas pays tip 1, 90 % pays tip 5.
    tips = [(5, 90_000), (1, 10_000)]
    assert reward_percentiles(tips, [5.0, 10.0, 50.0, 100.0]) == (1, 1, 5, 5)
    assert reward_percentiles([], [25.0, 75.0]) == (0, 0)


ITEMS = st.lists(st.binary(min_size=1, max_size=40), max_size=60)


def _bloom(items: list[bytes]) -> bytes:
    bloom = 0
    for item in items:
        bloom |= item_bloom(item)
    return bloom.to_bytes(BLOOM_BYTES, "big")


@given(ITEMS, st.lists(st.binary(max_size=40), max_size=20))
def test_bloom_is_eth_blooms(items: list[bytes], probes: list[bytes]) -> None:
    """Same 256 bytes as eth-bloom for the same items, and the same answer for any probe
    (false positives included): members are never missed."""
    reference = BloomFilter.from_iterable(items)
    bloom = _bloom(items)
    assert bloom == int(reference).to_bytes(BLOOM_BYTES, "big")
    for item in items + probes:
        assert bloom_may_contain(bloom, item) is (item in reference)
    assert all(bloom_may_contain(bloom, item) for item in items)


@given(ITEMS, st.data())
def test_bloom_filter_match_is_eth_blooms(items: list[bytes], data: st.DataObject) -> None:
    """An address/topic filter rules a bloom out exactly when eth-bloom says that no listed
    address, or no alternative at some topic position, is in it."""
    present = st.sampled_from(items) if items else st.nothing()
    address = st.binary(min_size=20, max_size=20) | present
    topic = st.binary(min_size=32, max_size=32) | present
    addresses = data.draw(st.lists(address, max_size=3))
    topics = data.draw(st.lists(st.none() | st.lists(topic, max_size=3), max_size=4))
    reference = BloomFilter.from_iterable(items)
    expected = (not addresses or any(a in reference for a in addresses)) and all(
        not alternatives or any(t in reference for t in alternatives) for alternatives in topics
    )
    filters = tuple(None if alt is None else tuple(alt) for alt in topics)
    assert bloom_matches(_bloom(items), tuple(addresses), filters) is expected


def test_bloom_filter_rejects_absent_address() -> None:
    bloom = _bloom([b"\x11" * 20])
    assert bloom_matches(bloom, (b"\x11" * 20,), ())
    assert not bloom_matches(bloom, (b"\x22" * 20,), ())
    assert not bloom_matches(bytes(BLOOM_BYTES), (), ((b"\x33" * 32,),))
