"""The governance contract on a real ledger (py-evm, LMDB): votes from validator keys,
the 2/3 quorum, activation two heights later, refusals with their reason, expiry, and
double-sign evidence that jails (or not, as the genesis says)."""

from __future__ import annotations

from pathlib import Path

import pytest

from peerchain.core.consensus.evidence import evidence_record
from peerchain.core.consensus.messages import BlockValue, VoteKind, sign_proposal, sign_vote
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.consensus.votes import DuplicateProposal, DuplicateVote
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.errors import PeerChainError
from peerchain.core.genesis import Genesis, GenesisAccount, GovernanceSettings, Validator
from peerchain.core.governance import (
    GOVERNANCE_ADDRESS,
    OpenProposal,
    evidence_call,
    vote_call,
)
from peerchain.core.queries import CallRequest
from peerchain.core.transactions import DYNAMIC_FEE_TX, UnsignedTransaction, sign_transaction
from peerchain.drivers.storage import LmdbStore
from peerchain.execution.engine import ExecutedBlock
from peerchain.node.evidencereport import EvidenceReporter
from peerchain.node.ledger import Ledger
from peerchain.node.validatorsets import read_open_proposals, read_validator_set

CHAIN_ID = 1337
KEYS = [keccak256(b"governance test validator %d" % i) for i in range(4)]
ADDRESSES = [private_key_to_address(k) for k in KEYS]
NEWCOMER = b"\x77" * 20


class Chain:
    """A ledger with a helper to make blocks of governance transactions."""

    def __init__(self, tmp_path: Path, settings: GovernanceSettings | None = None) -> None:
        genesis = Genesis(
            chain_id=CHAIN_ID,
            alloc=tuple(sorted((a, GenesisAccount(balance=10**21)) for a in ADDRESSES)),
            validators=tuple(Validator(a, 1) for a in ADDRESSES),
            governance=settings or GovernanceSettings(),
        )
        self.ledger = Ledger(LmdbStore(tmp_path / "chain"), genesis)
        self.nonces = [0] * len(KEYS)
        self.last: ExecutedBlock | None = None

    def tx(self, signer: int, data: bytes) -> object:
        unsigned = UnsignedTransaction(
            type=DYNAMIC_FEE_TX,
            chain_id=CHAIN_ID,
            nonce=self.nonces[signer],
            gas_limit=2_000_000,
            max_fee_per_gas=10**10,
            max_priority_fee_per_gas=1,
            to=GOVERNANCE_ADDRESS,
            data=data,
        )
        self.nonces[signer] += 1
        return sign_transaction(unsigned, KEYS[signer])

    def block(self, *txs: object) -> int:
        head = self.ledger.head
        executed = self.ledger.engine.build_block(
            head, list(txs), timestamp=head.timestamp + 1, coinbase=ADDRESSES[0]
        )  # type: ignore[arg-type]
        assert not executed.skipped, executed.skipped
        self.ledger.commit(executed)
        self.last = executed
        return executed.block.number

    def statuses(self) -> list[int]:
        assert self.last is not None
        return [r.status for r in self.last.receipts]

    def revert_reason(self, signer: int, data: bytes) -> str:
        request = CallRequest(sender=ADDRESSES[signer], to=GOVERNANCE_ADDRESS, data=data)
        with pytest.raises(PeerChainError) as info:
            self.ledger.engine.call(request, self.ledger.head)
        return str(info.value)

    def sets(self, height: int) -> ValidatorSet | None:
        return read_validator_set(self.ledger.engine, height)

    def open_proposals(self, number: int) -> list[OpenProposal]:
        return read_open_proposals(self.ledger.engine, number)

    def members(self, height: int) -> set[bytes]:
        found = self.sets(height)
        assert found is not None
        return {v.address for v in found}


def test_genesis_set_is_read_from_the_contract(tmp_path: Path) -> None:
    chain = Chain(tmp_path)
    assert chain.sets(1) == ValidatorSet(Validator(a, 1) for a in ADDRESSES)
    assert chain.sets(2) == chain.sets(1)
    assert chain.sets(3) is None  # decided by block 1, not there yet


def test_more_than_two_thirds_remove_a_validator_two_heights_later(tmp_path: Path) -> None:
    chain = Chain(tmp_path)
    remove = vote_call(ADDRESSES[3], 0)
    h = chain.block(chain.tx(0, remove), chain.tx(1, remove))
    assert chain.statuses() == [1, 1]
    proposals = chain.open_proposals(h)
    assert [(p.address, p.power, p.tally, p.total) for p in proposals] == [(ADDRESSES[3], 0, 2, 4)]
    assert proposals[0].voters == (ADDRESSES[0], ADDRESSES[1])
    assert chain.members(h + 2) == set(ADDRESSES)  # 2 of 4 is not more than 2/3
    h = chain.block(chain.tx(2, remove))
    assert chain.open_proposals(h) == []
    assert chain.members(h + 1) == set(ADDRESSES)
    assert chain.members(h + 2) == set(ADDRESSES[:3])
    # From height h + 2 on the removed validator no longer votes (eth_call runs in the
    # context of the head block).
    chain.block()
    chain.block()
    assert "only a validator" in chain.revert_reason(3, vote_call(NEWCOMER, 5))
    add = vote_call(NEWCOMER, 5)
    chain.block(chain.tx(0, add))
    h = chain.block(chain.tx(1, add))
    assert chain.members(h + 2) == set(ADDRESSES[:3])  # 2 of 3 is not more than 2/3
    h = chain.block(chain.tx(2, add))
    following = chain.sets(h + 2)
    assert following is not None and following.power_of(NEWCOMER) == 5


def test_refusals_say_why(tmp_path: Path) -> None:
    chain = Chain(tmp_path)
    set_power = keccak256(b"vote_set_power(address,uint256)")[:4]
    zero_power = set_power + NEWCOMER.rjust(32, b"\0") + bytes(32)
    assert "voting power must be positive" in chain.revert_reason(0, zero_power)
    assert "not a validator" in chain.revert_reason(0, vote_call(NEWCOMER, 0))
    outsider = CallRequest(sender=NEWCOMER, to=GOVERNANCE_ADDRESS, data=vote_call(NEWCOMER, 1))
    with pytest.raises(PeerChainError, match="only a validator"):
        chain.ledger.engine.call(outsider, chain.ledger.head)


def test_a_set_left_with_no_power_is_refused(tmp_path: Path) -> None:
    chain = Chain(tmp_path)
    # Remove 3, 2 and 1 one by one (every member votes); the last one cannot go.
    for target in (3, 2, 1):
        chain.block(*(chain.tx(i, vote_call(ADDRESSES[target], 0)) for i in range(target + 1)))
        chain.block()
        chain.block()
    assert chain.members(chain.ledger.head.number + 1) == {ADDRESSES[0]}
    reason = chain.revert_reason(0, vote_call(ADDRESSES[0], 0))
    assert "no voting power" in reason


def test_proposals_expire_after_their_lifetime(tmp_path: Path) -> None:
    chain = Chain(tmp_path, GovernanceSettings(proposal_lifetime=3))
    opened = chain.block(chain.tx(0, vote_call(NEWCOMER, 1)))
    assert len(chain.open_proposals(opened)) == 1
    assert chain.open_proposals(opened)[0].expires == opened + 3
    chain.block()
    assert len(chain.open_proposals(chain.ledger.head.number)) == 1
    chain.block()
    assert chain.open_proposals(chain.ledger.head.number) == []
    # Votes after expiry start a new proposal: the old vote does not count.
    h = chain.block(chain.tx(1, vote_call(NEWCOMER, 1)), chain.tx(2, vote_call(NEWCOMER, 1)))
    assert [p.voters for p in chain.open_proposals(h)] == [(ADDRESSES[1], ADDRESSES[2])]


def _double_vote(signer: int, height: int = 7) -> DuplicateVote:
    key, address = KEYS[signer], ADDRESSES[signer]
    a = sign_vote(key, CHAIN_ID, VoteKind.PRECOMMIT, height, 0, b"\x01" * 32, validator=address)
    b = sign_vote(key, CHAIN_ID, VoteKind.PRECOMMIT, height, 0, None, validator=address)
    return DuplicateVote(a, b)


@pytest.mark.parametrize("jail", [True, False])
def test_double_sign_evidence_jails_unless_the_genesis_says_otherwise(
    tmp_path: Path, jail: bool
) -> None:
    chain = Chain(tmp_path, GovernanceSettings(jail_double_signers=jail))
    h = chain.block(chain.tx(0, evidence_call(evidence_record(_double_vote(2), 0))))
    assert chain.statuses() == [1]
    expected = set(ADDRESSES) - {ADDRESSES[2]} if jail else set(ADDRESSES)
    assert chain.members(h + 2) == expected
    assert chain.members(h + 1) == set(ADDRESSES)
    # The same evidence again is refused: one punishment per offence.
    assert "already punished" in chain.revert_reason(
        1, evidence_call(evidence_record(_double_vote(2), 0))
    )


def test_evidence_that_proves_nothing_is_refused(tmp_path: Path) -> None:
    chain = Chain(tmp_path)
    one, other = _double_vote(1), _double_vote(2)
    mixed = DuplicateVote(one.first, other.second)
    assert "different validators" in chain.revert_reason(
        0, evidence_call(evidence_record(mixed, 0))
    )
    same = DuplicateVote(one.first, one.first)
    assert "the same" in chain.revert_reason(0, evidence_call(evidence_record(same, 0)))
    h = chain.block()
    assert chain.members(h + 2) == set(ADDRESSES)


def test_the_node_reporter_sends_evidence_once_and_the_offender_is_jailed(
    tmp_path: Path,
) -> None:
    chain = Chain(tmp_path)
    reporter = EvidenceReporter(KEYS[1], CHAIN_ID)
    evidence = _double_vote(3, height=4)
    tx = reporter.report(
        evidence_record(evidence, 0), nonce=0, base_fee=chain.ledger.next_base_fee()
    )
    assert tx is not None
    assert (
        reporter.report(evidence_record(evidence, 0), nonce=1, base_fee=10**9) is None
    )  # reported once
    h = chain.block(tx)
    assert chain.statuses() == [1]
    assert chain.members(h + 2) == set(ADDRESSES[:3])


def test_double_proposal_evidence_jails_the_proposer(tmp_path: Path) -> None:
    chain = Chain(tmp_path)
    key, address = KEYS[2], ADDRESSES[2]
    p, q = (
        sign_proposal(key, CHAIN_ID, 9, 1, pol, BlockValue(bytes([b]) * 32, b""), proposer=address)
        for pol, b in ((-1, 5), (0, 6))
    )
    h = chain.block(chain.tx(0, evidence_call(evidence_record(DuplicateProposal(p, q), 0))))
    assert chain.statuses() == [1]
    assert chain.members(h + 2) == set(ADDRESSES) - {address}
