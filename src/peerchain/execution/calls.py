"""eth_call and eth_estimateGas: a transaction run on a block's state and thrown away.

A call runs in the context of the block it names (its number, timestamp, coinbase),
like geth. Without a gas price or fee caps the call is free and the base fee is
treated as zero; with them the sender must afford the gas. Nothing is persisted:
the state lives in an overlay that is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from eth.abc import BlockHeaderAPI, ChainDatabaseAPI, ComputationAPI, StateAPI
from eth.exceptions import InvalidInstruction, OutOfGas, Revert
from eth.vm.chain_context import ChainContext
from eth.vm.spoof import SpoofTransaction
from eth_typing import Address
from eth_utils.exceptions import ValidationError

from peerchain.core.crypto import checksum_address
from peerchain.core.genesis import ZERO_ADDRESS
from peerchain.core.queries import (
    BlockOverrides,
    CallRequest,
    ExecutionFailed,
    ExecutionReverted,
    InvalidOverride,
    StateOverrides,
    revert_reason,
)
from peerchain.core.transactions import FLOOR_GAS_PER_TOKEN

if TYPE_CHECKING:
    from peerchain.execution.tracing.console import ConsoleLines

TX_GAS = 21_000
CALL_STIPEND = 2_300
# The estimate search stops once the gap between the highest failing and the lowest
# succeeding gas limit is below this share of the latter (geth's estimateGasErrorRatio).
ESTIMATE_ERROR_RATIO = 0.015


@dataclass(frozen=True, slots=True)
class GasEstimate:
    """A gas estimate and how many times the request was executed to find it."""

    gas: int
    executions: int


def call_state(
    vm_class: Any,
    chaindb: ChainDatabaseAPI,
    header: BlockHeaderAPI,
    chain_context: ChainContext,
    request: CallRequest,
    state_overrides: StateOverrides = (),
    block_overrides: BlockOverrides | None = None,
) -> StateAPI:
    """State after `header`, in `header`'s block context (with `block_overrides`) and
    with `state_overrides` applied, ready to run `request`."""
    if block_overrides is not None:
        header = override_header(header, block_overrides)
    if _is_free(request):
        header = header.copy(base_fee_per_gas=0)
    vm_class = with_moved_precompiles(vm_class, state_overrides)
    prev_hashes = vm_class.get_prev_hashes(header.parent_hash, chaindb) or ()
    state: StateAPI = vm_class.build_state(chaindb.db, header, chain_context, prev_hashes)
    apply_state_overrides(state, state_overrides)
    return state


def override_header(header: BlockHeaderAPI, overrides: BlockOverrides) -> BlockHeaderAPI:
    """`header` with the block-context fields that `overrides` sets."""
    fields: dict[str, Any] = {}
    for name, value in (
        ("block_number", overrides.number),
        ("timestamp", overrides.time),
        ("gas_limit", overrides.gas_limit),
        ("coinbase", overrides.fee_recipient),
        ("mix_hash", overrides.prev_randao),
        ("base_fee_per_gas", overrides.base_fee),
    ):
        if value is not None:
            fields[name] = value
    return header.copy(**fields) if fields else header


def with_moved_precompiles(vm_class: Any, overrides: StateOverrides) -> Any:
    """`vm_class` with its precompiles as `overrides` leave them, by geth's rules: a
    precompile moved with movePrecompileToAddress answers at its new address, and an
    overridden precompile address holds an account, not the precompile. Raises
    InvalidOverride for a move from an address that is not a precompile, or to one that
    is overridden too."""
    state_class = vm_class.get_state_class()
    base: Any = state_class.computation_class
    active = base.get_precompiles()
    if not any(a in active or o.move_precompile_to is not None for a, o in overrides):
        return vm_class
    precompiles = dict(active)
    overridden = {address for address, _ in overrides}
    moved_to: set[bytes] = set()
    for address, override in overrides:
        if address in moved_to:
            raise InvalidOverride(
                f"account {checksum_address(address)} has already been overridden by a precompile"
            )
        precompile = precompiles.pop(Address(address), None)
        target = override.move_precompile_to
        if target is not None:
            if precompile is None:
                raise InvalidOverride(f"account {checksum_address(address)} is not a precompile")
            if target in overridden:
                raise InvalidOverride(f"account {checksum_address(target)} is already overridden")
            precompiles[Address(target)] = precompile
            moved_to.add(target)
    # What the calls reach is the moved set; what is warm from the start stays the fork's
    # precompiles, as in geth.
    fork_precompiles = classmethod(lambda cls: active)
    computation = type(
        f"Moved{base.__name__}",
        (base,),
        {"_precompiles": precompiles, "get_precompiles": fork_precompiles},
    )
    return vm_class.configure(_state_class=state_class.configure(computation_class=computation))


def apply_state_overrides(state: StateAPI, overrides: StateOverrides) -> None:
    """Write each account override into `state` (geth's semantics)."""
    for raw_address, override in overrides:
        address = Address(raw_address)
        if override.balance is not None:
            state.set_balance(address, override.balance)
        if override.nonce is not None:
            state.set_nonce(address, override.nonce)
        if override.code is not None:
            state.set_code(address, override.code)
        if override.storage is not None:
            state.delete_storage(address)
            for slot, value in override.storage:
                state.set_storage(address, slot, value)
        for slot, value in override.storage_diff:
            state.set_storage(address, slot, value)


def calldata_floor(data: bytes) -> int:
    """Least gas a transaction with this calldata is charged from Prague on."""
    zeros = data.count(0)
    return TX_GAS + FLOOR_GAS_PER_TOKEN * (zeros + 4 * (len(data) - zeros))


def call(state: StateAPI, builder: Any, request: CallRequest, gas_cap: int) -> bytes:
    """Run `request` and return its output. Raises ExecutionReverted or ExecutionFailed."""
    gas = request.gas if request.gas is not None else gas_cap
    computation = _run(state, builder, request, gas)
    _raise_for(computation, gas)
    return bytes(computation.output)


def estimate_gas(
    state: StateAPI,
    builder: Any,
    request: CallRequest,
    gas_cap: int,
    floor: int = 0,
    console: ConsoleLines | None = None,
) -> GasEstimate:
    """A gas limit with which `request` succeeds, at least `floor` (the calldata floor of
    forks that have one): the least one, or one within ESTIMATE_ERROR_RATIO of it.

    In geth's manner, from one run rather than a search of the whole range: a plain
    transfer is tried with 21000 first; otherwise one run with all the gas allowed (the
    request's, else `gas_cap`, or what the sender can pay for when a fee is given). The
    gas that run used is tried next, which is all most calls need (the answer is then
    exact); a call that needs more (nested calls keep 1/64 of the gas back) is tried with
    that plus the 63/64 reserve, then searched between the two until close enough.
    `console` (when `state` prints into it) keeps the lines of the run with all the gas.
    Raises ExecutionReverted (with the revert data) or ExecutionFailed when it fails even
    with all the gas allowed.
    """
    hi = request.gas if request.gas is not None else gas_cap
    fee_cap = request.max_fee_per_gas or request.gas_price or 0
    if fee_cap:
        balance = state.get_balance(Address(request.sender or ZERO_ADDRESS))
        if request.value > balance:
            raise ExecutionFailed("insufficient funds for transfer")
        hi = min(hi, (balance - request.value) // fee_cap)
    runs = 0
    if not request.data and request.to is not None and not state.get_code(Address(request.to)):
        runs += 1
        if hi >= TX_GAS and _succeeds(state, builder, request, TX_GAS):
            return GasEstimate(TX_GAS, runs)
    computation = _run(state, builder, request, hi)
    runs += 1
    if console is not None:
        console.stop()
    _raise_for(computation, hi)
    used = max(hi - computation.get_gas_remaining(), TX_GAS, floor)
    if used >= hi:
        return GasEstimate(hi, runs)
    runs += 1
    if _succeeds(state, builder, request, used):
        return GasEstimate(used, runs)
    lo = used
    optimistic = (used + CALL_STIPEND) * 64 // 63
    if optimistic < hi:
        runs += 1
        if _succeeds(state, builder, request, optimistic):
            hi = optimistic
        else:
            lo = optimistic
    while hi - lo > 1 and (hi - lo) / hi >= ESTIMATE_ERROR_RATIO:
        mid = min((lo + hi) // 2, lo * 2)
        runs += 1
        if _succeeds(state, builder, request, mid):
            hi = mid
        else:
            lo = mid
    return GasEstimate(hi, runs)


def create_access_list(
    state: StateAPI, builder: Any, request: CallRequest, gas_cap: int
) -> tuple[tuple[tuple[bytes, tuple[int, ...]], ...], int, str | None]:
    """The accounts and storage slots `request` touches, the gas it uses with them as its
    access list, and its error if it fails (geth's eth_createAccessList).

    The sender, the recipient and precompiles are left out unless their storage is read;
    the list is grown until running with it touches nothing new."""
    gas = request.gas if request.gas is not None else gas_cap
    sender = request.sender or ZERO_ADDRESS
    excluded = {sender, request.to, *(a.to_bytes(20, "big") for a in range(1, 0x12))}
    excluded.add(bytes(state.coinbase))
    found: dict[bytes, set[int]] = {}
    current = request
    for _ in range(8):
        touched = _touched(state, builder, current, gas)
        for address, slots in touched.items():
            if slots or address not in excluded:
                found.setdefault(address, set()).update(slots)
        access_list = tuple((a, tuple(sorted(found[a]))) for a in sorted(found))
        if access_list == current.access_list:
            break
        current = replace(current, access_list=access_list)
    computation = _run(state, builder, current, gas)
    used = gas - computation.get_gas_remaining()
    used -= min(computation.get_gas_refund(), used // 5)
    error = None
    try:
        _raise_for(computation, gas)
    except (ExecutionReverted, ExecutionFailed) as exc:
        error = str(exc)
    return current.access_list, used, error


def _touched(
    state: StateAPI, builder: Any, request: CallRequest, gas: int
) -> dict[bytes, set[int]]:
    """Every account made warm and every storage slot accessed while running `request`."""
    touched: dict[bytes, set[int]] = {}
    warm_address, warm_slot = state.mark_address_warm, state.mark_storage_warm

    def mark_address(address: Address) -> None:
        touched.setdefault(bytes(address), set())
        warm_address(address)

    def mark_slot(address: Address, slot: int) -> None:
        touched.setdefault(bytes(address), set()).add(slot)
        warm_slot(address, slot)

    hooked: Any = state
    hooked.mark_address_warm, hooked.mark_storage_warm = mark_address, mark_slot
    try:
        _run(state, builder, request, gas)
    finally:
        del hooked.mark_address_warm, hooked.mark_storage_warm
    return touched


def _is_free(request: CallRequest) -> bool:
    return not (request.gas_price or request.max_fee_per_gas or request.max_priority_fee_per_gas)


def _succeeds(state: StateAPI, builder: Any, request: CallRequest, gas: int) -> bool:
    try:
        computation = _run(state, builder, request, gas)
    except ExecutionFailed:
        return False
    return not computation.is_error


def spoofed(state: StateAPI, builder: Any, request: CallRequest, gas: int) -> Any:
    """The request as an unsigned transaction from its sender, for `state`'s chain."""
    sender = Address(request.sender or ZERO_ADDRESS)
    return SpoofTransaction(_unsigned(state, builder, request, sender, gas), from_=sender)


def _run(state: StateAPI, builder: Any, request: CallRequest, gas: int) -> ComputationAPI:
    """Apply the request as a transaction from its sender, then undo it."""
    tx = spoofed(state, builder, request, gas)
    snapshot = state.snapshot()
    try:
        return state.apply_transaction(tx)
    except ValidationError as exc:
        raise ExecutionFailed(str(exc)) from exc
    finally:
        state.revert(snapshot)


def _unsigned(
    state: StateAPI, builder: Any, request: CallRequest, sender: Address, gas: int
) -> Any:
    nonce = request.nonce if request.nonce is not None else state.get_nonce(sender)
    to = Address(request.to) if request.to is not None else b""
    access_list = [(Address(a), list(slots)) for a, slots in request.access_list]
    chain_id = state.execution_context.chain_id
    if request.max_fee_per_gas is not None or request.max_priority_fee_per_gas is not None:
        tip = request.max_priority_fee_per_gas or 0
        base_fee = state.execution_context.base_fee_per_gas or 0
        max_fee = request.max_fee_per_gas
        if max_fee is None:
            max_fee = base_fee + tip
        return builder.new_unsigned_dynamic_fee_transaction(
            chain_id=chain_id,
            nonce=nonce,
            max_priority_fee_per_gas=min(tip, max_fee),
            max_fee_per_gas=max_fee,
            gas=gas,
            to=to,
            value=request.value,
            data=request.data,
            access_list=access_list,
        )
    gas_price = request.gas_price or 0
    if access_list:
        return builder.new_unsigned_access_list_transaction(
            chain_id=chain_id,
            nonce=nonce,
            gas_price=gas_price,
            gas=gas,
            to=to,
            value=request.value,
            data=request.data,
            access_list=access_list,
        )
    return builder.create_unsigned_transaction(
        nonce=nonce, gas_price=gas_price, gas=gas, to=to, value=request.value, data=request.data
    )


def _raise_for(computation: ComputationAPI, gas: int) -> None:
    if not computation.is_error:
        return
    error = computation.error
    if isinstance(error, Revert):
        data = bytes(computation.output)
        reason = revert_reason(data)
        message = "execution reverted" if reason is None else f"execution reverted: {reason}"
        raise ExecutionReverted(message, data)
    if isinstance(error, OutOfGas):
        raise ExecutionFailed(f"out of gas: gas required exceeds allowance ({gas})")
    if isinstance(error, InvalidInstruction):
        raise ExecutionFailed(f"invalid opcode: {error}")
    raise ExecutionFailed(str(error) or type(error).__name__)
