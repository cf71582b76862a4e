"""Durable file writes shared by the file drivers (WAL, last-signed record, journal).

Both raise OSError; the driver that calls them names the fault (`core.faults.os_fault`).
"""

from __future__ import annotations

import os
from pathlib import Path


def write_all(fd: int, data: bytes) -> None:
    """Write the whole of `data` to `fd` (one `os.write` may write less than asked)."""
    view = memoryview(data)
    written = 0
    while written < len(view):
        written += os.write(fd, view[written:])


def replace_file(path: Path, data: bytes, *, sync_directory: bool = True) -> None:
    """Make `path` hold exactly `data`, the old contents or the new ones whatever happens:
    written to `<path>.tmp`, fsynced, renamed over `path`; with `sync_directory` the
    directory is fsynced too, so that the rename itself survives a power cut."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    if sync_directory:
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
