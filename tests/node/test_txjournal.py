"""The mempool journal: transactions local clients sent survive a restart."""

from __future__ import annotations

from pathlib import Path

from peerchain.drivers.txjournal import TxJournalFile, decode_journal, encode_journal_entry
from peerchain.node.devnode import DevNode

from ..integrity.chain_probe import ADDRESSES, KEYS, open_node, raw_tx


def test_journal_frames_round_trip_and_a_torn_tail_is_dropped(tmp_path: Path) -> None:
    journal = TxJournalFile(tmp_path / "transactions.journal")
    assert journal.load() == []
    journal.append(b"\x02first")
    journal.append(b"\x02second")
    with (tmp_path / "transactions.journal").open("ab") as f:
        f.write(encode_journal_entry(b"\x02third")[:-2])  # killed mid-write
    assert journal.load() == [b"\x02first", b"\x02second"]
    journal.rewrite([b"\x02second"])
    assert decode_journal((tmp_path / "transactions.journal").read_bytes()) == ([b"\x02second"], 0)


def _pending_node(datadir: Path) -> DevNode:
    node = open_node(datadir)
    node.set_automine(False)
    return node


def test_pending_local_transactions_come_back_after_a_restart(tmp_path: Path) -> None:
    node = _pending_node(tmp_path)
    journal_path = tmp_path / "transactions.journal"
    assert node.restore_journal(TxJournalFile(journal_path)) == 0
    sent = [
        node.send_raw_transaction(raw_tx(KEYS[0], nonce, ADDRESSES[3], 1)) for nonce in range(3)
    ]
    node.ledger.store.close()

    again = _pending_node(tmp_path)
    assert again.mempool.get(sent[0]) is None
    assert again.restore_journal(TxJournalFile(journal_path)) == 3
    assert all(again.mempool.get(h) is not None for h in sent)
    block = again.mine_block()
    assert [tx.hash for tx in block.transactions] == sent
    assert TxJournalFile(journal_path).load() == []  # mined: gone from the journal
    again.ledger.store.close()

    third = _pending_node(tmp_path)
    assert third.restore_journal(TxJournalFile(journal_path)) == 0
    assert third.ledger.head.number == block.number


def test_a_journaled_transaction_already_mined_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "transactions.journal"
    node = _pending_node(tmp_path)
    node.restore_journal(TxJournalFile(path))
    node.send_raw_transaction(raw_tx(KEYS[1], 0, ADDRESSES[3], 1))
    before_block = path.read_bytes()
    node.mine_block()
    node.ledger.store.close()
    path.write_bytes(before_block)  # killed between the block's commit and the rewrite
    again = _pending_node(tmp_path)
    assert again.restore_journal(TxJournalFile(path)) == 0
    assert len(again.mempool) == 0
