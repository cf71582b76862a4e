"""Chain export files: committed blocks with their commit certificates, for backups and
for moving a chain into a new data directory (as `geth export` / `geth import`).

Layout (the whole file gzip-compressed when its name ends in `.gz`)::

    magic "PEERCHAIN-CHAIN\\0" (16 bytes)
    u32 length | header, JSON: {"format": 1, "chainId", "genesisHash", "first", "last"}
    one record per block, first..last in order:
        u32 length | Commit(block value, certificate) in the consensus wire encoding

Each record is what block sync sends a peer (the block RLP, its parent's certificate and
its own), and `import_chain` checks it the same way before it commits anything: the
certificate against the validator set, the block against the head it extends, and its
execution against its header (state root, receipts, gas). The file carries no trust of
its own; a damaged or altered record stops the import at that block, with its number.
"""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from peerchain.core.consensus.certificate import Commit
from peerchain.core.consensus.messages import InvalidMessage
from peerchain.core.consensus.wire import decode_message, encode_message
from peerchain.core.errors import DecodeError, PeerChainError
from peerchain.execution.engine import InvalidBlock
from peerchain.node.chainapp import ChainApplication

MAGIC = b"PEERCHAIN-CHAIN\x00"
FORMAT = 1
MAX_HEADER = 64 * 1024
MAX_RECORD = 256 * 1024 * 1024
_U32 = struct.Struct(">I")


class ArchiveError(PeerChainError):
    """An export file cannot be written, is not one, is truncated, or holds a block that
    fails its checks (the message names the block)."""


@dataclass(frozen=True, slots=True)
class ArchiveHeader:
    """Which chain a file belongs to and which blocks it holds (first..last)."""

    chain_id: int
    genesis_hash: bytes
    first: int
    last: int

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "chainId": self.chain_id,
            "genesisHash": "0x" + self.genesis_hash.hex(),
            "first": self.first,
            "last": self.last,
        }


@contextmanager
def open_archive(path: Path, mode: str) -> Iterator[IO[bytes]]:
    """Open an export file for reading ("rb") or writing ("wb"), through gzip for `.gz`.
    Raises ArchiveError when it cannot be opened."""
    try:
        with gzip.open(path, mode) if path.suffix == ".gz" else path.open(mode) as file:
            yield file  # type: ignore[misc]
    except OSError as exc:
        raise ArchiveError(f"{path}: {exc.strerror or exc}") from exc


# --- writing -----------------------------------------------------------------------------
def write_archive(
    file: IO[bytes],
    header: ArchiveHeader,
    app: ChainApplication,
    progress: Callable[[int, int], None] = lambda height, size: None,
) -> int:
    """Write the blocks header.first..header.last of `app`'s chain with their
    certificates; call `progress(height, bytes)` after each; return the bytes written.
    Raises ArchiveError if a block or certificate is missing from the data directory."""
    encoded = json.dumps(header.to_json()).encode()
    written = _write(file, MAGIC + _U32.pack(len(encoded)) + encoded)
    for height in range(header.first, header.last + 1):
        value, certificate = app.value_of(height), app.certificate(height)
        if value is None or certificate is None:
            missing = "block" if value is None else "commit certificate"
            raise ArchiveError(f"block {height}: its {missing} is missing from the data directory")
        record = encode_message(Commit(value, certificate))
        written += _write(file, _U32.pack(len(record)) + record)
        progress(height, written)
    return written


def _write(file: IO[bytes], data: bytes) -> int:
    try:
        file.write(data)
    except OSError as exc:
        raise ArchiveError(f"cannot write the export file: {exc.strerror or exc}") from exc
    return len(data)


# --- reading -----------------------------------------------------------------------------
def _read_exact(file: IO[bytes], size: int, what: str) -> bytes:
    try:
        data = file.read(size)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ArchiveError(f"cannot read {what}: {exc}") from exc
    if len(data) != size:
        raise ArchiveError(f"the file ends inside {what} (truncated)")
    return data


def read_header(file: IO[bytes]) -> ArchiveHeader:
    """Read and check the start of an export file. Raises ArchiveError."""
    try:
        magic = file.read(len(MAGIC))
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ArchiveError(f"not a PeerChain export file: {exc}") from exc
    if magic != MAGIC:
        raise ArchiveError("not a PeerChain export file (no PEERCHAIN-CHAIN mark at its start)")
    (size,) = _U32.unpack(_read_exact(file, _U32.size, "the file header"))
    if size > MAX_HEADER:
        raise ArchiveError(f"file header of {size} bytes is too large")
    try:
        raw = json.loads(_read_exact(file, size, "the file header"))
        if raw["format"] != FORMAT:
            raise ArchiveError(f"export format {raw['format']} is not supported (only {FORMAT})")
        header = ArchiveHeader(
            chain_id=int(raw["chainId"]),
            genesis_hash=bytes.fromhex(str(raw["genesisHash"]).removeprefix("0x")),
            first=int(raw["first"]),
            last=int(raw["last"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveError(f"the file header is malformed: {exc}") from exc
    if not 1 <= header.first <= header.last + 1 or len(header.genesis_hash) != 32:
        raise ArchiveError("the file header names an impossible block range or genesis")
    return header


def read_records(file: IO[bytes], header: ArchiveHeader) -> Iterator[tuple[int, Commit]]:
    """The (height, commit) records after the header, in order. Raises ArchiveError
    naming the block whose record is truncated, malformed or out of place."""
    for height in range(header.first, header.last + 1):
        what = f"the record of block {height}"
        (size,) = _U32.unpack(_read_exact(file, _U32.size, what))
        if size > MAX_RECORD:
            raise ArchiveError(f"block {height}: record of {size} bytes is too large")
        try:
            message = decode_message(_read_exact(file, size, what))
        except DecodeError as exc:
            raise ArchiveError(f"block {height}: malformed record: {exc}") from exc
        if not isinstance(message, Commit) or message.certificate.height != height:
            raise ArchiveError(f"block {height}: the record holds something else")
        yield height, message
    try:
        trailing = file.read(1)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ArchiveError(f"cannot read the end of the file: {exc}") from exc
    if trailing:
        raise ArchiveError(f"the file goes on after block {header.last}, its last")


# --- importing ---------------------------------------------------------------------------
async def import_chain(
    app: ChainApplication,
    records: Iterable[tuple[int, Commit]],
    progress: Callable[[int], None] = lambda height: None,
) -> tuple[int, int]:
    """Check and commit each record on top of `app`'s chain; return (imported, skipped).

    Blocks the data directory already has are skipped if they are the same blocks (so an
    interrupted import can be run again). Raises ArchiveError naming the first block that
    does not extend the chain or fails a check; everything before it stays committed.
    """
    ledger = app.ledger
    await app.start()
    imported = skipped = 0
    for height, commit in records:
        head = ledger.head.number
        if height <= head:
            ours = ledger.block_by_number(height)
            if ours is None or ours.hash != commit.block.hash:
                raise ArchiveError(
                    f"block {height}: the data directory holds another block at this height; "
                    "import into a fresh data directory"
                )
            skipped += 1
            continue
        if height != head + 1:
            raise ArchiveError(f"block {height}: the file does not continue from block {head}")
        try:
            await app.check_certified(height, commit.block, commit.certificate)
        except (InvalidBlock, InvalidMessage, DecodeError) as exc:
            reason = str(exc).removeprefix(f"block {height}: ")
            raise ArchiveError(
                f"block {height} (0x{commit.block.hash.hex()}) is refused: {reason}; the export "
                f"file is damaged or was altered, nothing after block {head} was imported"
            ) from exc
        await app.commit(height, commit.block, commit.certificate)
        imported += 1
        progress(height)
    return imported, skipped
