"""The file drivers' durable writes: the consensus WAL file (append, prune, reopen) and the
mempool journal (append, rewrite), over `drivers.files`."""

from __future__ import annotations

import os
from pathlib import Path

from peerchain.core.consensus.messages import Vote, VoteKind, sign_vote
from peerchain.core.crypto import keccak256
from peerchain.drivers.files import replace_file, write_all
from peerchain.drivers.txjournal import TxJournalFile
from peerchain.drivers.wal import WalFile

KEY = keccak256(b"file drivers")


def _vote(height: int) -> Vote:
    return sign_vote(KEY, 1, VoteKind.PREVOTE, height, 0, keccak256(b"%d" % height))


def test_replace_file_leaves_the_new_contents_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "record"
    path.write_bytes(b"old")
    replace_file(path, b"new")
    replace_file(path, b"newer", sync_directory=False)
    assert path.read_bytes() == b"newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record"]


def test_write_all_writes_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "big"
    data = bytes(range(256)) * 40_000  # larger than one pipe or page
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)
    assert path.read_bytes() == data


def test_wal_file_prunes_old_heights_and_appends_after_the_prune(tmp_path: Path) -> None:
    path = tmp_path / "consensus.wal"
    wal = WalFile(path)
    votes = [_vote(h) for h in (1, 2, 3)]
    for vote in votes:
        wal.append(vote)
    wal.prune(3)
    later = _vote(4)
    wal.append(later)
    wal.close()
    assert WalFile(path).records() == [votes[2], later]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["consensus.wal"]


def test_journal_rewrite_keeps_what_still_waits(tmp_path: Path) -> None:
    journal = TxJournalFile(tmp_path / "transactions.journal")
    for raw in (b"\x01a", b"\x02b", b"\x03c"):
        journal.append(raw)
    assert journal.load() == [b"\x01a", b"\x02b", b"\x03c"]
    journal.rewrite([b"\x03c"])
    journal.append(b"\x04d")
    assert TxJournalFile(journal.path).load() == [b"\x03c", b"\x04d"]
