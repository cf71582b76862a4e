"""`peerchain init`: create a data directory for a chain from a genesis file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from peerchain.core.genesis import parse_genesis
from peerchain.drivers.storage import LmdbStore
from peerchain.node.ledger import Ledger


def read_genesis_file(path: Path) -> dict[str, object]:
    """Parse a genesis JSON file; a bad file is a one-line click error."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read genesis file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise click.ClickException(f"genesis file {path} must hold a JSON object")
    return data


def find_genesis(datadir: Path) -> Path:
    """The genesis.json in or above a data directory (`peerchain init` puts one in it; a
    devnet node's is two levels up). A click error if there is none."""
    for candidate in (datadir, datadir.parent, datadir.parent.parent):
        if (candidate / "genesis.json").is_file():
            return candidate / "genesis.json"
    raise click.ClickException(f"no genesis.json in or above {datadir}: pass --genesis FILE")


def require_chain(datadir: Path) -> None:
    """A click error unless `datadir` holds a chain (commands that only read one must not
    create an empty one)."""
    if not (datadir / "chain" / "data.mdb").is_file():
        raise click.ClickException(f"{datadir} holds no chain (no chain/data.mdb)")


# `--genesis` of the commands that open an existing data directory (export, import, db check).
genesis_option = click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The chain's genesis.json (default: found in or above the data directory).",
)


@click.command()
@click.option(
    "--genesis",
    "genesis_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A geth-style genesis.json.",
)
@click.option(
    "--datadir",
    required=True,
    type=click.Path(path_type=Path),
    help="The data directory to create.",
)
def init(genesis_file: Path, datadir: Path) -> None:
    """Initialise a data directory with the genesis block of a chain."""
    genesis = parse_genesis(read_genesis_file(genesis_file))
    store = LmdbStore(datadir / "chain")
    try:
        ledger = Ledger(store, genesis)
        head = ledger.head
    finally:
        store.close()
    target = datadir / "genesis.json"
    if target.resolve() != genesis_file.resolve():
        shutil.copyfile(genesis_file, target)
    click.echo(
        f"initialised {datadir}: chain id {genesis.chain_id}, "
        f"genesis 0x{ledger.engine.genesis_hash.hex()}, head block {head.number}"
    )
