"""Fee market arithmetic (EIP-1559 base fee) and fee-history rewards."""

from __future__ import annotations

from collections.abc import Sequence

ELASTICITY_MULTIPLIER = 2
BASE_FEE_CHANGE_DENOMINATOR = 8


def next_base_fee(parent_gas_used: int, parent_gas_limit: int, parent_base_fee: int) -> int:
    """Base fee of the child of a block with these figures."""
    target = parent_gas_limit // ELASTICITY_MULTIPLIER
    if target == 0 or parent_gas_used == target:
        return parent_base_fee
    if parent_gas_used > target:
        delta = parent_base_fee * (parent_gas_used - target) // target
        return parent_base_fee + max(delta // BASE_FEE_CHANGE_DENOMINATOR, 1)
    delta = parent_base_fee * (target - parent_gas_used) // target
    return max(parent_base_fee - delta // BASE_FEE_CHANGE_DENOMINATOR, 0)


def reward_percentiles(
    tips_and_gas: Sequence[tuple[int, int]], percentiles: Sequence[float]
) -> tuple[int, ...]:
    """Tip at each percentile of a block's gas, as eth_feeHistory reports it.

    `tips_and_gas` holds (effective tip, gas used) per transaction. An empty block
    reports zeros.
    """
    if not tips_and_gas:
        return tuple(0 for _ in percentiles)
    ordered = sorted(tips_and_gas)
    total = sum(gas for _, gas in ordered)
    rewards = []
    index = 0
    cumulative = ordered[0][1]
    for pct in percentiles:
        threshold = total * pct / 100
        while cumulative < threshold and index < len(ordered) - 1:
            index += 1
            cumulative += ordered[index][1]
        rewards.append(ordered[index][0])
    return tuple(rewards)


MIN_BLOB_BASE_FEE = 1
BLOB_BASE_FEE_UPDATE_FRACTION = {False: 3_338_477, True: 5_007_716}  # Cancun, Prague


def blob_base_fee(excess_blob_gas: int, prague: bool) -> int:
    """Price of a unit of blob gas for a block with this excess (Cancun's fake exponential,
    with Prague's update fraction when `prague`)."""
    fraction = BLOB_BASE_FEE_UPDATE_FRACTION[prague]
    i, output, accumulator = 1, 0, MIN_BLOB_BASE_FEE * fraction
    while accumulator > 0:
        output += accumulator
        accumulator = accumulator * excess_blob_gas // (fraction * i)
        i += 1
    return output // fraction
