"""Client commands that talk to a running node over JSON-RPC: send, call, deploy, status."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from peerchain.cli.abi import constructor_types, decode_outputs, encode_arguments, encode_call
from peerchain.cli.accounts import keystore_option, password_file_option, read_password
from peerchain.cli.contracts import compile_contract, evm_version_option
from peerchain.cli.rpcclient import RpcClient
from peerchain.core.transactions import UnsignedTransaction, sign_transaction
from peerchain.drivers.keystore import list_key_files, load_key_file

rpc_option = click.option(
    "--rpc", default="http://127.0.0.1:8545", show_default=True, help="JSON-RPC URL of the node."
)
sender_option = click.option(
    "--from",
    "sender",
    required=True,
    callback=lambda c, p, v: parse_address(v),
    help="Sending account (a keystore account, or a dev node's account).",
)
_UNITS = {"wei": 1, "gwei": 10**9, "ether": 10**18, "eth": 10**18}


def parse_value(text: str) -> int:
    """'1.5ether', '20gwei', '1000' (wei) -> wei."""
    lowered = text.strip().lower()
    for unit, factor in sorted(_UNITS.items(), key=lambda kv: -len(kv[0])):
        if lowered.endswith(unit):
            number, scale = lowered[: -len(unit)], factor
            break
    else:
        number, scale = lowered, 1
    try:
        wei = Decimal(number) * scale
    except InvalidOperation as exc:
        raise click.BadParameter(f"{text!r} is not an amount like 1.5ether or 20gwei") from exc
    if wei != wei.to_integral_value() or wei < 0:
        raise click.BadParameter(f"{text!r} is not a whole, non-negative number of wei")
    return int(wei)


def parse_address(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 20:
        raise click.BadParameter(f"{text!r} is not a 20-byte hex address")
    return raw


def send_signed(
    client: RpcClient,
    key: bytes,
    tx_fields: dict[str, Any],
    to: bytes | None,
    value: int,
    data: bytes,
) -> str:
    """Sign a dynamic-fee transaction with `key` (nonce, gas and fees asked of the node)
    and send it; return its hash. Raises RpcError (a refusal names the revert reason)."""
    chain_id = int(client.request("eth_chainId"), 16)
    nonce = int(client.request("eth_getTransactionCount", tx_fields["from"], "pending"), 16)
    gas = int(client.request("eth_estimateGas", tx_fields), 16)
    tip = int(client.request("eth_maxPriorityFeePerGas"), 16)
    base = int(client.request("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    unsigned = UnsignedTransaction(
        type=2,
        chain_id=chain_id,
        nonce=nonce,
        gas_limit=gas,
        max_fee_per_gas=2 * base + tip,
        max_priority_fee_per_gas=tip,
        to=to,
        value=value,
        data=data,
    )
    tx = sign_transaction(unsigned, key)
    return str(client.request("eth_sendRawTransaction", "0x" + tx.raw.hex()))


def _submit(
    client: RpcClient,
    sender: bytes,
    to: bytes | None,
    value: int,
    data: bytes,
    keystore: Path,
    password_file: Path | None,
) -> dict[str, Any]:
    """Sign with the sender's keystore key if it has one, else let the node sign (dev)."""
    keyfiles = dict(list_key_files(keystore))
    tx_fields: dict[str, Any] = {
        "from": "0x" + sender.hex(),
        "value": hex(value),
        "data": "0x" + data.hex(),
    }
    if to is not None:
        tx_fields["to"] = "0x" + to.hex()
    if sender not in keyfiles:
        tx_hash = client.request("eth_sendTransaction", tx_fields)
    else:
        key = load_key_file(keyfiles[sender], read_password(password_file, confirm=False))
        tx_hash = send_signed(client, key, tx_fields, to, value, data)
    click.echo(f"transaction {tx_hash}")
    return client.wait_for_receipt(tx_hash)


@click.command()
@rpc_option
@sender_option
@click.option("--to", required=True, callback=lambda c, p, v: parse_address(v))
@click.option(
    "--value",
    default="0",
    callback=lambda c, p, v: parse_value(v),
    help="Amount, e.g. 1.5ether, 20gwei or plain wei.",
)
@click.option("--data", default="0x", help="Hex calldata.")
@keystore_option
@password_file_option
def send(
    rpc: str,
    sender: bytes,
    to: bytes,
    value: int,
    data: str,
    keystore: Path,
    password_file: Path | None,
) -> None:
    """Send a transaction and wait for its receipt."""
    try:
        calldata = bytes.fromhex(data.removeprefix("0x"))
    except ValueError as exc:
        raise click.BadParameter(f"--data {data!r} is not hex") from exc
    receipt = _submit(RpcClient(rpc), sender, to, value, calldata, keystore, password_file)
    status = "success" if receipt.get("status") == "0x1" else "reverted"
    click.echo(
        f"{status} in block {int(receipt['blockNumber'], 16)}, "
        f"gas used {int(receipt['gasUsed'], 16)}"
    )


@click.command()
@rpc_option
@click.option("--to", required=True, callback=lambda c, p, v: parse_address(v))
@click.option("--sig", "signature", help="Function signature, e.g. 'balanceOf(address)(uint256)'.")
@click.option("--data", help="Raw hex calldata instead of --sig and arguments.")
@click.option("--block", default="latest", show_default=True, help="Block tag or number.")
@click.argument("args", nargs=-1)
def call(
    rpc: str, to: bytes, signature: str | None, data: str | None, block: str, args: tuple[str, ...]
) -> None:
    """Call a contract without a transaction and print the result."""
    if (signature is None) == (data is None):
        raise click.UsageError("give exactly one of --sig or --data")
    outputs: list[str] = []
    if signature is not None:
        calldata, outputs = encode_call(signature, list(args))
    else:
        calldata = bytes.fromhex(str(data).removeprefix("0x"))
    tag = hex(int(block)) if block.isdigit() else block
    result = RpcClient(rpc).request(
        "eth_call", {"to": "0x" + to.hex(), "data": "0x" + calldata.hex()}, tag
    )
    raw = bytes.fromhex(str(result).removeprefix("0x"))
    if outputs:
        for value in decode_outputs(outputs, raw):
            click.echo(value.hex() if isinstance(value, bytes) else value)
    else:
        click.echo(result)


@click.command()
@rpc_option
@sender_option
@click.option("--value", default="0", callback=lambda c, p, v: parse_value(v))
@keystore_option
@password_file_option
@evm_version_option
@click.option("--contract", help="Which contract of a .sol file (default: the file's only one).")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("args", nargs=-1)
def deploy(
    rpc: str,
    sender: bytes,
    value: int,
    keystore: Path,
    password_file: Path | None,
    evm_version: str,
    contract: str | None,
    source: Path,
    args: tuple[str, ...],
) -> None:
    """Compile a Vyper (.vy) or Solidity (.sol) SOURCE and deploy it with constructor ARGS."""
    compiled = compile_contract(source, contract, evm_version)
    init_code = compiled.bytecode + encode_arguments(constructor_types(compiled.abi), list(args))
    receipt = _submit(RpcClient(rpc), sender, None, value, init_code, keystore, password_file)
    if receipt.get("status") != "0x1":
        raise click.ClickException(f"deployment reverted in block {receipt.get('blockNumber')}")
    click.echo(f"deployed at {receipt['contractAddress']}")


@click.command()
@rpc_option
def status(rpc: str) -> None:
    """Show the chain id, head block, peers and sync state of a node."""
    client = RpcClient(rpc)
    head = client.request("eth_getBlockByNumber", "latest", False)
    syncing = client.request("eth_syncing")
    click.echo(f"client     {client.request('web3_clientVersion')}")
    click.echo(f"chain id   {int(client.request('eth_chainId'), 16)}")
    click.echo(f"head       {int(head['number'], 16)} {head['hash']}")
    click.echo(f"peers      {int(client.request('net_peerCount'), 16)}")
    click.echo(f"syncing    {'no' if syncing is False else syncing}")
