"""`peerchain validators`: vote on the validator set and list it, over JSON-RPC.

A vote is an ordinary transaction from the validator's key to the governance contract
(`core.governance`); the node refuses it with the contract's reason (not a validator,
power 0, a set left with no power) before anything is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from peerchain.cli.client import parse_address, send_signed
from peerchain.cli.config import read_hex_key
from peerchain.cli.rpcclient import RpcClient, RpcError
from peerchain.core.crypto import private_key_to_address
from peerchain.core.governance import GOVERNANCE_ADDRESS, vote_call

_rpc_option = click.option(
    "--rpc", default="http://127.0.0.1:8545", show_default=True, help="JSON-RPC URL of a node."
)


@click.group()
def validators() -> None:
    """Vote on the validator set and list it."""


@validators.command()
@_rpc_option
@click.option(
    "--key-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The validator's key (32 bytes of hex, as validator.key).",
)
@click.option("--add", "add", help="Address to add, or whose power to change (with --power).")
@click.option("--power", type=click.IntRange(min=0), help="Voting power for --add.")
@click.option("--remove", "remove", help="Address to remove from the set.")
def propose(
    rpc: str, key_file: Path, add: str | None, power: int | None, remove: str | None
) -> None:
    """Vote for a change of the validator set; print the proposal's tally once mined."""
    if (add is None) == (remove is None):
        raise click.UsageError("give either --add ADDRESS --power N or --remove ADDRESS")
    if add is not None and power is None:
        raise click.UsageError("--add needs --power N")
    if add is not None and power == 0:
        raise click.UsageError("--power must be positive; to remove a validator use --remove")
    target = parse_address(add if add is not None else str(remove))
    wanted = power if add is not None and power is not None else 0
    key = read_hex_key(key_file)
    sender = private_key_to_address(key)
    client = RpcClient(rpc)
    data = vote_call(target, wanted)
    fields: dict[str, Any] = {
        "from": "0x" + sender.hex(),
        "to": "0x" + GOVERNANCE_ADDRESS.hex(),
        "data": "0x" + data.hex(),
    }
    tx_hash = send_signed(client, key, fields, GOVERNANCE_ADDRESS, 0, data)
    click.echo(f"vote {tx_hash} from 0x{sender.hex()}")
    receipt = client.wait_for_receipt(tx_hash)
    if receipt.get("status") != "0x1":
        raise RpcError(f"vote {tx_hash} failed in block {int(receipt['blockNumber'], 16)}")
    number = int(receipt["blockNumber"], 16)
    click.echo(_tally(client, target, wanted, number, receipt))


def _tally(
    client: RpcClient, target: bytes, power: int, number: int, receipt: dict[str, Any]
) -> str:
    """What the vote did: still open (with its tally) or decided (with its activation)."""
    what = "remove" if power == 0 else f"set power {power}"
    for proposal in client.request("peerchain_proposals", hex(number)):
        if proposal["address"] == "0x" + target.hex() and int(proposal["power"], 16) == power:
            tally, total = int(proposal["tally"], 16), int(proposal["total"], 16)
            return (
                f"proposal 0x{target.hex()} {what}: {tally} of {total} power voted "
                f"({len(proposal['voters'])} votes, more than 2/3 needed), open until block "
                f"{int(proposal['expires'], 16)}"
            )
    return (
        f"proposal 0x{target.hex()} {what}: decided in block {number}, "
        f"in effect from height {number + 2}"
    )


@validators.command(name="list")
@_rpc_option
@click.option("--height", type=click.IntRange(min=1), help="Height (default: the current one).")
def list_command(rpc: str, height: int | None) -> None:
    """Print the validator set of a height and the open proposals."""
    client = RpcClient(rpc)
    params = [] if height is None else [hex(height)]
    members = client.request("peerchain_validators", *params)
    total = sum(int(m["power"], 16) for m in members)
    click.echo(f"validators{'' if height is None else f' of height {height}'}: total power {total}")
    for member in members:
        click.echo(f"  {member['address']}  power {int(member['power'], 16)}")
    proposals = client.request("peerchain_proposals")
    for proposal in proposals:
        click.echo(
            f"open: {proposal['address']} {proposal['action']} "
            f"power {int(proposal['power'], 16)}: {int(proposal['tally'], 16)} of "
            f"{int(proposal['total'], 16)} voted, until block {int(proposal['expires'], 16)}"
        )
