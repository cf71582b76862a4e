"""The node's evidence pool: persisted with the chain, deduplicated, served as JSON."""

from __future__ import annotations

from pathlib import Path

from peerchain.core.consensus.messages import VoteKind, sign_vote
from peerchain.core.consensus.votes import DuplicateVote
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.drivers.storage import LmdbStore
from peerchain.node.evidence import EvidencePool
from peerchain.rpc.peerchain import evidence_json

KEY = keccak256(b"double signer")


def _double_vote(height: int) -> DuplicateVote:
    return DuplicateVote(
        sign_vote(KEY, 1, VoteKind.PRECOMMIT, height, 0, keccak256(b"x")),
        sign_vote(KEY, 1, VoteKind.PRECOMMIT, height, 0, keccak256(b"y")),
    )


def test_evidence_is_kept_once_and_survives_a_restart(tmp_path: Path) -> None:
    store = LmdbStore(tmp_path / "chain")
    pool = EvidencePool(store)
    record = pool.report(_double_vote(4), detected_at=4)
    assert record is not None
    assert pool.report(_double_vote(4), detected_at=5) is None  # seen again: same record
    assert pool.report(_double_vote(6), detected_at=6) is not None
    store.close()
    again = EvidencePool(LmdbStore(tmp_path / "chain"))
    assert [r.height for r in again.records()] == [6, 4]
    shown = evidence_json(again.records()[1])
    assert shown["type"] == "duplicateVote" and shown["step"] == "precommit"
    assert shown["validator"] == "0x" + private_key_to_address(KEY).hex()
    assert shown["height"] == "0x4" and shown["detectedAt"] == "0x4"
    assert shown["id"] == "0x" + record.id.hex()
    assert {shown["first"]["blockHash"], shown["second"]["blockHash"]} == {
        "0x" + keccak256(b"x").hex(),
        "0x" + keccak256(b"y").hex(),
    }
