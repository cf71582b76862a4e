"""The node's evidence of double signing, kept with its chain.

`EvidencePool` turns what the consensus machine reports into `EvidenceRecord`s (see
`core.consensus.evidence`), keeps them deduplicated and bounded in an `EvidenceBook`,
and persists the book as one record of the store's meta space after each new piece, so
that evidence outlives restarts. Served by `peerchain_evidence` and the explorer.
"""

from __future__ import annotations

import logging

from peerchain.core.consensus.evidence import EvidenceBook, EvidenceRecord, evidence_record
from peerchain.core.consensus.votes import Evidence
from peerchain.core.errors import DecodeError
from peerchain.node.ports import ChainStore, StorageError

log = logging.getLogger("peerchain.consensus")

EVIDENCE_KEY = b"evidence"


class EvidencePool:
    """Evidence in a chain store. Raises StorageError when the stored book is unreadable."""

    def __init__(self, store: ChainStore) -> None:
        self._store = store
        data = store.get_meta(EVIDENCE_KEY)
        try:
            self._book = EvidenceBook() if data is None else EvidenceBook.decode(data)
        except DecodeError as exc:
            raise StorageError(f"the stored evidence record does not decode: {exc}") from exc

    def report(self, evidence: Evidence, detected_at: int) -> EvidenceRecord | None:
        """Keep and persist what the machine reported; None if it was known already.
        Raises LocalFaultError if the store cannot be written."""
        record = evidence_record(evidence, detected_at)
        if not self._book.add(record):
            return None
        self._store.write({}, {EVIDENCE_KEY: self._book.encode()})
        first, second = record.first, record.second
        log.warning(
            "evidence of double signing: validator 0x%s signed two %ss at height %d round %d "
            "(%s and %s); kept as 0x%s",
            record.validator.hex(),
            record.step.name.lower(),
            record.height,
            record.round,
            _value(first.block_hash),
            _value(second.block_hash),
            record.id.hex()[:16],
        )
        return record

    def records(self) -> list[EvidenceRecord]:
        """Newest first."""
        return self._book.records()


def _value(block_hash: bytes | None) -> str:
    return "nil" if block_hash is None else "0x" + block_hash.hex()[:16]
