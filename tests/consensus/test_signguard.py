"""The last-signed record: what may be signed after what, its file form, the driver that
keeps it, and a machine that lost its WAL."""

from __future__ import annotations

from pathlib import Path

import pytest

from peerchain.core.consensus.events import BlockPrepared, Broadcast, PersistWal, Started
from peerchain.core.consensus.machine import ConsensusMachine
from peerchain.core.consensus.messages import BlockValue, Vote, VoteKind, sign_proposal, sign_vote
from peerchain.core.consensus.signguard import (
    LastSigned,
    SignStep,
    decode_last_signed,
    encode_last_signed,
    last_signed_of,
    sign_conflict,
)
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.errors import DecodeError
from peerchain.core.faults import LocalFaultError
from peerchain.core.genesis import ConsensusTimeouts, Validator
from peerchain.drivers.signstate import LastSignedFile, last_signed_path
from peerchain.node.ports import StorageError

KEYS = [keccak256(b"guard %d" % i) for i in range(4)]
VALIDATORS = ValidatorSet([Validator(private_key_to_address(k), 10) for k in KEYS])
A, B = keccak256(b"block a"), keccak256(b"block b")


def _at(height: int, round: int, step: SignStep, value: bytes | None = A) -> LastSigned:
    return LastSigned(height, round, step, value, -1, b"")


def test_forward_is_allowed_and_the_same_message_again_too() -> None:
    last = _at(5, 1, SignStep.PREVOTE)
    assert sign_conflict(None, last) is None
    assert sign_conflict(last, _at(5, 1, SignStep.PRECOMMIT)) is None
    assert sign_conflict(last, _at(5, 2, SignStep.PROPOSAL, B)) is None
    assert sign_conflict(last, _at(6, 0, SignStep.PROPOSAL, B)) is None
    assert sign_conflict(last, _at(5, 1, SignStep.PREVOTE)) is None


@pytest.mark.parametrize(
    ("candidate", "word"),
    [
        (_at(5, 1, SignStep.PREVOTE, B), "conflicts"),
        (_at(5, 1, SignStep.PREVOTE, None), "conflicts"),
        (_at(5, 1, SignStep.PROPOSAL), "goes back"),
        (_at(5, 0, SignStep.PRECOMMIT), "goes back"),
        (_at(4, 9, SignStep.PRECOMMIT), "goes back"),
    ],
)
def test_conflicting_or_backward_messages_are_refused(candidate: LastSigned, word: str) -> None:
    reason = sign_conflict(_at(5, 1, SignStep.PREVOTE), candidate)
    assert reason is not None and word in reason


def test_file_form_round_trips_and_damage_is_refused() -> None:
    vote = sign_vote(KEYS[0], 1, VoteKind.PRECOMMIT, 7, 2, A)
    last = last_signed_of(vote)
    data = encode_last_signed(last)
    assert decode_last_signed(data) == last
    assert last.as_vote(vote.validator) == vote
    with pytest.raises(DecodeError, match="checksum"):
        decode_last_signed(data.replace(b'"round": 2', b'"round": 1'))
    with pytest.raises(DecodeError):
        decode_last_signed(data[:-10])


def test_the_file_keeps_the_record_and_refuses_conflicts(tmp_path: Path) -> None:
    path = last_signed_path(tmp_path / "validator.key")
    signer = LastSignedFile(path)
    assert signer.last is None
    first = sign_vote(KEYS[0], 1, VoteKind.PREVOTE, 3, 0, A)
    signer.save(first)
    signer.save(first)  # the same message again
    assert LastSignedFile(path).last == last_signed_of(first)
    with pytest.raises(LocalFaultError, match=r"double-signing refused.*conflicts"):
        signer.save(sign_vote(KEYS[0], 1, VoteKind.PREVOTE, 3, 0, B))
    with pytest.raises(LocalFaultError, match="goes back"):
        signer.save(sign_proposal(KEYS[0], 1, 3, 0, -1, BlockValue(B, b"x")))
    path.write_bytes(path.read_bytes().replace(b'"height": 3', b'"height": 9'))
    with pytest.raises(StorageError, match=r"last-signed record .* is damaged"):
        LastSignedFile(path)


def _machine(last: LastSigned | None, wal: tuple[Vote, ...] = ()) -> ConsensusMachine:
    return ConsensusMachine(
        chain_id=1,
        validators=VALIDATORS,
        timeouts=ConsensusTimeouts(),
        height=3,
        private_key=KEYS[0],
        wal=wal,
        last_signed=last,
    )


def test_a_machine_without_its_wal_resumes_from_the_last_signed_vote() -> None:
    precommit = sign_vote(KEYS[0], 1, VoteKind.PRECOMMIT, 3, 2, A)
    machine = _machine(last_signed_of(precommit))
    assert (machine.round, machine.locked_value, machine.locked_round) == (2, A, 2)
    outputs = machine.handle(Started(), 0.0)
    # It re-sends the vote it signed and signs nothing new for round 2.
    assert [o.message for o in outputs if isinstance(o, Broadcast)] == [precommit]
    assert not [o for o in outputs if isinstance(o, PersistWal)]


def test_a_machine_that_lost_its_proposal_does_not_propose_another_block() -> None:
    proposer = next(
        i for i, k in enumerate(KEYS) if VALIDATORS.proposer(3, 1) == private_key_to_address(k)
    )
    key = KEYS[proposer]
    old = sign_proposal(key, 1, 3, 1, -1, BlockValue(A, b"old block"))
    machine = ConsensusMachine(
        chain_id=1,
        validators=VALIDATORS,
        timeouts=ConsensusTimeouts(),
        height=3,
        private_key=key,
        last_signed=last_signed_of(old),
    )
    assert machine.round == 1
    machine.handle(Started(), 0.0)
    outputs = machine.handle(BlockPrepared(3, 1, BlockValue(B, b"new block")), 0.0)
    assert not [o for o in outputs if isinstance(o, PersistWal | Broadcast)]
    assert machine.signatures_refused == 1
    assert machine.next_timeout() is not None  # it will prevote nil when it fires
