"""The `peerchain` command: composition root of the node and its tools."""

from __future__ import annotations

import logging
import os
import sys

import click

from peerchain import __version__
from peerchain.cli.accounts import account
from peerchain.cli.archive import export, import_
from peerchain.cli.client import call, deploy, send, status
from peerchain.cli.contracts import compile_command
from peerchain.cli.db import db
from peerchain.cli.dev import dev
from peerchain.cli.devnet import devnet
from peerchain.cli.init import init
from peerchain.cli.node import node
from peerchain.cli.validators import validators
from peerchain.core.errors import PeerChainError

log = logging.getLogger("peerchain.cli")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="peerchain")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def cli(log_level: str) -> None:
    """PeerChain: a blockchain node with BFT consensus, the EVM and Ethereum JSON-RPC."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )


for command in (
    dev, devnet, init, node, export, import_, account, db, send, call, compile_command,
    deploy, status, validators,
):  # fmt: skip
    cli.add_command(command)


def main() -> None:
    """Run the CLI; expected errors become one clear line and exit status 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PeerChainError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:  # a file or address of the user's that the system refused
        click.echo(f"error: {describe_os_error(exc)}", err=True)
        sys.exit(1)
    except Exception as exc:
        log.debug("internal error", exc_info=True)
        click.echo(
            f"internal error: {type(exc).__name__}: {exc} (a bug in peerchain; run with "
            "--log-level debug for where it happened)",
            err=True,
        )
        sys.exit(1)


def describe_os_error(exc: OSError) -> str:
    """One line for a failed system call: what the system said, and the path(s)."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{reason}: {' -> '.join(paths)}" if paths else reason
