"""A stopped node's store damaged on disk: the node refuses to start with one line, or
answers only correct values and reports a local fault for the rest. Never a crash (the
probe runs in a child process, so a SIGBUS or a traceback shows as its exit status),
never a silent new chain, never a wrong value."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from peerchain.core.errors import DecodeError
from peerchain.core.rlp import decode_rlp
from peerchain.drivers.storage import LmdbStore
from peerchain.node.ledger import Ledger

from .chain_probe import GENESIS, build_chain, probe


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    datadir = tmp_path_factory.mktemp("pristine")
    truth = build_chain(datadir)
    return datadir, truth


def _copy(pristine: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    target = tmp_path / "datadir"
    shutil.copytree(pristine[0], target)
    return target


def _assert_refused(datadir: Path, *words: str) -> str:
    status, result, output = probe(datadir)
    assert status == 0, output
    assert result is not None and "refused" in result, output
    line: str = result["refused"]
    assert "\n" not in line
    for word in words:
        assert word in line, line
    return line


def _assert_never_wrong(datadir: Path, truth: dict[str, Any]) -> dict[str, Any]:
    status, result, output = probe(datadir)
    assert status == 0, f"the node crashed (exit status {status}):\n{output[-3000:]}"
    assert result is not None, output
    if "refused" in result:
        return result
    answers = result["answers"]
    assert answers["head"] == truth["head"], "the node started another chain"
    for name, expected in truth.items():
        got = answers.get(name)
        if isinstance(got, str) and got.startswith("FAULT: local fault: "):
            continue
        assert got == expected, f"{name}: served {got!r}, the chain holds {expected!r}"
    return result


def test_the_probe_sees_the_healthy_chain(
    pristine: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    result = _assert_never_wrong(_copy(pristine, tmp_path), pristine[1])
    assert result["faults"] == 0 and "refused" not in result


def test_truncated_store_is_refused_in_one_line(
    pristine: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    datadir = _copy(pristine, tmp_path)
    data = datadir / "chain" / "data.mdb"
    with data.open("r+b") as f:
        f.truncate(data.stat().st_size // 2)
    _assert_refused(datadir, "truncated", "resync")


def test_zero_length_store_is_refused_not_a_new_chain(
    pristine: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    datadir = _copy(pristine, tmp_path)
    (datadir / "chain" / "data.mdb").write_bytes(b"")
    _assert_refused(datadir, "empty", "backup")


def test_deleted_store_is_refused_not_a_new_chain(
    pristine: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    datadir = _copy(pristine, tmp_path)
    (datadir / "chain" / "data.mdb").unlink()
    _assert_refused(datadir, "missing")


@pytest.mark.parametrize("seed", range(8))
def test_random_bit_flips_never_give_a_wrong_answer(
    pristine: tuple[Path, dict[str, Any]], tmp_path: Path, seed: int
) -> None:
    datadir = _copy(pristine, tmp_path)
    data = datadir / "chain" / "data.mdb"
    content = bytearray(data.read_bytes())
    rng = random.Random(seed)
    for _ in range(16):
        position = rng.randrange(len(content))
        content[position] ^= 1 << rng.randrange(8)
    data.write_bytes(bytes(content))
    _assert_never_wrong(datadir, pristine[1])


def _account_leaf(datadir: Path, balance: int) -> bytes:
    """The stored state-trie leaf of the account holding `balance` at the head."""
    store = LmdbStore(datadir / "chain")
    try:
        for _, value in store.records("state"):
            try:
                node = decode_rlp(value or b"")
                account = decode_rlp(node[1]) if isinstance(node, list) and len(node) == 2 else None
            except (DecodeError, TypeError):
                continue
            is_account = isinstance(account, list) and len(account) == 4
            if is_account and int.from_bytes(account[1], "big") == balance:
                assert value is not None
                return value
    finally:
        store.close()
    raise AssertionError("account leaf not found")


def _flip_inside(datadir: Path, record: bytes, back: int) -> None:
    """Flip one bit `back` bytes before the end of each copy of `record` on disk (LMDB
    keeps stale copies in free pages)."""
    data = datadir / "chain" / "data.mdb"
    content = bytearray(data.read_bytes())
    at = content.find(record)
    assert at > 0
    while at >= 0:
        content[at + len(record) - back] ^= 0x04
        at = content.find(record, at + 1)
    data.write_bytes(bytes(content))


def test_a_flipped_account_value_is_reported_not_served(
    pristine: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    datadir = _copy(pristine, tmp_path)
    _flip_inside(datadir, _account_leaf(datadir, pristine[1]["balance 3"]), back=40)
    result = _assert_never_wrong(datadir, pristine[1])
    # The leaf sits right under the head's state root, which the start-up check reads.
    line = result.get("refused") or result["answers"]["balance 3"]
    assert "corrupted data: state record 0x" in line or "damaged: state record 0x" in line
    assert "fails its checksum" in line and "resync" in line


def test_a_damaged_old_block_body_is_a_fault_while_the_rest_is_served(
    pristine: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    datadir = _copy(pristine, tmp_path)
    store = LmdbStore(datadir / "chain")
    try:
        header = Ledger(store, GENESIS).engine.get_header_by_number(5)
        assert header is not None
        body_node = store.get(header.transactions_root)  # the only transaction's leaf
        assert body_node is not None
    finally:
        store.close()
    _flip_inside(datadir, body_node, back=3)
    result = _assert_never_wrong(datadir, pristine[1])
    answers = result["answers"]
    assert answers["block 5"].startswith("FAULT: local fault: corrupted data: state record")
    assert answers["block 6"] == pristine[1]["block 6"]
    assert answers["balance 3"] == pristine[1]["balance 3"]
    assert result["fault"] == answers["block 5"].removeprefix("FAULT: ")
