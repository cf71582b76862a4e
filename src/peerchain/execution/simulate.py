"""eth_simulateV1's execution: planned blocks of calls run on a base block's state.

`simulate_blocks` runs a plan (`core.simulate.plan_blocks`) block by block over a
throwaway database, the way geth does: each block's header is made from its parent's
(base fee by the parent's rule with validation, 0 without, unless overridden), its
state overrides are applied, the chain's pre-block updates run, then its calls in order
as unsigned transactions (their senders taken as given) on the state the previous call
left. The block is then sealed (state, transactions and receipts roots, bloom, gas
used) so that the next block's BLOCKHASH sees its hash; nothing is kept afterwards.

Each call gets the block's remaining gas unless it names its gas, and never more than
is left of the request's gas budget (the node's RPC gas cap, shared by all the calls).
Checks are geth's: with `validation`, nonces and fee caps against the base fee; always
the sender's funds, intrinsic gas and the block's gas. A refused call refuses the whole
request (SimulateError with geth's code); a call that reverts or fails is a result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth.abc import BlockHeaderAPI, ChainDatabaseAPI, ComputationAPI, MessageAPI, StateAPI
from eth.db.trie import make_trie_root_and_nodes
from eth.exceptions import InvalidInstruction, InvalidJumpDestination, OutOfGas, Revert
from eth.vm.chain_context import ChainContext
from eth_typing import Address
from eth_utils.exceptions import ValidationError

from peerchain.core.blocks import Block
from peerchain.core.crypto import checksum_address, keccak256
from peerchain.core.genesis import ZERO_ADDRESS, ZERO_HASH
from peerchain.core.queries import CallRequest
from peerchain.core.rlp import encode_object
from peerchain.core.simulate import (
    BLOCK_GAS_LIMIT_REACHED,
    FEE_CAP_TOO_LOW,
    INSUFFICIENT_FUNDS,
    INTRINSIC_GAS,
    INVALID_TRANSACTION,
    NONCE_TOO_HIGH,
    NONCE_TOO_LOW,
    PlannedBlock,
    SimulatedBlock,
    SimulatedCall,
    SimulateError,
    SimulateOptions,
)
from peerchain.core.transactions import (
    DYNAMIC_FEE_TX,
    UINT64_MAX,
    Transaction,
    UnsignedTransaction,
    intrinsic_gas,
    unsigned_transaction,
)
from peerchain.execution.calls import apply_state_overrides, with_moved_precompiles
from peerchain.execution.convert import header_from_evm, prime_sender
from peerchain.execution.receipts import placed_logs

# The address transfer logs come from, and their topic (an ERC-20 Transfer), as geth's.
TRANSFER_LOG_ADDRESS = b"\xee" * 20
TRANSFER_TOPIC = int.from_bytes(keccak256(b"Transfer(address,address,uint256)"), "big")
SELFDESTRUCT = 0xFF


def _log_transfer(computation: Any, sender: bytes, recipient: bytes, value: int) -> None:
    topics = (TRANSFER_TOPIC, int.from_bytes(sender, "big"), int.from_bytes(recipient, "big"))
    computation.add_log_entry(Address(TRANSFER_LOG_ADDRESS), topics, value.to_bytes(32, "big"))


class _SelfDestruct:
    """SELFDESTRUCT that first logs the balance it sends (a transfer, as geth's)."""

    def __init__(self, opcode: Any) -> None:
        self.opcode = opcode

    def __call__(self, computation: Any) -> None:
        stack = computation._stack.values
        if stack:
            top = stack[-1]
            word = top if isinstance(top, int) else int.from_bytes(top, "big")
            beneficiary = (word % 2**160).to_bytes(20, "big")
            own = computation.msg.storage_address
            balance = computation.state.get_balance(own)
            if balance:
                _log_transfer(computation, own, beneficiary, balance)
        self.opcode(computation=computation)


def tracking_transfers(vm_class: Any) -> Any:
    """`vm_class` whose every call frame that moves ether (and every SELFDESTRUCT that
    sends a balance) first logs the transfer from TRANSFER_LOG_ADDRESS; the log is
    dropped with the frame's own logs if the frame fails."""
    state_class = vm_class.get_state_class()
    base: Any = state_class.computation_class

    def __init__(self: Any, state: StateAPI, message: MessageAPI, context: Any) -> None:
        base.__init__(self, state, message, context)
        if message.value and message.should_transfer_value:
            _log_transfer(self, message.sender, message.storage_address, message.value)

    opcodes = {**base.opcodes, SELFDESTRUCT: _SelfDestruct(base.opcodes[SELFDESTRUCT])}
    computation = type(
        f"Transfers{base.__name__}", (base,), {"__init__": __init__, "opcodes": opcodes}
    )
    return vm_class.configure(_state_class=state_class.configure(computation_class=computation))


def simulate_blocks(
    vm_class: Any,
    chaindb: ChainDatabaseAPI,
    chain_context: ChainContext,
    consensus_context: Any,
    base: BlockHeaderAPI,
    plan: Sequence[PlannedBlock],
    options: SimulateOptions,
    gas_cap: int,
) -> tuple[SimulatedBlock, ...]:
    """Run `plan` on `base` (its header must be readable from `chaindb`, whose database
    is thrown away afterwards). Raises SimulateError."""
    if options.trace_transfers:
        vm_class = tracking_transfers(vm_class)
    chaindb.db[base.hash] = encode_object(base)
    run = _Run(vm_class, chaindb, chain_context, consensus_context, options, gas_cap)
    results = []
    parent = base
    for planned in plan:
        result, parent = run.block(parent, planned)
        results.append(result)
    return tuple(results)


class _Run:
    """One simulation: what its blocks share (the gas budget among them)."""

    def __init__(
        self,
        vm_class: Any,
        chaindb: ChainDatabaseAPI,
        chain_context: ChainContext,
        consensus_context: Any,
        options: SimulateOptions,
        gas_cap: int,
    ) -> None:
        self.vm_class = vm_class
        self.chaindb = chaindb
        self.chain_context = chain_context
        self.consensus_context = consensus_context
        self.options = options
        self.budget = gas_cap

    def header(self, parent: BlockHeaderAPI, planned: PlannedBlock) -> BlockHeaderAPI:
        """The block's header before execution: the parent's gas limit and fee recipient
        unless overridden (so an override holds for the blocks after it)."""
        o = planned.overrides
        header: BlockHeaderAPI = self.vm_class.create_header_from_parent(
            parent,
            coinbase=o.fee_recipient if o.fee_recipient is not None else parent.coinbase,
            timestamp=planned.timestamp,
            gas_limit=parent.gas_limit,
            mix_hash=o.prev_randao or ZERO_HASH,
            extra_data=b"",
            parent_beacon_block_root=ZERO_HASH,
            difficulty=0,
        )
        fields: dict[str, Any] = {"state_root": parent.state_root}
        if o.gas_limit is not None:
            fields["gas_limit"] = o.gas_limit
        if o.base_fee is not None:
            fields["base_fee_per_gas"] = o.base_fee
        elif not self.options.validation:
            fields["base_fee_per_gas"] = 0
        sealed: BlockHeaderAPI = header.copy(**fields)
        return sealed

    def block(
        self, parent: BlockHeaderAPI, planned: PlannedBlock
    ) -> tuple[SimulatedBlock, BlockHeaderAPI]:
        """Run one block; its result and its sealed header."""
        header = self.header(parent, planned)
        vm_class = with_moved_precompiles(self.vm_class, planned.state_overrides)
        vm = vm_class(
            header=header,
            chaindb=self.chaindb,
            chain_context=self.chain_context,
            consensus_context=self.consensus_context,
        )
        state = vm.state
        apply_state_overrides(state, planned.state_overrides)
        vm.block_preprocessing(vm.get_block())
        self._relax(state)
        gas_used = 0
        txs: list[Transaction] = []
        evm_txs: list[Any] = []
        receipts: list[Any] = []
        outcomes: list[tuple[ComputationAPI, int, int]] = []
        for call in planned.calls:
            tx, gas = self._transaction(state, header, call, gas_used)
            evm_tx = vm.get_transaction_builder().decode(tx.raw)
            prime_sender(evm_tx, tx.sender)
            state.lock_changes()
            try:
                computation = state.apply_transaction(evm_tx)
            except ValidationError as exc:
                raise _refused(INVALID_TRANSACTION, str(exc), gas) from exc
            used = self.vm_class.finalize_gas_used(evm_tx, computation)
            gas_used += used
            self.budget -= used
            logs = computation.get_log_entries()
            kept = [entry for entry in logs if entry[0] != TRANSFER_LOG_ADDRESS]
            status = b"" if computation.is_error else b"\x01"
            receipts.append(evm_tx.make_receipt(status, gas_used, kept))
            peak = max(evm_tx.gas - computation.get_gas_remaining(), used)
            txs.append(tx)
            evm_txs.append(evm_tx)
            outcomes.append((computation, used, peak))
        state.persist()
        bloom = 0
        for receipt in receipts:
            bloom |= receipt.bloom
        sealed = header.copy(
            state_root=state.state_root,
            gas_used=gas_used,
            transaction_root=make_trie_root_and_nodes(evm_txs)[0],
            receipt_root=make_trie_root_and_nodes(receipts)[0],
            bloom=bloom,
            blob_gas_used=0,
        )
        self.chaindb.db[sealed.hash] = encode_object(sealed)
        block_class = vm.get_block_class()
        evm_block = block_class(header=sealed, transactions=evm_txs, uncles=[], withdrawals=[])
        block = Block(header_from_evm(sealed), tuple(txs), encode_object(evm_block))
        calls = _call_results(block, outcomes)
        return SimulatedBlock(block, calls), sealed

    def _relax(self, state: StateAPI) -> None:
        """The checks are ours (geth's, in `_transaction`); without validation a call
        below the base fee pays nothing rather than a negative tip."""
        hooked: Any = state
        hooked.validate_transaction = lambda transaction: None
        if not self.options.validation:
            tip = state.get_tip
            hooked.get_tip = lambda transaction: max(0, tip(transaction))

    def _transaction(
        self, state: StateAPI, header: BlockHeaderAPI, call: CallRequest, gas_used: int
    ) -> tuple[Transaction, int]:
        """The call as an unsigned transaction, with geth's defaults and checks."""
        sender = call.sender or ZERO_ADDRESS
        state_nonce = state.get_nonce(Address(sender))
        nonce = call.nonce if call.nonce is not None else state_nonce
        gas = call.gas if call.gas is not None else header.gas_limit - gas_used
        if gas_used + gas > header.gas_limit:
            raise SimulateError(
                BLOCK_GAS_LIMIT_REACHED,
                f"block gas limit reached: {gas_used} >= {header.gas_limit}",
            )
        gas = max(0, min(gas, self.budget))
        max_fee = call.max_fee_per_gas
        if max_fee is None:
            max_fee = call.gas_price or 0
        tip = call.max_priority_fee_per_gas
        if tip is None:
            tip = call.gas_price or 0
        unsigned = UnsignedTransaction(
            type=DYNAMIC_FEE_TX,
            chain_id=self.chain_context.chain_id,
            nonce=nonce,
            gas_limit=gas,
            max_fee_per_gas=max_fee,
            max_priority_fee_per_gas=tip,
            to=call.to,
            value=call.value,
            data=call.data,
            access_list=call.access_list,
        )
        tx = unsigned_transaction(unsigned, sender)
        who = checksum_address(sender)
        base_fee = header.base_fee_per_gas or 0
        if self.options.validation:
            if state_nonce >= UINT64_MAX:
                message = f"nonce has max value: address {who}, nonce: {state_nonce}"
                raise _refused(INVALID_TRANSACTION, message, gas)
            if nonce < state_nonce:
                message = f"nonce too low: address {who}, tx: {nonce} state: {state_nonce}"
                raise _refused(NONCE_TOO_LOW, message, gas)
            if nonce > state_nonce:
                message = f"nonce too high: address {who}, tx: {nonce} state: {state_nonce}"
                raise _refused(NONCE_TOO_HIGH, message, gas)
            if max_fee < base_fee:
                message = (
                    f"max fee per gas less than block base fee: address {who}, "
                    f"maxFeePerGas: {max_fee}, baseFee: {base_fee}"
                )
                raise _refused(FEE_CAP_TOO_LOW, message, gas)
        if tip > max_fee:
            message = (
                f"max priority fee per gas higher than max fee per gas: address {who}, "
                f"maxPriorityFeePerGas: {tip}, maxFeePerGas: {max_fee}"
            )
            raise _refused(INVALID_TRANSACTION, message, gas)
        balance = state.get_balance(Address(sender))
        want = gas * max_fee + call.value
        if balance < want:
            message = (
                f"insufficient funds for gas * price + value: address {who} "
                f"have {balance} want {want}"
            )
            raise _refused(INSUFFICIENT_FUNDS, message, gas)
        need = intrinsic_gas(tx)
        if gas < need:
            raise _refused(INTRINSIC_GAS, f"intrinsic gas too low: have {gas}, want {need}", gas)
        floor = intrinsic_gas(tx, calldata_floor=True)
        if gas < floor:
            message = f"insufficient gas for floor data gas cost: have {gas}, want {floor}"
            raise _refused(INTRINSIC_GAS, message, gas)
        return tx, gas


def _refused(code: int, message: str, gas: int) -> SimulateError:
    return SimulateError(code, f"err: {message} (supplied gas {gas})")


def _call_results(
    block: Block, outcomes: Sequence[tuple[ComputationAPI, int, int]]
) -> tuple[SimulatedCall, ...]:
    """Each call's result, its logs placed in the sealed block."""
    results = []
    log_index = 0
    for index, ((computation, used, peak), tx) in enumerate(
        zip(outcomes, block.transactions, strict=True)
    ):
        logs = placed_logs(
            computation.get_log_entries(), block.number, block.hash, tx.hash, index, log_index
        )
        log_index += len(logs)
        output = bytes(computation.output)
        results.append(
            SimulatedCall(
                status=int(not computation.is_error),
                return_data=b"" if computation.is_error else output,
                gas_used=used,
                max_used_gas=peak,
                logs=logs,
                revert=output if _reverted(computation) else None,
                failure=_failure(computation),
            )
        )
    return tuple(results)


def _reverted(computation: ComputationAPI) -> bool:
    return computation.is_error and isinstance(computation.error, Revert)


def _failure(computation: ComputationAPI) -> str | None:
    """geth's words for a failure other than a revert, None if there is none."""
    if not computation.is_error or isinstance(computation.error, Revert):
        return None
    error = computation.error
    if isinstance(error, OutOfGas):
        return "out of gas"
    if isinstance(error, InvalidJumpDestination):
        return "invalid jump destination"
    if isinstance(error, InvalidInstruction):
        return f"invalid opcode: {error}"
    return str(error) or type(error).__name__
