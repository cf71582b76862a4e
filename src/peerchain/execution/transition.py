"""One block's state transition: py-evm's interpreter and state, without its block
machinery.

`apply_block` does what py-evm's `VM.import_block` does, in the same order and with the
same rules, but works on the header's numbers instead of a chain of copied block and
header objects: the fork's pre-block writes (beacon roots from Cancun, the block-hash
history from Prague), each transaction through the fork state's `apply_transaction`
(py-evm's own checks, executor and interpreter), the withdrawals, the post-block
requests (Prague: deposits read from the receipts just made, withdrawal and
consolidation requests from their system contracts) and the state root. Receipts are
encoded once, and the transactions, receipts and withdrawals roots are computed with the
execution layer's trie, their nodes written to the database as py-evm would write them.
The header is created by the caller from the parent (`create_header_from_parent`) and
comes back with the results filled in; importing a block is then a comparison of that
header's hash with the block's.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from eth.abc import SignedTransactionAPI, StateAPI
from eth.constants import SYSTEM_ADDRESS, SYSTEM_MESSAGE_GAS
from eth.db.chain import ChainDB
from eth.vm.chain_context import ChainContext
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.constants import (
    BEACON_ROOTS_ADDRESS,
    BEACON_ROOTS_CONTRACT_CODE,
    HISTORY_BUFFER_LENGTH,
)
from eth.vm.forks.cancun.state import get_total_blob_gas
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.constants import (
    CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
    CONSOLIDATION_REQUEST_TYPE,
    DEPOSIT_CONTRACT_ADDRESS,
    DEPOSIT_EVENT_SIGNATURE_HASH,
    DEPOSIT_REQUEST_TYPE,
    HISTORY_SERVE_WINDOW,
    HISTORY_STORAGE_ADDRESS,
    HISTORY_STORAGE_CONTRACT_CODE,
    WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
    WITHDRAWAL_REQUEST_TYPE,
)
from eth.vm.message import Message
from eth_typing import Address
from eth_utils.exceptions import ValidationError

from peerchain.core.rlp import decode_object
from peerchain.execution.bodies import ordered_root
from peerchain.execution.receipts import Outcome, encode_receipt, make_outcome
from peerchain.execution.vm import validate_chain_id

_DEPOSIT_TOPIC = int.from_bytes(DEPOSIT_EVENT_SIGNATURE_HASH, "big")


@dataclass(frozen=True, slots=True)
class AppliedBlock:
    """The header with the block's results, and what each candidate transaction did:
    `included` are their positions among the candidates (all of them on import),
    `outcomes` one per included transaction, `skipped` (position, reason) for those a
    built block left out."""

    header: Any
    included: tuple[int, ...]
    outcomes: tuple[Outcome, ...]
    skipped: tuple[tuple[int, str], ...]


def apply_block(
    vm_class: Any,
    db: Any,
    header: Any,
    transactions: Sequence[SignedTransactionAPI],
    raw_transactions: Sequence[bytes],
    withdrawals: Sequence[bytes] | None,
    *,
    chain_id: int,
    skip_invalid: bool,
    transactions_trie: tuple[bytes, dict[bytes, bytes]] | None = None,
) -> AppliedBlock:
    """Execute `transactions` (py-evm's, senders known; `raw_transactions` their network
    encodings) and the encoded `withdrawals` (None before Shanghai) on the state under
    `header.state_root`, as the block `header` describes (its gas used, roots and bloom
    are filled in). The state's and the block tries' new nodes are written to `db`.

    With `skip_invalid` (building), a transaction that cannot be applied at its turn is
    left out with the reason; otherwise (importing) it raises ValidationError, as do
    invalid withdrawals. An importer that has checked the body against the header
    passes the transactions root and its trie nodes as `transactions_trie`."""
    chaindb = ChainDB(db)
    context = vm_class.create_execution_context(
        header,
        vm_class.get_prev_hashes(header.parent_hash, chaindb),
        ChainContext(chain_id),
    )
    state = vm_class.get_state_class()(db, context, header.state_root)
    _before_block(vm_class, state, header)
    gas_limit = header.gas_limit
    gas_used = 0
    blob_gas_used = 0
    included: list[int] = []
    outcomes: list[Outcome] = []
    skipped: list[tuple[int, str]] = []
    for index, tx in enumerate(transactions):
        try:
            validate_chain_id(tx, chain_id)
            if gas_used + tx.gas > gas_limit:
                raise ValidationError(
                    f"Transaction exceeds gas limit: using {tx.gas}, bringing total to "
                    f"{gas_used + tx.gas}, but limit is {gas_limit}"
                )
            state.lock_changes()
            if not skip_invalid:
                computation = state.apply_transaction(tx)
            else:
                snapshot = state.snapshot()
                try:
                    computation = state.apply_transaction(tx)
                except ValidationError:
                    state.revert(snapshot)
                    raise
        except ValidationError as exc:
            if not skip_invalid:
                raise
            skipped.append((index, str(exc)))
            continue
        gas_used += vm_class.finalize_gas_used(tx, computation)
        blob_gas_used += get_total_blob_gas(tx)
        logs = computation.get_log_entries()
        outcomes.append(make_outcome(not computation.is_error, gas_used, logs))
        included.append(index)
    if withdrawals:
        _apply_withdrawals(vm_class, state, withdrawals)
    fields: dict[str, Any] = {}
    if issubclass(vm_class, PragueVM):
        fields["requests_hash"] = _requests_hash(state, outcomes)
    state.persist()
    bloom = 0
    for outcome in outcomes:
        bloom |= int.from_bytes(outcome.bloom, "big")
    kept = [raw_transactions[i] for i in included]
    receipts = [encode_receipt(_tx_type(raw), o) for raw, o in zip(kept, outcomes, strict=True)]
    nodes: dict[bytes, bytes] = {}
    if transactions_trie is not None and not skip_invalid:
        transaction_root, transaction_nodes = transactions_trie
        nodes.update(transaction_nodes)
    else:
        transaction_root = ordered_root(kept, nodes)
    fields.update(
        state_root=state.state_root,
        transaction_root=transaction_root,
        receipt_root=ordered_root(receipts, nodes),
        bloom=bloom,
        gas_used=gas_used,
    )
    if withdrawals:
        fields["withdrawals_root"] = ordered_root(withdrawals, nodes)
    if issubclass(vm_class, CancunVM):
        fields["blob_gas_used"] = blob_gas_used
    _write(db, nodes)
    return AppliedBlock(header.copy(**fields), tuple(included), tuple(outcomes), tuple(skipped))


def _tx_type(raw: bytes) -> int:
    return 0 if raw[0] >= 0xC0 else raw[0]


def _write(db: MutableMapping[bytes, bytes], nodes: dict[bytes, bytes]) -> None:
    for key, value in nodes.items():
        db[key] = value


def _before_block(vm_class: Any, state: StateAPI, header: Any) -> None:
    """The fork's writes before the first transaction: the parent beacon block root
    (Cancun) and the parent hash in the block-hash history (Prague), each only where
    its contract holds the expected code."""
    if not issubclass(vm_class, CancunVM):
        return
    if state.get_code(BEACON_ROOTS_ADDRESS) == BEACON_ROOTS_CONTRACT_CODE:
        slot = header.timestamp % HISTORY_BUFFER_LENGTH
        state.set_storage(BEACON_ROOTS_ADDRESS, slot, header.timestamp)
        root = int.from_bytes(header.parent_beacon_block_root, "big")
        state.set_storage(BEACON_ROOTS_ADDRESS, slot + HISTORY_BUFFER_LENGTH, root)
    if not issubclass(vm_class, PragueVM):
        return
    if state.get_code(HISTORY_STORAGE_ADDRESS) == HISTORY_STORAGE_CONTRACT_CODE:
        slot = (header.block_number - 1) % HISTORY_SERVE_WINDOW
        state.set_storage(HISTORY_STORAGE_ADDRESS, slot, int.from_bytes(header.parent_hash, "big"))


def _apply_withdrawals(vm_class: Any, state: Any, withdrawals: Sequence[bytes]) -> None:
    """Credit each withdrawal (Shanghai); an account left empty is deleted."""
    sedes = vm_class.get_block_class()._meta.sedes[3].element_sedes
    touched: list[bytes] = []
    for encoded in withdrawals:
        withdrawal = decode_object(encoded, sedes)
        withdrawal.validate()
        state.apply_withdrawal(withdrawal)
        if withdrawal.address not in touched:
            touched.append(withdrawal.address)
    for address in touched:
        if state.account_is_empty(address):
            state.delete_account(address)


def _requests_hash(state: Any, outcomes: Sequence[Outcome]) -> bytes:
    """Prague's requests: deposits from the block's deposit-contract logs, then what the
    withdrawal and consolidation request contracts return to a system call; the hash
    commits to each non-empty one."""
    deposits = b""
    for outcome in outcomes:
        for address, topics, data in outcome.logs:
            if address == DEPOSIT_CONTRACT_ADDRESS and topics and topics[0] == _DEPOSIT_TOPIC:
                deposits += (
                    data[192:240] + data[288:320] + data[352:360] + data[416:512] + data[544:552]
                )
    requests = [DEPOSIT_REQUEST_TYPE + deposits]
    for address, request_type in (
        (WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, WITHDRAWAL_REQUEST_TYPE),
        (CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS, CONSOLIDATION_REQUEST_TYPE),
    ):
        output = _system_call(state, address)
        if output:
            requests.append(request_type + output)
    digest = sha256()
    for request in requests:
        if len(request) > 1:
            digest.update(sha256(request).digest())
    return digest.digest()


def _system_call(state: Any, address: Address) -> bytes:
    """Output of the contract at `address` called by the system address (nothing when
    it has no code), as py-evm's `VM.execute_bytecode` runs it."""
    code = state.get_code(address)
    if not code:
        return b""
    message = Message(
        gas=SYSTEM_MESSAGE_GAS,
        to=address,
        sender=SYSTEM_ADDRESS,
        value=0,
        data=b"",
        code=code,
        code_address=address,
    )
    context = state.get_transaction_context_class()(gas_price=0, origin=SYSTEM_ADDRESS)
    computation = state.computation_class.apply_computation(state, message, context)
    return bytes(computation.output)
