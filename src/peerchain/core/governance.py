"""The validator governance contract as the rest of the code sees it: its address, the
genesis account that predeploys it, and the calls to it (ABI by hand: all arguments are
static, and the answers are arrays of static tuples or of tuples with one array).

The contract (src/peerchain/contracts/Validators.vy) holds the validator set and the
open proposals. A change decided in block H takes effect at height H + 2; a node reads
the set of height H with `validators_at(H)` on the state of block H - 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from peerchain.core.consensus.evidence import EvidenceRecord, SignedValue
from peerchain.core.consensus.messages import VoteKind
from peerchain.core.consensus.signguard import SignStep
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError
from peerchain.core.genesis import GenesisAccount, Validator
from peerchain.core.governance_code import RUNTIME_CODE

GOVERNANCE_ADDRESS = bytes.fromhex("0000000000000000000000000000000000001000")
# Storage slots the genesis writes (Vyper's layout of the contract; checked by a test).
MEMBERS_SLOT = 0
LIFETIME_SLOT = 129
JAIL_SLOT = 130
MAX_VALIDATORS = 64


def _selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


_SIG = "(bytes32,bytes32,uint256)"
VALIDATORS_AT = _selector("validators_at(uint256)")
OPEN_PROPOSALS = _selector("open_proposals()")
VOTE_SET_POWER = _selector("vote_set_power(address,uint256)")
VOTE_REMOVE = _selector("vote_remove(address)")
REPORT_DOUBLE_VOTE = _selector(
    f"report_double_vote(uint256,uint256,uint256,bytes32,{_SIG},bytes32,{_SIG})"
)
REPORT_DOUBLE_PROPOSAL = _selector(
    f"report_double_proposal(uint256,uint256,int256,bytes32,{_SIG},int256,bytes32,{_SIG})"
)


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


def _word(value: int) -> bytes:
    return (value % (1 << 256)).to_bytes(32, "big")


def _address_word(address: bytes) -> bytes:
    return address.rjust(32, b"\0")


def validators_at_call(height: int) -> bytes:
    return VALIDATORS_AT + _word(height)


def vote_call(address: bytes, power: int) -> bytes:
    """Calldata of a vote to set `address`'s power (0: to remove it)."""
    if power == 0:
        return VOTE_REMOVE + _address_word(address)
    return VOTE_SET_POWER + _address_word(address) + _word(power)


def evidence_call(record: EvidenceRecord) -> bytes:
    """Calldata that reports a double-sign evidence record to the contract."""
    first, second = record.first, record.second
    if record.step is SignStep.PROPOSAL:
        return (
            REPORT_DOUBLE_PROPOSAL
            + _word(record.height)
            + _word(record.round)
            + _proposal_words(first)
            + _proposal_words(second)
        )
    kind = VoteKind.PREVOTE if record.step is SignStep.PREVOTE else VoteKind.PRECOMMIT
    return (
        REPORT_DOUBLE_VOTE
        + _word(int(kind))
        + _word(record.height)
        + _word(record.round)
        + _vote_words(first)
        + _vote_words(second)
    )


def _signature_words(signature: bytes) -> bytes:
    return signature[:32] + signature[32:64] + _word(signature[64])


def _vote_words(signed: SignedValue) -> bytes:
    return (signed.block_hash or bytes(32)) + _signature_words(signed.signature)


def _proposal_words(signed: SignedValue) -> bytes:
    assert signed.block_hash is not None
    return _word(signed.pol_round) + signed.block_hash + _signature_words(signed.signature)


# --- answers --------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def word(self, at: int) -> int:
        if at < 0 or at + 32 > len(self.data):
            raise DecodeError("contract answer truncated")
        return int.from_bytes(self.data[at : at + 32], "big")

    def address(self, at: int) -> bytes:
        value = self.word(at)
        if value >> 160:
            raise DecodeError("contract answer holds a bad address")
        return value.to_bytes(20, "big")

    def array(self, at: int, limit: int) -> tuple[int, int]:
        """(count, start of the items) of the array whose offset is at `at`."""
        start = self.word(at)
        count = self.word(start)
        if count > limit:
            raise DecodeError("contract answer holds too many items")
        return count, start + 32


def decode_validators(data: bytes) -> ValidatorSet:
    """The answer of `validators_at`. Raises DecodeError."""
    reader = _Reader(data)
    count, at = reader.array(0, MAX_VALIDATORS)
    members = [
        Validator(reader.address(at + 64 * i), reader.word(at + 64 * i + 32)) for i in range(count)
    ]
    try:
        return ValidatorSet(members)
    except ValueError as exc:
        raise DecodeError(f"the contract holds an invalid validator set: {exc}") from exc


def decode_open_proposals(data: bytes) -> list[OpenProposal]:
    """The answer of `open_proposals`. Raises DecodeError."""
    reader = _Reader(data)
    count, heads = reader.array(0, 64)
    found = []
    for i in range(count):
        at = heads + reader.word(heads + 32 * i)
        voters_at = at + reader.word(at + 128)
        voters_count = reader.word(voters_at)
        if voters_count > MAX_VALIDATORS:
            raise DecodeError("contract answer holds too many voters")
        voters = tuple(reader.address(voters_at + 32 + 32 * j) for j in range(voters_count))
        found.append(
            OpenProposal(
                address=reader.address(at),
                power=reader.word(at + 32),
                opened=reader.word(at + 64),
                expires=reader.word(at + 96),
                voters=voters,
                tally=reader.word(at + 160),
                total=reader.word(at + 192),
            )
        )
    return found
