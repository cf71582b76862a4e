"""Encrypted account keys: Web3 Secret Storage (keystore V3) files and dev accounts.

Keystore files are named like geth's (`UTC--<time>--<address>`), one per account,
in a directory. Raises KeystoreError with a one-line reason on any failure.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from eth_account import Account

from peerchain.core.errors import PeerChainError

# The well-known development mnemonic used by Hardhat, Foundry and Ganache, so that
# dApp tooling recognises the prefunded accounts.
DEV_MNEMONIC = "test test test test test test test test test test test junk"


class KeystoreError(PeerChainError):
    """A key file could not be created, read or decrypted."""


def dev_private_keys(count: int, mnemonic: str = DEV_MNEMONIC) -> list[bytes]:
    """Derive `count` private keys along m/44'/60'/0'/0/i from a BIP-39 mnemonic."""
    Account.enable_unaudited_hdwallet_features()
    return [
        bytes(Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}").key)
        for i in range(count)
    ]


def create_key_file(directory: Path, password: str, private_key: bytes | None = None) -> Path:
    """Encrypt a new (or the given) private key into a keystore file; return its path."""
    account = Account.from_key(private_key) if private_key else Account.create()
    keyfile = Account.encrypt(account.key, password)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S.%fZ")
    path = directory / f"UTC--{stamp}--{account.address[2:].lower()}"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(keyfile))
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def list_key_files(directory: Path) -> list[tuple[bytes, Path]]:
    """Return (address, path) of every readable keystore file in `directory`."""
    found: list[tuple[bytes, Path]] = []
    if not directory.is_dir():
        return found
    for path in sorted(directory.iterdir()):
        try:
            address = json.loads(path.read_text())["address"]
            found.append((bytes.fromhex(address.removeprefix("0x")), path))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def load_key_file(path: Path, password: str) -> bytes:
    """Decrypt a keystore file; return the 32-byte private key."""
    try:
        keyfile = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read key file {path}: {exc}") from exc
    try:
        return bytes(Account.decrypt(keyfile, password))
    except ValueError as exc:
        raise KeystoreError(f"cannot decrypt {path.name}: wrong password or damaged file") from exc
