# pragma version 0.4.3
# pragma evm-version cancun
"""
@title PeerChain validator governance
@notice The system contract that a PeerChain genesis predeploys at
        0x0000000000000000000000000000000000001000. It holds the validator set and
        the open proposals to change it. A validator votes with an ordinary
        transaction from its validator key; once validators holding more than 2/3 of
        the current power voted for the same change, it takes effect at the height
        two blocks after the one that decided it. A proposal that has not gathered
        its quorum `lifetime` blocks after it was opened expires. Double-sign
        evidence (two conflicting signed votes or proposals of one validator) removes
        the offender the same way, unless the genesis switched jailing off.
        Nodes read the set of height H with `validators_at(H)` on the state of block
        H - 2 (or any later state).
"""

MAX_VALIDATORS: constant(uint256) = 64
MAX_SCHEDULED: constant(uint256) = 16
MAX_PROPOSALS: constant(uint256) = 16
MAX_TOTAL_POWER: constant(uint256) = 65536
ACTIVATION_DELAY: constant(uint256) = 2
DOMAIN: constant(Bytes[21]) = b"\x19PeerChain consensus:"
PROPOSAL_KIND: constant(uint256) = 32


struct Member:
    addr: address
    power: uint256


struct Change:
    activation: uint256
    addr: address
    power: uint256


struct Proposal:
    addr: address
    power: uint256
    opened: uint256
    voters: DynArray[address, MAX_VALIDATORS]


struct OpenProposal:
    addr: address
    power: uint256
    opened: uint256
    expires: uint256
    voters: DynArray[address, MAX_VALIDATORS]
    tally: uint256
    total: uint256


event Voted:
    voter: indexed(address)
    addr: indexed(address)
    power: uint256
    tally: uint256
    total: uint256


event Decided:
    addr: indexed(address)
    power: uint256
    activation: uint256


event Jailed:
    offender: indexed(address)
    height: uint256
    round: uint256
    activation: uint256


# The genesis writes the first three: see core/governance.py for the slots.
members: DynArray[Member, MAX_VALIDATORS]
lifetime: public(uint256)
jail_double_signers: public(bool)
scheduled: DynArray[Change, MAX_SCHEDULED]
proposals: DynArray[Proposal, MAX_PROPOSALS]
punished: HashMap[address, uint256]


@internal
@view
def _set_at(height: uint256) -> DynArray[Member, MAX_VALIDATORS]:
    result: DynArray[Member, MAX_VALIDATORS] = self.members
    for change: Change in self.scheduled:
        if change.activation <= height:
            result = self._applied(result, change.addr, change.power)
    return result


@internal
@pure
def _applied(
    current: DynArray[Member, MAX_VALIDATORS], addr: address, power: uint256
) -> DynArray[Member, MAX_VALIDATORS]:
    result: DynArray[Member, MAX_VALIDATORS] = []
    found: bool = False
    for member: Member in current:
        if member.addr == addr:
            found = True
            if power > 0:
                result.append(Member(addr=addr, power=power))
        else:
            result.append(member)
    if not found and power > 0:
        assert len(result) < MAX_VALIDATORS, "the validator set is full"
        result.append(Member(addr=addr, power=power))
    return result


@internal
@pure
def _power_of(current: DynArray[Member, MAX_VALIDATORS], addr: address) -> uint256:
    for member: Member in current:
        if member.addr == addr:
            return member.power
    return 0


@internal
@pure
def _total(current: DynArray[Member, MAX_VALIDATORS]) -> uint256:
    total: uint256 = 0
    for member: Member in current:
        total += member.power
    return total


@internal
def _settle():
    """Fold the changes active at this block into `members`; drop expired proposals."""
    current: DynArray[Member, MAX_VALIDATORS] = self.members
    pending: DynArray[Change, MAX_SCHEDULED] = []
    for change: Change in self.scheduled:
        if change.activation <= block.number:
            current = self._applied(current, change.addr, change.power)
        else:
            pending.append(change)
    self.members = current
    self.scheduled = pending
    kept: DynArray[Proposal, MAX_PROPOSALS] = []
    for proposal: Proposal in self.proposals:
        if block.number < proposal.opened + self.lifetime:
            kept.append(proposal)
    self.proposals = kept


@internal
def _schedule(addr: address, power: uint256) -> uint256:
    """Decide a change: it signs from two blocks on. Reverts if it leaves no power."""
    assert len(self.scheduled) < MAX_SCHEDULED, "too many changes waiting to take effect"
    after: DynArray[Member, MAX_VALIDATORS] = self._applied(
        self._set_at(max_value(uint256)), addr, power
    )
    assert len(after) > 0, "the change would leave the validator set with no voting power"
    assert self._total(after) <= MAX_TOTAL_POWER, "the total voting power would exceed 65536"
    activation: uint256 = block.number + ACTIVATION_DELAY
    self.scheduled.append(Change(activation=activation, addr=addr, power=power))
    return activation


@internal
def _vote(addr: address, power: uint256):
    self._settle()
    current: DynArray[Member, MAX_VALIDATORS] = self.members
    mine: uint256 = self._power_of(current, msg.sender)
    assert mine > 0, "only a validator of the current set may vote"
    assert addr != empty(address), "the zero address cannot be a validator"
    index: uint256 = max_value(uint256)
    for i: uint256 in range(MAX_PROPOSALS):
        if i >= len(self.proposals):
            break
        if self.proposals[i].addr == addr and self.proposals[i].power == power:
            index = i
            break
    if index == max_value(uint256):
        assert len(self.proposals) < MAX_PROPOSALS, "too many open proposals"
        self.proposals.append(Proposal(addr=addr, power=power, opened=block.number, voters=[]))
        index = len(self.proposals) - 1
    assert msg.sender not in self.proposals[index].voters, "this validator already voted for it"
    self.proposals[index].voters.append(msg.sender)
    tally: uint256 = 0
    for voter: address in self.proposals[index].voters:
        tally += self._power_of(current, voter)
    total: uint256 = self._total(current)
    log Voted(voter=msg.sender, addr=addr, power=power, tally=tally, total=total)
    if 3 * tally > 2 * total:
        activation: uint256 = self._schedule(addr, power)
        last: Proposal = self.proposals.pop()
        if index < len(self.proposals):
            self.proposals[index] = last
        log Decided(addr=addr, power=power, activation=activation)


@external
def vote_set_power(addr: address, power: uint256):
    """
    @notice Vote to add `addr` with `power`, or to change its power to `power`.
    """
    assert power > 0, "voting power must be positive (to remove a validator, vote_remove)"
    assert power <= MAX_TOTAL_POWER, "voting power above 65536"
    self._vote(addr, power)


@external
def vote_remove(addr: address):
    """
    @notice Vote to remove `addr` from the validator set.
    """
    assert self._power_of(self._set_at(max_value(uint256)), addr) > 0, "not a validator"
    self._vote(addr, 0)


@internal
@view
def _vote_digest(kind: uint256, height: uint256, round: uint256, hash: bytes32) -> bytes32:
    nil: Bytes[1] = b"\x01"
    if hash == empty(bytes32):
        nil = b"\x00"
    return keccak256(
        concat(
            DOMAIN,
            slice(convert(kind, bytes32), 31, 1),
            slice(convert(chain.id, bytes32), 24, 8),
            slice(convert(height, bytes32), 24, 8),
            slice(convert(round, bytes32), 28, 4),
            nil,
            hash,
        )
    )


@internal
@view
def _proposal_digest(height: uint256, round: uint256, pol_round: int256, hash: bytes32) -> bytes32:
    return keccak256(
        concat(
            DOMAIN,
            b"\x20",
            slice(convert(chain.id, bytes32), 24, 8),
            slice(convert(height, bytes32), 24, 8),
            slice(convert(round, bytes32), 28, 4),
            slice(convert(pol_round, bytes32), 28, 4),
            hash,
        )
    )


struct Signature:
    r: bytes32
    s: bytes32
    y_parity: uint256


@internal
@pure
def _signer(digest: bytes32, signature: Signature) -> address:
    assert signature.y_parity < 2, "y parity is 0 or 1"
    signer: address = ecrecover(digest, signature.y_parity + 27, signature.r, signature.s)
    assert signer != empty(address), "bad signature"
    return signer


@internal
def _jail(offender: address, height: uint256, round: uint256):
    self._settle()
    assert height > self.punished[offender], "already punished at this height or a later one"
    self.punished[offender] = height
    activation: uint256 = 0
    if self.jail_double_signers and self._power_of(self._set_at(max_value(uint256)), offender) > 0:
        activation = self._schedule(offender, 0)
    log Jailed(offender=offender, height=height, round=round, activation=activation)


@external
def report_double_vote(
    kind: uint256,
    height: uint256,
    round: uint256,
    hash_a: bytes32,
    signature_a: Signature,
    hash_b: bytes32,
    signature_b: Signature,
):
    """
    @notice Evidence: one validator signed two different votes (hash 0 for nil) of one
            kind (1 prevote, 2 precommit), height and round. Anyone may send it.
    """
    assert kind == 1 or kind == 2, "kind is 1 (prevote) or 2 (precommit)"
    assert hash_a != hash_b, "the votes are the same"
    offender: address = self._signer(self._vote_digest(kind, height, round, hash_a), signature_a)
    other: address = self._signer(self._vote_digest(kind, height, round, hash_b), signature_b)
    assert offender == other, "the votes are signed by different validators"
    self._jail(offender, height, round)


@external
def report_double_proposal(
    height: uint256,
    round: uint256,
    pol_round_a: int256,
    hash_a: bytes32,
    signature_a: Signature,
    pol_round_b: int256,
    hash_b: bytes32,
    signature_b: Signature,
):
    """
    @notice Evidence: one proposer signed proposals of two different blocks for one
            height and round. Anyone may send it.
    """
    assert hash_a != hash_b, "the proposals are for the same block"
    digest_a: bytes32 = self._proposal_digest(height, round, pol_round_a, hash_a)
    digest_b: bytes32 = self._proposal_digest(height, round, pol_round_b, hash_b)
    offender: address = self._signer(digest_a, signature_a)
    assert offender == self._signer(digest_b, signature_b), "signed by different proposers"
    self._jail(offender, height, round)


@external
@view
def validators_at(height: uint256) -> DynArray[Member, MAX_VALIDATORS]:
    """
    @notice The validator set of `height`, as far as this state has decided it (the
            state of block H - 2 or later knows the set of H).
    """
    return self._set_at(height)


@external
@view
def validators() -> DynArray[Member, MAX_VALIDATORS]:
    """
    @notice The set that signs the next block.
    """
    return self._set_at(block.number + 1)


@external
@view
def open_proposals() -> DynArray[OpenProposal, MAX_PROPOSALS]:
    """
    @notice The proposals still open at the next block, with their tally in the
            power of the set that signs it.
    """
    current: DynArray[Member, MAX_VALIDATORS] = self._set_at(block.number + 1)
    total: uint256 = self._total(current)
    result: DynArray[OpenProposal, MAX_PROPOSALS] = []
    for proposal: Proposal in self.proposals:
        expires: uint256 = proposal.opened + self.lifetime
        if block.number + 1 < expires:
            tally: uint256 = 0
            for voter: address in proposal.voters:
                tally += self._power_of(current, voter)
            result.append(
                OpenProposal(
                    addr=proposal.addr,
                    power=proposal.power,
                    opened=proposal.opened,
                    expires=expires,
                    voters=proposal.voters,
                    tally=tally,
                    total=total,
                )
            )
    return result
