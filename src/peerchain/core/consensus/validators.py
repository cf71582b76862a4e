"""The validator set of a height: voting power, quorum thresholds and the proposer schedule.

Thresholds are on voting power, not head count: a quorum ("2f+1" in the paper) is more
than two thirds of the total power, and "f+1" is more than one third.

The set may change from one height to the next (by on-chain vote, see
`docs/architecture.md`): consensus asks a `ValidatorSets` function for the set of each
height. A change decided in block H signs from H+2 on (`ACTIVATION_DELAY`, as in
CometBFT), so when a node works on height h the sets of h and h+1 are already fixed by
what it has committed. `SetHistory` is that rule over explicit changes (the simulator's
application uses it); the network node reads the sets from its chain state.

The proposer of (height, round) is chosen by weighted round-robin, the algorithm of
CometBFT (and nginx's smooth weighted round-robin): every step each validator's priority
grows by its power, the highest priority proposes (ties go to the lower address) and
pays back the total power. Started from zero priorities, the sequence repeats after
`total power / gcd(powers)` steps, with each validator proposing exactly in proportion
to its power, so one cycle is computed once and indexed: the proposer of (height, round)
is step `height - 1 + round` of it, as in CometBFT, where each height advances the
priorities once and each round once more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import reduce
from math import gcd

from peerchain.core.crypto import keccak256
from peerchain.core.genesis import Validator

MAX_SCHEDULE = 1 << 16
# A change decided in block H takes effect at height H + ACTIVATION_DELAY.
ACTIVATION_DELAY = 2


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """Validators sorted by address, each with positive voting power.

    Raises ValueError for an empty set, duplicate addresses, non-positive powers, or
    powers whose ratio needs a proposer cycle longer than `MAX_SCHEDULE` steps.
    """

    validators: tuple[Validator, ...]
    total_power: int = field(init=False)
    _power: dict[bytes, int] = field(init=False, repr=False, compare=False)
    _schedule: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __init__(self, validators: Iterable[Validator]) -> None:
        ordered = tuple(sorted(validators, key=lambda v: v.address))
        if not ordered:
            raise ValueError("a validator set needs at least one validator")
        power = {v.address: v.power for v in ordered}
        if len(power) != len(ordered):
            raise ValueError("duplicate validator address")
        if any(v.power <= 0 for v in ordered):
            raise ValueError("voting power must be positive")
        object.__setattr__(self, "validators", ordered)
        object.__setattr__(self, "total_power", sum(power.values()))
        object.__setattr__(self, "_power", power)
        object.__setattr__(self, "_schedule", _proposer_cycle([v.power for v in ordered]))

    def __len__(self) -> int:
        return len(self.validators)

    def __iter__(self) -> Iterator[Validator]:
        return iter(self.validators)

    def __contains__(self, address: object) -> bool:
        return address in self._power

    def power_of(self, address: bytes) -> int:
        """Voting power of `address`; 0 if it is not a validator."""
        return self._power.get(address, 0)

    def is_quorum(self, power: int) -> bool:
        """Whether `power` is more than two thirds of the total (the paper's 2f+1)."""
        return 3 * power > 2 * self.total_power

    def is_one_third(self, power: int) -> bool:
        """Whether `power` is more than one third of the total (the paper's f+1)."""
        return 3 * power > self.total_power

    def proposer(self, height: int, round: int) -> bytes:
        """Address of the proposer of (height, round); heights start at 1."""
        schedule = self._schedule
        return self.validators[schedule[(height - 1 + round) % len(schedule)]].address


# The set that signs a height, or None if this node does not know it (yet).
ValidatorSets = Callable[[int], ValidatorSet | None]


def fixed_sets(validators: ValidatorSet) -> ValidatorSets:
    """The same set at every height."""
    return lambda height: validators


def as_sets(validators: ValidatorSet | ValidatorSets) -> ValidatorSets:
    """A set per height from either a fixed set or such a function."""
    return fixed_sets(validators) if isinstance(validators, ValidatorSet) else validators


def encode_validator_set(validators: ValidatorSet) -> bytes:
    """Canonical bytes: `address (20) | power (8)` per validator, sorted by address."""
    return b"".join(v.address + v.power.to_bytes(8, "big") for v in validators)


def decode_validator_set(data: bytes) -> ValidatorSet:
    """Read `encode_validator_set` output. Raises ValueError."""
    if not data or len(data) % 28:
        raise ValueError(f"a validator set encoding is a multiple of 28 bytes, got {len(data)}")
    return ValidatorSet(
        Validator(data[i : i + 20], int.from_bytes(data[i + 20 : i + 28], "big"))
        for i in range(0, len(data), 28)
    )


def validator_set_hash(validators: ValidatorSet) -> bytes:
    """keccak-256 of the canonical encoding: what a block header commits to."""
    return keccak256(encode_validator_set(validators))


def apply_changes(validators: ValidatorSet, changes: Iterable[tuple[bytes, int]]) -> ValidatorSet:
    """The set after `(address, power)` changes in order; power 0 removes the address.

    Raises ValueError (with the reason) if the result would be empty or invalid."""
    powers = {v.address: v.power for v in validators}
    for address, power in changes:
        if power:
            powers[address] = power
        else:
            powers.pop(address, None)
    if not powers:
        raise ValueError("the change would leave the validator set with no voting power")
    return ValidatorSet(Validator(a, p) for a, p in powers.items())


class SetHistory:
    """The validator set of every height from a genesis set and the changes each
    committed block decides (effective `ACTIVATION_DELAY` heights later)."""

    def __init__(self, genesis: ValidatorSet) -> None:
        self._sets: dict[int, ValidatorSet] = {1: genesis, 2: genesis}

    def at(self, height: int) -> ValidatorSet | None:
        """The set of `height`, None if not decided yet."""
        return self._sets.get(max(height, 1))

    def committed(self, height: int, changes: Iterable[tuple[bytes, int]]) -> None:
        """Block `height` was committed with `changes`: fix the set of `height + 2`.

        A change that would leave no power is skipped (the chain refuses it)."""
        previous = self._sets[height + ACTIVATION_DELAY - 1]
        try:
            following = apply_changes(previous, changes)
        except ValueError:
            following = previous
        self._sets[height + ACTIVATION_DELAY] = following


def _proposer_cycle(powers: list[int]) -> tuple[int, ...]:
    """One full cycle of weighted round-robin picks (indexes into `powers`)."""
    divisor = reduce(gcd, powers)
    weights = [p // divisor for p in powers]
    total = sum(weights)
    if total > MAX_SCHEDULE:
        raise ValueError(
            f"voting powers need a proposer cycle of {total} steps (limit {MAX_SCHEDULE}); "
            "express power in coarser units"
        )
    priority = [0] * len(weights)
    picks = []
    for _ in range(total):
        for i, w in enumerate(weights):
            priority[i] += w
        best = max(range(len(weights)), key=lambda i: (priority[i], -i))
        priority[best] -= total
        picks.append(best)
    if any(priority):  # pragma: no cover - the algorithm always returns to zero
        raise AssertionError("weighted round-robin did not complete a cycle")
    return tuple(picks)
