"""The validator governance contract as the rest of the code sees it: its address, the
genesis account that predeploys it, the calls to it and the decoding of its answers.

The contract (src/peerchain/contracts/Validators.vy) holds the validator set and the
open proposals. A change decided in block H takes effect at height H + 2; a node reads
the set of height H with `validators_at(H)` on the state of block H - 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from peerchain.core.abi import decode, encode, selector
from peerchain.core.consensus.evidence import EvidenceRecord
from peerchain.core.consensus.messages import VoteKind
from peerchain.core.consensus.signguard import SignStep
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.errors import DecodeError
from peerchain.core.genesis import GenesisAccount, Validator
from peerchain.core.governance_code import RUNTIME_CODE

GOVERNANCE_ADDRESS = bytes.fromhex("0000000000000000000000000000000000001000")
# Storage slots the genesis writes (Vyper's layout of the contract; checked by a test).
MEMBERS_SLOT = 0
LIFETIME_SLOT = 129
JAIL_SLOT = 130
MAX_VALIDATORS = 64


_SIGNATURE = "(bytes32,bytes32,uint256)"
VALIDATORS_AT = ("validators_at", ("uint256",))
OPEN_PROPOSALS = ("open_proposals", ())
VOTE_SET_POWER = ("vote_set_power", ("address", "uint256"))
VOTE_REMOVE = ("vote_remove", ("address",))
REPORT_DOUBLE_VOTE = (
    "report_double_vote",
    ("uint256", "uint256", "uint256", "bytes32", _SIGNATURE, "bytes32", _SIGNATURE),
)
REPORT_DOUBLE_PROPOSAL = (
    "report_double_proposal",
    ("uint256", "uint256", "int256", "bytes32", _SIGNATURE, "int256", "bytes32", _SIGNATURE),
)
# What `validators_at` and `open_proposals` answer (Vyper's Member and OpenProposal).
MEMBERS = "(address,uint256)[]"
OPEN_PROPOSAL_LIST = "(address,uint256,uint256,uint256,address[],uint256,uint256)[]"


@dataclass(frozen=True, slots=True)
class OpenProposal:
    """A proposal to set `address`'s power to `power` (0: remove), opened at block
    `opened`, open until block `expires` (excluded), with the validators that voted for
    it and their power in the current set (`tally` of `total`)."""

    address: bytes
    power: int
    opened: int
    expires: int
    voters: tuple[bytes, ...]
    tally: int
    total: int


def genesis_account(
    validators: Sequence[Validator], lifetime: int, jail_double_signers: bool
) -> GenesisAccount:
    """The contract's genesis account: its code and the first validator set.

    Raises ValueError for a set the contract cannot hold."""
    if not validators or len(validators) > MAX_VALIDATORS:
        raise ValueError(f"the validator set holds 1 to {MAX_VALIDATORS} validators")
    if lifetime <= 0:
        raise ValueError("the proposal lifetime is at least one block")
    storage = {MEMBERS_SLOT: len(validators), LIFETIME_SLOT: lifetime}
    if jail_double_signers:
        storage[JAIL_SLOT] = 1
    for i, validator in enumerate(validators):
        storage[MEMBERS_SLOT + 1 + 2 * i] = int.from_bytes(validator.address, "big")
        storage[MEMBERS_SLOT + 2 + 2 * i] = validator.power
    return GenesisAccount(code=RUNTIME_CODE, storage=tuple(sorted(storage.items())))


# --- calls ----------------------------------------------------------------------------


def _call(function: tuple[str, tuple[str, ...]], *args: Any) -> bytes:
    name, types = function
    return selector(name, types) + encode(types, args)


def validators_at_call(height: int) -> bytes:
    return _call(VALIDATORS_AT, height)


def open_proposals_call() -> bytes:
    return _call(OPEN_PROPOSALS)


def vote_call(address: bytes, power: int) -> bytes:
    """Calldata of a vote to set `address`'s power (0: to remove it)."""
    if power == 0:
        return _call(VOTE_REMOVE, address)
    return _call(VOTE_SET_POWER, address, power)


def evidence_call(record: EvidenceRecord) -> bytes:
    """Calldata that reports a double-sign evidence record to the contract."""
    first, second = record.first, record.second
    if record.step is SignStep.PROPOSAL:
        assert first.block_hash is not None and second.block_hash is not None
        return _call(
            REPORT_DOUBLE_PROPOSAL,
            record.height,
            record.round,
            first.pol_round,
            first.block_hash,
            _signature(first.signature),
            second.pol_round,
            second.block_hash,
            _signature(second.signature),
        )
    kind = VoteKind.PREVOTE if record.step is SignStep.PREVOTE else VoteKind.PRECOMMIT
    return _call(
        REPORT_DOUBLE_VOTE,
        int(kind),
        record.height,
        record.round,
        first.block_hash or bytes(32),
        _signature(first.signature),
        second.block_hash or bytes(32),
        _signature(second.signature),
    )


def _signature(signature: bytes) -> tuple[bytes, bytes, int]:
    return signature[:32], signature[32:64], signature[64]


# --- answers --------------------------------------------------------------------------


def _address(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def decode_validators(data: bytes) -> ValidatorSet:
    """The answer of `validators_at`. Raises DecodeError."""
    (members,) = decode([MEMBERS], data)
    if len(members) > MAX_VALIDATORS:
        raise DecodeError("contract answer holds too many validators")
    try:
        return ValidatorSet([Validator(_address(address), power) for address, power in members])
    except ValueError as exc:
        raise DecodeError(f"the contract holds an invalid validator set: {exc}") from exc


def decode_open_proposals(data: bytes) -> list[OpenProposal]:
    """The answer of `open_proposals`. Raises DecodeError."""
    (proposals,) = decode([OPEN_PROPOSAL_LIST], data)
    return [
        OpenProposal(
            address=_address(address),
            power=power,
            opened=opened,
            expires=expires,
            voters=tuple(_address(voter) for voter in voters),
            tally=tally,
            total=total,
        )
        for address, power, opened, expires, voters, tally, total in proposals
    ]
