"""`peerchain account new | list | import`: encrypted keystore (V3) files."""

from __future__ import annotations

from pathlib import Path

import click

from peerchain.core.crypto import private_key_to_address
from peerchain.drivers.keystore import create_key_file, list_key_files

DEFAULT_KEYSTORE = Path(".peerchain/keystore")

keystore_option = click.option(
    "--keystore",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_KEYSTORE,
    show_default=True,
    help="Directory of keystore files.",
)
password_file_option = click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the password from this file instead of prompting.",
)


def read_password(password_file: Path | None, *, confirm: bool) -> str:
    """The password from a file (first line) or from a prompt."""
    if password_file is not None:
        lines = password_file.read_text().splitlines()
        return lines[0] if lines else ""
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=confirm))


@click.group()
def account() -> None:
    """Manage accounts kept in encrypted keystore files."""


@account.command("new")
@keystore_option
@password_file_option
def account_new(keystore: Path, password_file: Path | None) -> None:
    """Create a new account and store its key encrypted."""
    path = create_key_file(keystore, read_password(password_file, confirm=True))
    click.echo(f"0x{path.name.rsplit('--', 1)[-1]}  {path}")


@account.command("list")
@keystore_option
def account_list(keystore: Path) -> None:
    """List the accounts in the keystore."""
    entries = list_key_files(keystore)
    if not entries:
        click.echo(f"no accounts in {keystore}")
    for i, (address, path) in enumerate(entries):
        click.echo(f"({i}) 0x{address.hex()}  {path}")


@account.command("import")
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@keystore_option
@password_file_option
def account_import(key_file: Path, keystore: Path, password_file: Path | None) -> None:
    """Import a hex private key from KEY_FILE into the keystore."""
    text = key_file.read_text().strip().removeprefix("0x")
    try:
        key = bytes.fromhex(text)
        private_key_to_address(key)
    except ValueError as exc:
        raise click.ClickException(f"{key_file} does not hold a hex private key") from exc
    if len(key) != 32:
        raise click.ClickException(f"{key_file} does not hold a 32-byte private key")
    path = create_key_file(keystore, read_password(password_file, confirm=True), key)
    click.echo(f"0x{private_key_to_address(key).hex()}  {path}")
