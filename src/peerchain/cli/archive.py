"""`peerchain export` and `peerchain import`: a chain's blocks and commit certificates to a
file and back into a data directory, checked block by block (see peerchain.node.archive).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from peerchain.cli.init import find_genesis, genesis_option, read_genesis_file, require_chain
from peerchain.cli.progress import block_progress
from peerchain.core.genesis import ZERO_ADDRESS, Genesis, parse_genesis
from peerchain.core.mempool import Mempool
from peerchain.drivers.clock import SystemClock
from peerchain.drivers.storage import LmdbStore
from peerchain.execution.engine import ExecutionEngine
from peerchain.node.archive import (
    ArchiveError,
    ArchiveHeader,
    import_chain,
    open_archive,
    read_header,
    read_records,
    write_archive,
)
from peerchain.node.chainapp import ChainApplication
from peerchain.node.executor import BlockExecutor
from peerchain.node.ledger import Ledger
from peerchain.node.validatorsets import ChainValidatorSets


def _genesis_of(datadir: Path, genesis_file: Path | None) -> tuple[Genesis, Path]:
    path = genesis_file or find_genesis(datadir)
    genesis = parse_genesis(read_genesis_file(path))
    if not genesis.validators:
        raise click.ClickException(
            f"{path} is a dev chain's genesis (no validators): its blocks have no commit "
            "certificates to export or check"
        )
    return genesis, path


@contextmanager
def _chain(datadir: Path, genesis: Genesis) -> Iterator[ChainApplication]:
    store = LmdbStore(datadir / "chain")
    try:
        ledger = Ledger(store, genesis)
        executor = BlockExecutor(ledger.engine, store)
        try:
            yield ChainApplication(
                ledger,
                Mempool(chain_id=genesis.chain_id),
                ChainValidatorSets(),
                SystemClock(),
                coinbase=ZERO_ADDRESS,
                on_commit=lambda block: None,
                executor=executor,
            )
        finally:
            executor.close()
    finally:
        store.close()


F = TypeVar("F", bound=Callable[..., Any])


def _datadir_option(help_text: str, must_exist: bool) -> Callable[[F], F]:
    return click.option(
        "--datadir",
        required=True,
        type=click.Path(file_okay=False, exists=must_exist, path_type=Path),
        help=help_text,
    )


@click.command("export")
@_datadir_option("The node's data directory (the node may be running).", must_exist=True)
@genesis_option
@click.option("--from", "first", default=1, show_default=True, help="First block to write.")
@click.option("--to", "last", type=int, default=None, help="Last block (default: the head).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export(
    datadir: Path, genesis_file: Path | None, first: int, last: int | None, file: Path
) -> None:
    """Write the chain's blocks with their commit certificates to FILE (gzip-compressed
    when FILE ends in .gz), for `peerchain import`."""
    require_chain(datadir)
    genesis, _ = _genesis_of(datadir, genesis_file)
    partial = file.with_name(f"{file.stem}.partial{file.suffix}")  # keeps a .gz suffix
    started = time.monotonic()
    with _chain(datadir, genesis) as app:
        head = app.ledger.head.number
        if head == 0:
            raise click.ClickException(f"the chain in {datadir} has no block after genesis")
        last = head if last is None else last
        if not 1 <= first <= last <= head:
            raise click.ClickException(f"blocks {first}..{last} are not within 1..{head}")
        header = ArchiveHeader(genesis.chain_id, app.ledger.engine.genesis_hash, first, last)
        with block_progress("export") as bar, open_archive(partial, "wb") as out:
            task = bar.add_task("export", total=last - first + 1, detail="")

            def step(height: int, size: int) -> None:
                bar.update(task, completed=height - first + 1, detail=f"{size / 1e6:.1f} MB")

            size = write_archive(out, header, app, step)
    os.replace(partial, file)
    click.echo(
        f"exported blocks {first}..{last} of chain {genesis.chain_id} to {file} "
        f"({size / 1e6:.1f} MB before compression, {time.monotonic() - started:.1f}s)"
    )


def _replay(app: ChainApplication, source: IO[bytes], header: ArchiveHeader) -> tuple[int, int]:
    with block_progress("import") as bar:
        task = bar.add_task("import", total=header.last - header.first + 1, detail="")

        def step(height: int) -> None:
            bar.update(task, completed=height - header.first + 1, detail=f"block {height}")

        return asyncio.run(import_chain(app, read_records(source, header), step))


@click.command("import")
@_datadir_option("The data directory to fill (created if missing).", must_exist=False)
@genesis_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_(datadir: Path, genesis_file: Path | None, file: Path) -> None:
    """Check and replay the blocks of an export FILE into a data directory: every
    certificate against the validator set, every block's execution against its header.
    Stop the node that uses the data directory first."""
    genesis, genesis_path = _genesis_of(datadir, genesis_file)
    started = time.monotonic()
    with open_archive(file, "rb") as source:
        header = read_header(source)
        # Checked before the data directory is touched: a wrong file creates nothing.
        ours = ExecutionEngine({}, genesis).genesis_hash
        if (header.chain_id, header.genesis_hash) != (genesis.chain_id, ours):
            raise ArchiveError(
                f"{file} holds chain {header.chain_id} with genesis 0x{header.genesis_hash.hex()}"
                f"; {genesis_path} is chain {genesis.chain_id} with genesis 0x{ours.hex()}"
            )
        with _chain(datadir, genesis) as app:
            target = datadir / "genesis.json"
            if not target.exists():  # as `peerchain init` leaves it
                target.write_bytes(genesis_path.read_bytes())
            if app.ledger.head.number < header.first - 1:
                raise ArchiveError(
                    f"{file} starts at block {header.first}; the data directory ends at block "
                    f"{app.ledger.head.number} (import the blocks before it first)"
                )
            imported, skipped = _replay(app, source, header)
            head = app.ledger.head
    click.echo(
        f"imported {imported} blocks ({skipped} already there) from {file} into {datadir} in "
        f"{time.monotonic() - started:.1f}s; head block {head.number} 0x{head.hash.hex()}, "
        f"state root 0x{head.state_root.hex()}"
    )
