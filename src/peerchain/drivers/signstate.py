"""The validator's last-signed record as a file beside its key (the `SignerState` port).

Each `save` writes the whole record to `<file>.tmp`, fsyncs it, renames it over the file
and fsyncs the directory, so the file always holds one whole record: the old one or the
new one. That happens before the message is appended to the WAL and sent.
"""

from __future__ import annotations

import logging
from pathlib import Path

from peerchain.core.consensus.signguard import (
    LastSigned,
    decode_last_signed,
    encode_last_signed,
    last_signed_of,
    sign_conflict,
)
from peerchain.core.consensus.wal import WalRecord
from peerchain.core.errors import DecodeError
from peerchain.core.faults import LocalFault, LocalFaultError, os_fault
from peerchain.drivers.files import replace_file
from peerchain.node.ports import StorageError

log = logging.getLogger(__name__)


def last_signed_path(validator_key: Path) -> Path:
    """Where the last-signed record of the validator whose key is in `validator_key` lives."""
    return validator_key.with_name(validator_key.name + ".last_signed.json")


class LastSignedFile:
    """A `SignerState` in one JSON file. Opening raises StorageError for a damaged file;
    `save` raises LocalFaultError for a refused record or a failed write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = path.read_bytes() if path.exists() else None
        except OSError as exc:
            raise StorageError(f"cannot read the last-signed record {path}: {exc}") from exc
        try:
            self._last = None if data is None else decode_last_signed(data)
        except DecodeError as exc:
            raise StorageError(
                f"the last-signed record {path} is damaged ({exc}); it is what keeps this "
                "validator from signing twice: restore it from a backup, or, only if you "
                "are sure this key signed nothing above the chain's head, delete it"
            ) from exc

    @property
    def last(self) -> LastSigned | None:
        return self._last

    def save(self, record: WalRecord) -> None:
        new = last_signed_of(record)
        conflict = sign_conflict(self._last, new)
        if conflict is not None:
            raise LocalFaultError(
                LocalFault(
                    "double-signing refused",
                    f"the signer refused a {conflict}",
                    "report this as a bug; restarting the node resumes safely",
                    str(self.path),
                )
            )
        if new == self._last:
            return
        try:
            replace_file(self.path, encode_last_signed(new))
        except OSError as exc:
            fault = os_fault(exc, "saving the last-signed record", str(self.path))
            raise LocalFaultError(fault) from exc
        self._last = new
