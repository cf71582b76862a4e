"""The `eth_` methods over chain data, state, execution and transaction submission.

Unknown blocks follow geth: block and transaction lookups answer null, state reads
and calls answer -32000 with the node's "not found" message. Log and filter methods
live in `filters.py`, subscriptions in `subscriptions.py`.
"""

from __future__ import annotations

from typing import Any

from peerchain.core.blocks import Block, Header, TxLocation
from peerchain.core.fees import blob_base_fee as price_of_blob_gas
from peerchain.node.view import NodeView, UnknownBlock
from peerchain.rpc import shapes
from peerchain.rpc.dispatch import CallContext, Method, Params
from peerchain.rpc.encoding import (
    BlockRef,
    InvalidValue,
    parse_address,
    parse_block_number,
    parse_block_overrides,
    parse_block_ref,
    parse_bool,
    parse_call_request,
    parse_data,
    parse_hash,
    parse_quantity,
    parse_state_overrides,
    parse_storage_key,
    parse_uint,
)
from peerchain.rpc.errors import invalid_params, server_error

FEE_HISTORY_MAX_BLOCKS = 1024
PROOF_MAX_KEYS = 1024
LATEST = BlockRef("latest")
PENDING = BlockRef("pending")


def resolve_ref(view: NodeView, ref: BlockRef) -> Header:
    """The header a block parameter names; raises UnknownBlock, or -32000 when
    `requireCanonical` is set and the block is not on the canonical chain."""
    header = view.resolve_block(ref.selector)
    if ref.require_canonical:
        canonical = view.get_block_by_number(header.number)
        if canonical is None or canonical.hash != header.hash:
            raise server_error(f"hash 0x{header.hash.hex()} is not currently canonical")
    return header


def block_timestamp(view: NodeView, block_hash: bytes) -> int | None:
    """Timestamp of a stored block, None if the node no longer knows it."""
    try:
        return view.resolve_block(block_hash).timestamp
    except UnknownBlock:
        return None


def _block_for(view: NodeView, selector: Any) -> Block | None:
    try:
        header = view.resolve_block(selector)
    except UnknownBlock:
        return None
    return view.get_block(header.hash)


def _percentiles(value: Any) -> list[float]:
    if not isinstance(value, list):
        raise InvalidValue("expected an array of percentiles")
    result: list[float] = []
    for p in value:
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 100:
            raise InvalidValue(f"invalid reward percentile: {str(p)[:40]}")
        if result and p < result[-1]:
            raise InvalidValue(f"invalid reward percentile: {p} is below {result[-1]}")
        result.append(float(p))
    return result


def _storage_keys(value: Any) -> list[int]:
    if not isinstance(value, list):
        raise InvalidValue("expected an array of storage keys")
    if len(value) > PROOF_MAX_KEYS:
        raise InvalidValue(f"too many storage keys: limit {PROOF_MAX_KEYS}")
    return [parse_storage_key(k) for k in value]


def _overrides(p: Params) -> tuple[Any, ...]:
    """The state (argument 2) and block (argument 3) overrides as extra view arguments;
    none when neither is given."""
    state = p.optional(2, parse_state_overrides, ())
    block = p.optional(3, parse_block_overrides)
    return (state, block) if state or block is not None else ()


def eth_methods(view: NodeView) -> dict[str, Method]:
    """The eth_ methods answered straight from `view`."""

    # --- identity and fees -------------------------------------------------------------
    def chain_id(p: Params, ctx: CallContext) -> str:
        return shapes.quantity(view.chain_id)

    def block_number(p: Params, ctx: CallContext) -> str:
        return shapes.quantity(view.block_number())

    def syncing(p: Params, ctx: CallContext) -> Any:
        return shapes.format_syncing(view.syncing())

    def gas_price(p: Params, ctx: CallContext) -> str:
        return shapes.quantity(view.gas_price())

    def max_priority_fee(p: Params, ctx: CallContext) -> str:
        return shapes.quantity(view.max_priority_fee())

    def fee_history(p: Params, ctx: CallContext) -> Any:
        count = min(p.required(0, parse_uint), FEE_HISTORY_MAX_BLOCKS)
        selector = p.required(1, parse_block_number)
        # The pending block's base fee is the last entry of the latest block's history.
        newest = view.resolve_block("latest" if selector == "pending" else selector)
        percentiles = p.optional(2, _percentiles, [])
        if count == 0:
            return {"oldestBlock": "0x0", "baseFeePerGas": [], "gasUsedRatio": []}
        return shapes.format_fee_history(view.fee_history(count, newest, percentiles))

    # --- state ---------------------------------------------------------------------
    def get_balance(p: Params, ctx: CallContext) -> str:
        address = p.required(0, parse_address)
        header = resolve_ref(view, p.optional(1, parse_block_ref, LATEST))
        return shapes.quantity(view.get_balance(address, header))

    def get_code(p: Params, ctx: CallContext) -> str:
        address = p.required(0, parse_address)
        header = resolve_ref(view, p.optional(1, parse_block_ref, LATEST))
        return shapes.data(view.get_code(address, header))

    def get_storage_at(p: Params, ctx: CallContext) -> str:
        address = p.required(0, parse_address)
        slot = p.required(1, parse_storage_key)
        header = resolve_ref(view, p.optional(2, parse_block_ref, LATEST))
        return shapes.data(view.get_storage(address, slot, header).rjust(32, b"\0"))

    def get_transaction_count(p: Params, ctx: CallContext) -> str:
        address = p.required(0, parse_address)
        ref = p.optional(1, parse_block_ref, LATEST)
        if ref.selector == "pending":
            return shapes.quantity(view.get_pending_nonce(address))
        return shapes.quantity(view.get_nonce(address, resolve_ref(view, ref)))

    async def get_proof(p: Params, ctx: CallContext) -> Any:
        address = p.required(0, parse_address)
        keys = p.required(1, _storage_keys)
        header = resolve_ref(view, p.optional(2, parse_block_ref, LATEST))
        return shapes.format_proof(await view.get_proof(address, keys, header))

    # --- blocks --------------------------------------------------------------------
    def get_block_by_number(p: Params, ctx: CallContext) -> Any:
        selector = p.required(0, parse_block_number)
        full = p.required(1, parse_bool)
        block = _block_for(view, selector)
        return None if block is None else shapes.format_block(block, full)

    def get_block_by_hash(p: Params, ctx: CallContext) -> Any:
        block_hash = p.required(0, parse_hash)
        full = p.required(1, parse_bool)
        block = view.get_block(block_hash)
        return None if block is None else shapes.format_block(block, full)

    def count_by_number(p: Params, ctx: CallContext) -> str | None:
        block = _block_for(view, p.required(0, parse_block_number))
        return None if block is None else shapes.quantity(len(block.transactions))

    def count_by_hash(p: Params, ctx: CallContext) -> str | None:
        block = view.get_block(p.required(0, parse_hash))
        return None if block is None else shapes.quantity(len(block.transactions))

    def get_block_receipts(p: Params, ctx: CallContext) -> Any:
        ref = p.required(0, parse_block_ref)
        try:
            header = resolve_ref(view, ref)
        except UnknownBlock:
            return None
        receipts = view.get_block_receipts(header.hash)
        return [shapes.format_receipt(r, header.timestamp) for r in receipts]

    # --- transactions --------------------------------------------------------------
    def _tx_in_block(block: Block | None, index: int) -> Any:
        if block is None or index >= len(block.transactions):
            return None
        location = TxLocation(block.hash, block.number, index)
        return shapes.format_transaction(block.transactions[index], location, block.header)

    def get_transaction_by_hash(p: Params, ctx: CallContext) -> Any:
        found = view.get_transaction(p.required(0, parse_hash))
        if found is None:
            return None
        tx, location = found
        header = None
        if location is not None:
            try:
                header = view.resolve_block(location.block_hash)
            except UnknownBlock:
                return None
        return shapes.format_transaction(tx, location, header)

    def tx_by_hash_and_index(p: Params, ctx: CallContext) -> Any:
        block = view.get_block(p.required(0, parse_hash))
        return _tx_in_block(block, p.required(1, lambda v: parse_quantity(v, 64)))

    def tx_by_number_and_index(p: Params, ctx: CallContext) -> Any:
        block = _block_for(view, p.required(0, parse_block_number))
        return _tx_in_block(block, p.required(1, lambda v: parse_quantity(v, 64)))

    def get_transaction_receipt(p: Params, ctx: CallContext) -> Any:
        receipt = view.get_receipt(p.required(0, parse_hash))
        if receipt is None:
            return None
        return shapes.format_receipt(receipt, block_timestamp(view, receipt.block_hash))

    # --- execution -----------------------------------------------------------------
    async def call(p: Params, ctx: CallContext) -> str:
        request = p.required(0, parse_call_request)
        header = resolve_ref(view, p.optional(1, parse_block_ref, LATEST))
        return shapes.data(await view.call(request, header, *_overrides(p)))

    async def estimate_gas(p: Params, ctx: CallContext) -> str:
        request = p.required(0, parse_call_request)
        # Without a block, the estimate is for the next block (as Hardhat does; elsewhere
        # the pending block is the latest).
        header = resolve_ref(view, p.optional(1, parse_block_ref, PENDING))
        return shapes.quantity(await view.estimate_gas(request, header, *_overrides(p)))

    async def create_access_list(p: Params, ctx: CallContext) -> Any:
        request = p.required(0, parse_call_request)
        header = resolve_ref(view, p.optional(1, parse_block_ref, LATEST))
        result = await view.create_access_list(request, header)
        answer: dict[str, Any] = {
            "accessList": [
                {
                    "address": shapes.data(a),
                    "storageKeys": [shapes.data(k.to_bytes(32, "big")) for k in keys],
                }
                for a, keys in result.access_list
            ],
            "gasUsed": shapes.quantity(result.gas_used),
        }
        if result.error is not None:
            answer["error"] = result.error
        return answer

    def blob_base_fee(p: Params, ctx: CallContext) -> str:
        head = view.resolve_block("latest")
        return shapes.quantity(
            price_of_blob_gas(head.excess_blob_gas or 0, head.requests_hash is not None)
        )

    # --- submission and dev accounts -----------------------------------------------
    def send_raw_transaction(p: Params, ctx: CallContext) -> str:
        return shapes.data(view.send_raw_transaction(p.required(0, parse_data)))

    async def send_transaction(p: Params, ctx: CallContext) -> str:
        request = p.required(0, parse_call_request)
        if request.sender is None:
            raise invalid_params('invalid argument 0: "from" is required')
        return shapes.data(await view.send_transaction(request))

    def accounts(p: Params, ctx: CallContext) -> list[str]:
        return [shapes.data(a) for a in view.accounts()]

    def sign(p: Params, ctx: CallContext) -> str:
        address = p.required(0, parse_address)
        return shapes.data(view.sign(address, p.required(1, parse_data)))

    return {
        "chainId": Method(chain_id),
        "blockNumber": Method(block_number),
        "syncing": Method(syncing),
        "gasPrice": Method(gas_price),
        "maxPriorityFeePerGas": Method(max_priority_fee),
        "feeHistory": Method(fee_history, 3),
        "getBalance": Method(get_balance, 2),
        "getCode": Method(get_code, 2),
        "getStorageAt": Method(get_storage_at, 3),
        "getTransactionCount": Method(get_transaction_count, 2),
        "getProof": Method(get_proof, 3),
        "getBlockByNumber": Method(get_block_by_number, 2),
        "getBlockByHash": Method(get_block_by_hash, 2),
        "getBlockTransactionCountByNumber": Method(count_by_number, 1),
        "getBlockTransactionCountByHash": Method(count_by_hash, 1),
        "getBlockReceipts": Method(get_block_receipts, 1),
        "getTransactionByHash": Method(get_transaction_by_hash, 1),
        "getTransactionByBlockHashAndIndex": Method(tx_by_hash_and_index, 2),
        "getTransactionByBlockNumberAndIndex": Method(tx_by_number_and_index, 2),
        "getTransactionReceipt": Method(get_transaction_receipt, 1),
        "call": Method(call, 4),
        "estimateGas": Method(estimate_gas, 4),
        "createAccessList": Method(create_access_list, 2),
        "blobBaseFee": Method(blob_base_fee),
        "sendRawTransaction": Method(send_raw_transaction, 1),
        "sendTransaction": Method(send_transaction, 1),
        "accounts": Method(accounts),
        "sign": Method(sign, 2),
    }


def personal_methods(view: NodeView) -> dict[str, Method]:
    """personal_sign: eth_sign with the arguments swapped (and a password, ignored)."""

    def sign(p: Params, ctx: CallContext) -> str:
        message = p.required(0, parse_data)
        return shapes.data(view.sign(p.required(1, parse_address), message))

    return {"sign": Method(sign, 3)}
