"""The dev methods: `evm_` (as Hardhat and Ganache answer them) and Hardhat's and Anvil's
own, registered under both `hardhat_` and `anvil_` names.

Numbers may be JSON integers or hex quantities. On a node that is not in dev mode
the view refuses and the client gets -32000 with its message; the `hardhat_`/`anvil_`
namespaces exist only on dev nodes.
"""

from __future__ import annotations

import gzip
import json
import logging
import secrets
from typing import Any

from peerchain.core.typeddata import InvalidTypedData
from peerchain.core.typeddata import typed_data_digest as digest_of
from peerchain.node.view import AccountOverride, DevView, NodeView
from peerchain.rpc.dispatch import CallContext, Method, Params
from peerchain.rpc.encoding import (
    InvalidValue,
    parse_address,
    parse_bool,
    parse_call_request,
    parse_data,
    parse_hash,
    parse_quantity,
    parse_storage_key,
    parse_uint,
)
from peerchain.rpc.errors import invalid_params, server_error
from peerchain.rpc.shapes import data, format_transaction, quantity


def dev_methods(view: NodeView) -> dict[str, Method]:
    """The `evm_` methods."""

    def snapshot(p: Params, ctx: CallContext) -> str:
        return quantity(view.snapshot())

    def revert(p: Params, ctx: CallContext) -> bool:
        return view.revert(p.required(0, parse_uint))

    def mine(p: Params, ctx: CallContext) -> str:
        view.mine(p.optional(0, parse_uint))
        return "0x0"

    def increase_time(p: Params, ctx: CallContext) -> str:
        return str(view.increase_time(p.required(0, parse_uint)))

    def set_next_block_timestamp(p: Params, ctx: CallContext) -> str:
        timestamp = p.required(0, parse_uint)
        view.set_next_block_timestamp(timestamp)
        return str(timestamp)

    def set_automine(p: Params, ctx: CallContext) -> bool:
        view.set_automine(p.required(0, parse_bool))
        return True

    def set_interval_mining(p: Params, ctx: CallContext) -> bool:
        view.set_interval_mining(p.required(0, parse_uint))
        return True

    methods = {
        "snapshot": Method(snapshot),
        "revert": Method(revert, 1),
        "mine": Method(mine, 1),
        "increaseTime": Method(increase_time, 1),
        "setNextBlockTimestamp": Method(set_next_block_timestamp, 1),
        "setAutomine": Method(set_automine, 1),
        "setIntervalMining": Method(set_interval_mining, 1),
    }
    if isinstance(view, DevView):

        def set_block_gas_limit(p: Params, ctx: CallContext) -> bool:
            view.set_block_gas_limit(p.required(0, parse_uint))
            return True

        methods["setBlockGasLimit"] = Method(set_block_gas_limit, 1)
    return methods


def _storage_value(value: Any) -> int:
    raw = parse_data(value)
    if len(raw) > 32:
        raise InvalidValue("storage value longer than 32 bytes")
    return int.from_bytes(raw, "big")


def _state_document(value: Any) -> Any:
    """A state document: the object itself, or dumpState's hex of its gzipped JSON."""
    if isinstance(value, dict):
        return value
    raw = parse_data(value)
    try:
        return json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    except (OSError, EOFError, ValueError):
        raise InvalidValue("not a state document (JSON, or its gzip in hex)") from None


def hardhat_methods(view: DevView) -> dict[str, Method]:
    """The methods Hardhat and Anvil share, by their name after the namespace."""
    instance_id = "0x" + secrets.token_hex(32)
    dev_log = logging.getLogger("peerchain")
    quieted: list[int] = []  # the node's log level before setLoggingEnabled(false)

    def edit(p: Params, override: AccountOverride) -> bool:
        view.edit_account(p.required(0, parse_address), override)
        return True

    def set_balance(p: Params, ctx: CallContext) -> bool:
        return edit(p, AccountOverride(balance=p.required(1, parse_quantity)))

    def set_code(p: Params, ctx: CallContext) -> bool:
        return edit(p, AccountOverride(code=p.required(1, parse_data)))

    def set_nonce(p: Params, ctx: CallContext) -> bool:
        return edit(p, AccountOverride(nonce=p.required(1, lambda v: parse_uint(v, 64))))

    def set_storage_at(p: Params, ctx: CallContext) -> bool:
        slot = p.required(1, parse_storage_key)
        value = p.required(2, _storage_value)
        return edit(p, AccountOverride(storage_diff=((slot, value),)))

    def impersonate(p: Params, ctx: CallContext) -> bool:
        view.impersonate(p.required(0, parse_address), True)
        return True

    def stop_impersonating(p: Params, ctx: CallContext) -> bool:
        view.impersonate(p.required(0, parse_address), False)
        return True

    def auto_impersonate(p: Params, ctx: CallContext) -> bool:
        view.auto_impersonate = p.required(0, parse_bool)
        return True

    def mine(p: Params, ctx: CallContext) -> bool:
        count = p.optional(0, parse_uint, 1)
        interval = p.optional(1, parse_uint, 1)
        view.mine_blocks(count, interval)
        return True

    def drop_transaction(p: Params, ctx: CallContext) -> bool:
        return view.drop_transaction(p.required(0, parse_hash))

    def reset(p: Params, ctx: CallContext) -> bool:
        options = p.optional(0, lambda v: v)
        if isinstance(options, dict) and options.get("forking"):
            raise invalid_params("invalid argument 0: forking is not supported")
        view.reset()
        return True

    def set_next_base_fee(p: Params, ctx: CallContext) -> bool:
        view.set_next_block_base_fee(p.required(0, parse_quantity))
        return True

    def set_coinbase(p: Params, ctx: CallContext) -> bool:
        view.set_coinbase(p.required(0, parse_address))
        return True

    def set_prev_randao(p: Params, ctx: CallContext) -> bool:
        view.set_next_prev_randao(p.required(0, lambda v: parse_data(v, 32, "prevRandao")))
        return True

    def set_min_gas_price(p: Params, ctx: CallContext) -> bool:
        p.required(0, parse_quantity)
        raise server_error("hardhat_setMinGasPrice is not supported when EIP-1559 is active")

    def metadata(p: Params, ctx: CallContext) -> dict[str, Any]:
        head = view.resolve_block("latest")
        return {
            "clientVersion": view.client_version,
            "chainId": view.chain_id,
            "instanceId": instance_id,
            "latestBlockNumber": head.number,
            "latestBlockHash": data(head.hash),
        }

    def get_automine(p: Params, ctx: CallContext) -> bool:
        return view.get_automine()

    def set_logging_enabled(p: Params, ctx: CallContext) -> bool:
        enabled = p.required(0, parse_bool)
        if not enabled and not quieted:
            quieted.append(dev_log.level)
            dev_log.setLevel(logging.WARNING)
        elif enabled and quieted:
            dev_log.setLevel(quieted.pop())
        return True

    def dump_state(p: Params, ctx: CallContext) -> str:
        return data(gzip.compress(json.dumps(view.dump_state()).encode()))

    def load_state(p: Params, ctx: CallContext) -> bool:
        view.load_state(p.required(0, _state_document))
        return True

    return {
        "dumpState": Method(dump_state),
        "loadState": Method(load_state, 1),
        "setBalance": Method(set_balance, 2),
        "setCode": Method(set_code, 2),
        "setNonce": Method(set_nonce, 2),
        "setStorageAt": Method(set_storage_at, 3),
        "impersonateAccount": Method(impersonate, 1),
        "stopImpersonatingAccount": Method(stop_impersonating, 1),
        "autoImpersonateAccount": Method(auto_impersonate, 1),
        "mine": Method(mine, 2),
        "dropTransaction": Method(drop_transaction, 1),
        "reset": Method(reset, 1),
        "setNextBlockBaseFeePerGas": Method(set_next_base_fee, 1),
        "setCoinbase": Method(set_coinbase, 1),
        "setPrevRandao": Method(set_prev_randao, 1),
        "setMinGasPrice": Method(set_min_gas_price, 1),
        "metadata": Method(metadata),
        "getAutomine": Method(get_automine),
        "setLoggingEnabled": Method(set_logging_enabled, 1),
    }


def typed_data_digest(value: Any) -> bytes:
    """The EIP-712 digest of a typed-data object or its JSON text. Raises InvalidValue."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidValue("typed data is not valid JSON") from None
    try:
        return digest_of(value)
    except InvalidTypedData as exc:
        raise InvalidValue(f"invalid typed data: {exc}") from None


def dev_eth_methods(view: DevView) -> dict[str, Method]:
    """The `eth_` methods only a dev node answers (it holds the keys and mines)."""

    def coinbase(p: Params, ctx: CallContext) -> str:
        return data(view.coinbase)

    def mining(p: Params, ctx: CallContext) -> bool:
        return view.is_mining()

    def sign_typed_data(p: Params, ctx: CallContext) -> str:
        address = p.required(0, parse_address)
        return data(view.sign_digest(address, p.required(1, typed_data_digest)))

    async def sign_transaction(p: Params, ctx: CallContext) -> dict[str, Any]:
        request = p.required(0, parse_call_request)
        if request.sender is None:
            raise invalid_params('invalid argument 0: "from" is required')
        tx = await view.sign_transaction(request)
        return {"raw": data(tx.raw), "tx": format_transaction(tx, None, None)}

    return {
        "coinbase": Method(coinbase),
        "mining": Method(mining),
        "signTypedData_v4": Method(sign_typed_data, 2),
        "signTransaction": Method(sign_transaction, 1),
    }
