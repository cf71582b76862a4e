"""`peerchain db check`: read a stopped node's whole chain database and check it."""

from __future__ import annotations

from pathlib import Path

import click

from peerchain.cli.init import find_genesis, genesis_option, read_genesis_file, require_chain
from peerchain.cli.progress import CheckProgress
from peerchain.core.faults import RESYNC
from peerchain.core.genesis import parse_genesis
from peerchain.drivers.storage import LmdbStore
from peerchain.node.chainapp import certificate_key
from peerchain.node.integrity import check_store
from peerchain.node.ledger import Ledger


@click.group()
def db() -> None:
    """Inspect a node's chain database."""


@db.command()
@click.option(
    "--datadir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The node's data directory (the one holding chain/).",
)
@genesis_option
def check(datadir: Path, genesis_file: Path | None) -> None:
    """Check every record's checksum, every block and every state trie node.

    Run it on a stopped node; exit status 1 if anything is damaged."""
    require_chain(datadir)
    genesis = parse_genesis(read_genesis_file(genesis_file or find_genesis(datadir)))
    store = LmdbStore(datadir / "chain")
    try:
        ledger = Ledger(store, genesis)
        certified = bool(genesis.validators) and store.get_meta(certificate_key(1)) is not None
        with CheckProgress() as bars:
            report = check_store(ledger, store, certified=certified, progress=bars.update)
    finally:
        store.close()
    click.echo(
        f"checked {report.records} records, {report.blocks} blocks and "
        f"{report.trie_nodes} trie nodes and code records in {datadir}"
    )
    if report.ok:
        click.echo("no damage found")
        return
    for problem in report.problems:
        click.echo(f"damaged: {problem}", err=True)
    if report.more_problems:
        click.echo(f"... and {report.more_problems} more", err=True)
    raise click.ClickException(f"the chain database is damaged; {RESYNC}")
