# pragma version ^0.4.0
"""
A members' treasury run by vote.

Members (fixed at deployment, each with a voting weight) propose payments out of the
contract's ether, vote for or against each proposal until its deadline, and after the
deadline anyone executes a proposal that passed: more weight for than against, and at
least `quorum` weight voted in all. Anyone may send ether to the treasury.
"""

MAX_MEMBERS: constant(uint256) = 64

struct Proposal:
    proposer: address
    recipient: address
    amount: uint256
    description: String[200]
    deadline: uint256
    votes_for: uint256
    votes_against: uint256
    executed: bool

event Deposited:
    sender: indexed(address)
    amount: uint256

event Proposed:
    proposal_id: indexed(uint256)
    proposer: indexed(address)
    recipient: address
    amount: uint256
    description: String[200]
    deadline: uint256

event Voted:
    proposal_id: indexed(uint256)
    voter: indexed(address)
    support: bool
    weight: uint256

event Executed:
    proposal_id: indexed(uint256)
    recipient: indexed(address)
    amount: uint256

weight: public(HashMap[address, uint256])
total_weight: public(uint256)
quorum: public(uint256)
voting_period: public(uint256)
proposal_count: public(uint256)
proposals: public(HashMap[uint256, Proposal])
has_voted: public(HashMap[uint256, HashMap[address, bool]])


@deploy
def __init__(
    members: DynArray[address, MAX_MEMBERS],
    weights: DynArray[uint256, MAX_MEMBERS],
    quorum: uint256,
    voting_period: uint256,
):
    assert len(members) == len(weights), "members and weights differ in length"
    for i: uint256 in range(MAX_MEMBERS):
        if i == len(members):
            break
        assert weights[i] > 0, "a member needs a weight"
        assert self.weight[members[i]] == 0, "member listed twice"
        self.weight[members[i]] = weights[i]
        self.total_weight += weights[i]
    assert quorum <= self.total_weight, "quorum above the total weight"
    self.quorum = quorum
    self.voting_period = voting_period


@external
@payable
def __default__():
    log Deposited(sender=msg.sender, amount=msg.value)


@external
def propose(recipient: address, amount: uint256, description: String[200]) -> uint256:
    """Open a vote on paying `amount` wei to `recipient`; returns the proposal id."""
    assert self.weight[msg.sender] > 0, "only members propose"
    proposal_id: uint256 = self.proposal_count + 1
    self.proposal_count = proposal_id
    deadline: uint256 = block.timestamp + self.voting_period
    self.proposals[proposal_id] = Proposal(
        proposer=msg.sender,
        recipient=recipient,
        amount=amount,
        description=description,
        deadline=deadline,
        votes_for=0,
        votes_against=0,
        executed=False,
    )
    log Proposed(
        proposal_id=proposal_id,
        proposer=msg.sender,
        recipient=recipient,
        amount=amount,
        description=description,
        deadline=deadline,
    )
    return proposal_id


@external
def vote(proposal_id: uint256, support: bool):
    """Vote with all of the caller's weight, once per proposal, before its deadline."""
    weight: uint256 = self.weight[msg.sender]
    assert weight > 0, "only members vote"
    assert self.proposals[proposal_id].deadline != 0, "no such proposal"
    assert block.timestamp < self.proposals[proposal_id].deadline, "voting is over"
    assert not self.has_voted[proposal_id][msg.sender], "already voted"
    self.has_voted[proposal_id][msg.sender] = True
    if support:
        self.proposals[proposal_id].votes_for += weight
    else:
        self.proposals[proposal_id].votes_against += weight
    log Voted(proposal_id=proposal_id, voter=msg.sender, support=support, weight=weight)


@internal
@view
def _passed(proposal_id: uint256) -> bool:
    p: Proposal = self.proposals[proposal_id]
    return p.votes_for > p.votes_against and p.votes_for + p.votes_against >= self.quorum


@external
@view
def state(proposal_id: uint256) -> String[8]:
    """Active, Passed, Rejected or Executed."""
    p: Proposal = self.proposals[proposal_id]
    assert p.deadline != 0, "no such proposal"
    if p.executed:
        return "Executed"
    if block.timestamp < p.deadline:
        return "Active"
    if self._passed(proposal_id):
        return "Passed"
    return "Rejected"


@external
def execute(proposal_id: uint256):
    """Pay out a proposal that passed, once its voting period is over."""
    p: Proposal = self.proposals[proposal_id]
    assert p.deadline != 0, "no such proposal"
    assert block.timestamp >= p.deadline, "voting is still open"
    assert not p.executed, "already executed"
    assert self._passed(proposal_id), "proposal did not pass"
    assert self.balance >= p.amount, "treasury too small"
    self.proposals[proposal_id].executed = True
    send(p.recipient, p.amount)
    log Executed(proposal_id=proposal_id, recipient=p.recipient, amount=p.amount)
