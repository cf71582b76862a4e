"""Checks of a node's own chain data: the quick one at start-up and the full one.

`check_head` runs before a node serves or signs anything: the canonical header chain
back `depth` blocks (each header there, hashing to its key, linked to its parent), the
head block's body and receipts, the head state root and the nodes right under it, and
the node's metadata (genesis, chain id, and on a network node the commit certificates of
those blocks). It raises `DamagedStore`, one line, instead of letting a damaged or
truncated directory crash the node or serve wrong answers.

`check_store` (`peerchain db check`) reads everything: every record's checksum, every
canonical block (header links, body, receipts, transaction lookups, transaction and
receipt tries) and the state trie of every block with its storage tries and contract
code, each node checked against its hash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from peerchain.core.blocks import Header
from peerchain.core.consensus.certificate import decode_certificate
from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError, PeerChainError
from peerchain.core.faults import RESYNC
from peerchain.core.kv import KeyValueReader
from peerchain.core.trienodes import TrieDamage, child_refs, read_node, walk_trie
from peerchain.node.chainapp import certificate_key
from peerchain.node.ledger import CHAIN_ID_KEY, GENESIS_KEY, Ledger
from peerchain.node.ports import ChainStore, StorageError

HEAD_CHECK_DEPTH = 64


class DamagedStore(StorageError):
    """The chain database fails an integrity check (one line, with what to do)."""


class RecordSource(Protocol):
    """A store that can list its records (`LmdbStore`)."""

    def records(self, table: str) -> Iterator[tuple[bytes, bytes | None]]: ...
    def count(self, table: str) -> int: ...


def check_head(ledger: Ledger, *, certified: bool, depth: int = HEAD_CHECK_DEPTH) -> None:
    """The quick start-up check. `certified`: blocks above genesis must have their commit
    certificates (a network node). Raises DamagedStore."""
    problem = _first(_head_problems(ledger, certified, depth))
    if problem is not None:
        raise DamagedStore(f"the chain database is damaged: {problem}; {RESYNC}")


def _first(problems: Iterator[str]) -> str | None:
    try:
        return next(problems, None)
    except PeerChainError as exc:  # a damaged record met on the way (LocalFaultError...)
        return str(exc).removeprefix("local fault: corrupted data: ").split(";")[0]


def _head_problems(ledger: Ledger, certified: bool, depth: int) -> Iterator[str]:
    store = ledger.store
    if store.get_meta(GENESIS_KEY) != ledger.engine.genesis_hash:
        yield "the genesis record does not match"
    if store.get_meta(CHAIN_ID_KEY) != ledger.chain_id.to_bytes(32, "big"):
        yield "the chain id record does not match"
    head = ledger.head
    child = None
    for number in range(head.number, max(head.number - depth, -1), -1):
        header = ledger.engine.get_header_by_number(number)
        if header is None:
            yield f"canonical header {number} is missing (head is {head.number})"
            return
        yield from _header_problems(store, header.hash, number)
        if child is not None and child.parent_hash != header.hash:
            yield f"block {child.number} does not link to canonical block {number}"
        if certified and number > 0:
            yield from _certificate_problems(store, number)
        child = header
    block = ledger.engine.get_block_by_number(head.number)
    if block is None or block.hash != head.hash:
        yield f"the head block {head.number} does not read back"
    ledger.engine.get_receipts(head.hash)
    try:
        root = read_node(store, head.state_root)
        hashed, _, _ = child_refs(root)
        for ref in hashed:
            read_node(store, ref)
    except KeyError as exc:
        yield f"state trie node 0x{exc.args[0].hex()} of head block {head.number} is missing"
    except DecodeError as exc:
        yield f"a state trie node of head block {head.number} {exc}"


def _header_problems(store: KeyValueReader, block_hash: bytes, number: int) -> Iterator[str]:
    data = store.get(block_hash)
    if data is None or keccak256(data) != block_hash:
        yield f"header of block {number} does not hash to 0x{block_hash.hex()}"


def _certificate_problems(store: ChainStore, height: int) -> Iterator[str]:
    data = store.get_meta(certificate_key(height))
    if data is None:
        yield f"the commit certificate of block {height} is missing"
        return
    try:
        certificate = decode_certificate(data)
    except DecodeError:
        yield f"the commit certificate of block {height} does not decode"
        return
    if certificate.height != height:
        yield f"the commit certificate stored for block {height} is for {certificate.height}"


@dataclass(slots=True)
class CheckReport:
    """What `check_store` found: counts, and one line per problem (at most `limit`)."""

    records: int = 0
    blocks: int = 0
    trie_nodes: int = 0
    problems: list[str] = field(default_factory=list)
    more_problems: int = 0
    limit: int = 100

    def add(self, problem: str) -> None:
        if len(self.problems) < self.limit:
            self.problems.append(problem)
        else:
            self.more_problems += 1

    @property
    def ok(self) -> bool:
        return not self.problems


# progress(phase, done, total): phases "records", "blocks".
Progress = Callable[[str, int, int], None]


def check_store(
    ledger: Ledger, source: RecordSource, *, certified: bool, progress: Progress | None = None
) -> CheckReport:
    """The full check; never raises for damage, which goes into the report."""
    report = CheckReport()
    tick = progress or (lambda phase, done, total: None)
    total = source.count("state") + source.count("meta")
    try:
        for table in ("meta", "state"):
            for key, value in source.records(table):
                report.records += 1
                if value is None:
                    report.add(f"{table} record 0x{key.hex()} fails its checksum")
                if report.records % 1000 == 0:
                    tick("records", report.records, total)
    except PeerChainError as exc:
        report.add(str(exc))
    tick("records", report.records, total)
    _check_blocks(ledger, certified, report, tick)
    return report


def _check_blocks(ledger: Ledger, certified: bool, report: CheckReport, tick: Progress) -> None:
    head = ledger.head.number
    seen: set[bytes] = set()

    def visited() -> None:
        report.trie_nodes += 1

    for problem in _safe(partial(_meta_problems, ledger)):
        report.add(problem)
    parent: Header | None = None
    for number in range(head + 1):
        header = _safe_header(ledger, number, report)
        if header is not None:
            for problem in _safe(partial(_block_problems, ledger, header, certified, parent)):
                report.add(problem)
            for root, where, accounts in _roots(header):
                for damage in _walk(ledger.store, root, where, accounts, seen, visited):
                    report.add(damage.line())
        parent = header
        report.blocks += 1
        tick("blocks", number + 1, head + 1)


def _roots(header: Header) -> list[tuple[bytes, str, bool]]:
    """The tries a block points to: (root, what it is, is it the account trie)."""
    n = header.number
    roots = [
        (header.transactions_root, f"transactions of block {n}", False),
        (header.receipts_root, f"receipts of block {n}", False),
        (header.state_root, f"state of block {n}", True),
    ]
    if header.withdrawals_root is not None:
        roots.append((header.withdrawals_root, f"withdrawals of block {n}", False))
    return roots


def _walk(
    store: KeyValueReader,
    root: bytes,
    where: str,
    accounts: bool,
    seen: set[bytes],
    visited: Callable[[], None],
) -> Iterator[TrieDamage]:
    """walk_trie over the records not seen yet (tries of successive blocks share most
    of their nodes); a damaged record met on the way is reported, not raised."""
    try:
        yield from walk_trie(store, root, where, accounts=accounts, visited=visited, seen=seen)
    except PeerChainError as exc:
        yield TrieDamage(root, str(exc), where)


def _safe(problems: Callable[[], Iterator[str]]) -> list[str]:
    found: list[str] = []
    try:
        found.extend(problems())
    except PeerChainError as exc:
        found.append(str(exc))
    return found


def _safe_header(ledger: Ledger, number: int, report: CheckReport) -> Header | None:
    try:
        header = ledger.engine.get_header_by_number(number)
    except PeerChainError as exc:
        report.add(str(exc))
        return None
    if header is None:
        report.add(f"canonical header {number} is missing")
    return header


def _meta_problems(ledger: Ledger) -> Iterator[str]:
    store = ledger.store
    if store.get_meta(GENESIS_KEY) != ledger.engine.genesis_hash:
        yield "the genesis record does not match"
    if store.get_meta(CHAIN_ID_KEY) != ledger.chain_id.to_bytes(32, "big"):
        yield "the chain id record does not match"


def _block_problems(
    ledger: Ledger, header: Header, certified: bool, parent: Header | None
) -> Iterator[str]:
    number = header.number
    yield from _header_problems(ledger.store, header.hash, number)
    if number > 0 and parent is not None and header.parent_hash != parent.hash:
        yield f"block {number} does not link to canonical block {number - 1}"
    if certified and number > 0:
        yield from _certificate_problems(ledger.store, number)
    block = ledger.engine.get_block_by_number(number)
    if block is None or block.hash != header.hash:
        yield f"block {number} does not read back"
        return
    for index, tx in enumerate(block.transactions):
        found = ledger.engine.get_transaction_location(tx.hash)
        if found is None or (found.block_number, found.index) != (number, index):
            yield f"the lookup of transaction 0x{tx.hash.hex()} (block {number}) is wrong"
    if len(ledger.engine.get_receipts(header.hash)) != len(block.transactions):
        yield f"the receipts of block {number} do not match its transactions"
