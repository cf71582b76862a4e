"""eth_call and eth_estimateGas through the engine, with revert data."""

from __future__ import annotations

from dataclasses import replace

import pytest

from peerchain.core.queries import CallRequest, ExecutionFailed, ExecutionReverted, revert_reason
from peerchain.execution.calls import ESTIMATE_ERROR_RATIO, GasEstimate
from peerchain.testing.queries import ENDLESS_LOOP, loop_code

from .conftest import ADDRS, ETHER, DictChain, sign, store_contract, word


@pytest.fixture
def deployed(chain: DictChain) -> tuple[DictChain, bytes]:
    init_code, _ = store_contract()
    executed = chain.mine([sign(0, 0, to=None, data=init_code + word(7), gas=500_000)])
    address = executed.receipts[0].contract_address
    assert address is not None
    return chain, address


def selector(name: str) -> bytes:
    return store_contract()[1][name]


def test_call_reads_contract_state(deployed: tuple[DictChain, bytes]) -> None:
    chain, contract = deployed
    out = chain.engine.call(CallRequest(to=contract, data=selector("value()")), chain.head)
    assert out == word(7)


def test_call_does_not_persist_anything(deployed: tuple[DictChain, bytes]) -> None:
    chain, contract = deployed
    before = dict(chain.store)
    request = CallRequest(sender=ADDRS[1], to=contract, data=selector("store(uint256)") + word(9))
    assert chain.engine.call(request, chain.head) == b""
    assert chain.store == before
    assert chain.engine.get_storage(contract, 0, chain.head) == word(7)


def test_revert_carries_reason_and_data(deployed: tuple[DictChain, bytes]) -> None:
    chain, contract = deployed
    request = CallRequest(sender=ADDRS[1], to=contract, data=selector("store(uint256)") + word(13))
    with pytest.raises(ExecutionReverted) as info:
        chain.engine.call(request, chain.head)
    assert str(info.value) == "execution reverted: unlucky"
    assert revert_reason(info.value.data) == "unlucky"
    with pytest.raises(ExecutionReverted) as estimated:
        chain.engine.estimate_gas(request, chain.head)
    assert estimated.value.data == info.value.data


def _least_gas(chain: DictChain, request: CallRequest, hi: int = 1_000_000) -> int:
    """The least gas with which `request` succeeds, by a full binary search of calls."""
    lo = 21_000
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            chain.engine.call(replace(request, gas=mid), chain.head)
        except ExecutionFailed:
            lo = mid
        else:
            hi = mid
    return hi


def _call_forwarding(target: bytes, payload: bytes) -> bytes:
    """Init code that calls `target` with `payload` and all its gas, and fails if the
    nested call fails."""
    code = b""
    for offset in range(0, len(payload), 32):
        word_ = payload[offset : offset + 32].ljust(32, b"\0")
        code += b"\x7f" + word_ + b"\x60" + bytes([offset]) + b"\x52"  # PUSH32 w PUSH1 o MSTORE
    code += b"\x60\x00\x60\x00"  # retSize retOffset
    code += b"\x60" + bytes([len(payload)]) + b"\x60\x00"  # argsSize argsOffset
    code += b"\x60\x00\x73" + target + b"\x5a\xf1"  # value, address, GAS, CALL
    code += b"\x15\x60" + bytes([len(code) + 5]) + b"\x57\x00\x5b\xfe"  # fail unless ok
    return code


def test_estimate_is_within_the_error_ratio_of_the_least_gas(
    deployed: tuple[DictChain, bytes],
) -> None:
    chain, contract = deployed
    data = selector("store(uint256)") + word(42)
    request = CallRequest(sender=ADDRS[1], to=contract, data=data)
    estimate = chain.engine.estimate_gas(request, chain.head)
    least = _least_gas(chain, request)
    assert least <= estimate.gas <= least * (1 + ESTIMATE_ERROR_RATIO)
    # The cap run, then the gas it used, which is all it needs.
    assert estimate.executions == 2 and estimate.gas == least
    executed = chain.mine([sign(1, 0, to=contract, data=data, gas=estimate.gas)])
    assert executed.receipts[0].status == 1
    transfer = CallRequest(sender=ADDRS[1], to=b"\x99" * 20, value=ETHER)
    assert chain.engine.estimate_gas(transfer, chain.head) == GasEstimate(21_000, 1)


def test_estimate_of_a_long_loop_needs_two_executions(chain: DictChain) -> None:
    """A loop burning about 850k gas: the cap run, then the gas it used, which is exact."""
    request = CallRequest(data=loop_code(20_000))
    estimate = chain.engine.estimate_gas(request, chain.head)
    assert estimate.executions == 2
    assert estimate.gas == _least_gas(chain, request, hi=1_000_000)


def test_estimate_of_nested_calls_searches_above_the_gas_used(
    deployed: tuple[DictChain, bytes],
) -> None:
    """A call that makes a nested call needs more than it used (63/64 of the gas left is
    all a nested call gets): the estimate takes the reserve into account."""
    chain, contract = deployed
    inner = selector("store(uint256)") + word(42)
    # CALL(gas(), contract, 0, 0, len(inner), 0, 0) with `inner` copied to memory first.
    code = _call_forwarding(contract, inner)
    request = CallRequest(sender=ADDRS[1], data=code)
    estimate = chain.engine.estimate_gas(request, chain.head)
    least = _least_gas(chain, request, hi=1_000_000)
    assert least <= estimate.gas <= least * (1 + ESTIMATE_ERROR_RATIO)
    assert 3 <= estimate.executions <= 8


def test_explicit_gas_is_capped(chain: DictChain) -> None:
    endless = CallRequest(data=ENDLESS_LOOP, gas=2**64 - 1)
    with pytest.raises(ExecutionFailed, match=r"out of gas: .*\(100000\)"):
        chain.engine.call(endless, chain.head, gas_cap=100_000)
    with pytest.raises(ExecutionFailed, match=r"out of gas: .*\(100000\)"):
        chain.engine.estimate_gas(endless, chain.head, gas_cap=100_000)
    # Without gas a call gets the block's gas limit, also capped.
    with pytest.raises(ExecutionFailed, match=r"\(60000\)"):
        chain.engine.call(CallRequest(data=ENDLESS_LOOP), chain.head, gas_cap=60_000)


def test_paid_call_needs_funds(chain: DictChain) -> None:
    broke = b"\x42" * 20
    request = CallRequest(sender=broke, to=ADDRS[0], value=1, max_fee_per_gas=10**10)
    with pytest.raises(ExecutionFailed):
        chain.engine.call(request, chain.head)


def test_revert_reason_decoding() -> None:
    payload = bytes.fromhex("08c379a0") + word(32) + word(2) + b"hi".ljust(32, b"\0")
    assert revert_reason(payload) == "hi"
    assert revert_reason(b"") is None
    assert revert_reason(bytes.fromhex("08c379a0") + word(32) + word(99)) is None


def test_estimate_with_a_fee_is_capped_by_what_the_sender_can_pay(chain: DictChain) -> None:
    poor = b"\x98" * 20
    fee = 10**10
    funded = chain.mine([sign(0, 0, to=poor, value=30_000 * fee)])
    assert funded.receipts[0].status == 1
    head = chain.head
    transfer = CallRequest(sender=poor, to=b"\x99" * 20, max_fee_per_gas=fee)
    assert chain.engine.estimate_gas(transfer, head).gas == 21_000
    too_much = CallRequest(sender=poor, to=b"\x99" * 20, value=29_000 * fee, max_fee_per_gas=fee)
    with pytest.raises(ExecutionFailed):
        chain.engine.estimate_gas(too_much, head)
