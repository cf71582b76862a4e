"""The safety checks of a simulated cluster, run after every message a node handles.

Over the correct nodes:

- agreement: no two of them commit different blocks at one height, and every one holds
  the same validator set for every height (the set a block fixes, two heights on);
- validity: every committed block was proposed on the network, executes on the state of
  its parent, and carries a certificate of more than 2/3 of the power of its height's
  validator set;
- monotonic heights: a node's chain only grows, one height at a time, and its machine
  works on the height after its last commit;
- accountability: evidence a correct node reports is properly signed and names a
  faulty validator, never a correct one;
- no correct node halts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from peerchain.core.consensus.certificate import verify_certificate
from peerchain.core.consensus.messages import InvalidMessage, proposal_signer, vote_signer
from peerchain.core.consensus.validators import ACTIVATION_DELAY, SetHistory, ValidatorSet
from peerchain.core.consensus.votes import DuplicateProposal, DuplicateVote, Evidence
from peerchain.testing.kvstore import execute_kv_block, set_changes
from peerchain.testing.simnode import SimNode


class InvariantChecker:
    """Collects violations (as sentences) instead of raising, so a run can report them."""

    def __init__(
        self,
        nodes: Sequence[SimNode],
        correct: frozenset[int],
        validators: ValidatorSet,
        chain_id: int,
        proposed: Mapping[bytes, object],
    ) -> None:
        self.violations: list[str] = []
        self._nodes = nodes
        self._correct = correct
        self._faulty_addresses = {n.address for n in nodes if n.index not in correct}
        self._sets = SetHistory(validators)
        self._chain_id = chain_id
        self._proposed = proposed
        self._decided: dict[int, tuple[bytes, int]] = {}
        self._states: dict[int, dict[bytes, bytes]] = {0: {}}
        self._checked = [0] * len(nodes)
        self._evidence_checked = [0] * len(nodes)

    def check(self, node: SimNode) -> None:
        """Check what changed at `node` since its last check."""
        i = node.index
        if i not in self._correct:
            return
        chain = node.disk.chain
        if len(chain) < self._checked[i]:
            self._fail(f"monotonic: node {i}'s chain shrank to {len(chain)}")
        for height in range(self._checked[i] + 1, len(chain) + 1):
            self._check_commit(i, height)
        self._checked[i] = len(chain)
        if node.machine is not None and not node.syncing and node.machine.height != len(chain) + 1:
            self._fail(f"monotonic: node {i} works on {node.machine.height} after {len(chain)}")
        for evidence in node.evidence[self._evidence_checked[i] :]:
            self._check_evidence(i, evidence)
        self._evidence_checked[i] = len(node.evidence)
        if node.halted is not None:
            self._fail(f"node {i} halted: {node.halted}")

    def _check_commit(self, i: int, height: int) -> None:
        chain = self._nodes[i].disk.chain
        block, certificate = chain[height - 1]
        first = self._decided.setdefault(height, (block.hash, i))
        if first[0] != block.hash:
            self._fail(
                f"agreement: at height {height} node {first[1]} committed {first[0].hex()[:12]}"
                f" and node {i} committed {block.hash.hex()[:12]}"
            )
            return
        if block.hash not in self._proposed:
            self._fail(f"validity: node {i} committed {block.hash.hex()[:12]}, never proposed")
        parent = chain[height - 2][0].hash if height > 1 else bytes(32)
        if height not in self._states:
            result = execute_kv_block(block, height, parent, self._states[height - 1])
            if result is None:
                self._fail(f"validity: node {i} committed an invalid block at {height}")
                return
            self._states[height] = result[1]
            self._sets.committed(height, set_changes(result[0]))
        following = height + ACTIVATION_DELAY
        if self._nodes[i].disk.sets.at(following) != self._sets.at(following):
            self._fail(f"agreement: node {i} has another validator set for height {following}")
        if (certificate.height, certificate.block_hash) != (height, block.hash):
            self._fail(f"validity: node {i}'s certificate at {height} is for another block")
        validators = self._sets.at(height)
        assert validators is not None  # fixed when height - 2 was checked
        try:
            verify_certificate(certificate, validators, self._chain_id)
        except InvalidMessage as exc:
            self._fail(f"validity: node {i}'s certificate at {height}: {exc}")

    def _check_evidence(self, i: int, evidence: Evidence) -> None:
        try:
            if isinstance(evidence, DuplicateVote):
                a, b = evidence.first, evidence.second
                signers = {vote_signer(self._chain_id, a), vote_signer(self._chain_id, b)}
                same_slot = (a.height, a.round, a.kind) == (b.height, b.round, b.kind)
                conflicting = a.block_hash != b.block_hash
            else:
                assert isinstance(evidence, DuplicateProposal)
                p, q = evidence.first, evidence.second
                signers = {proposal_signer(self._chain_id, p), proposal_signer(self._chain_id, q)}
                same_slot = (p.height, p.round) == (q.height, q.round)
                conflicting = p.block.hash != q.block.hash
        except InvalidMessage as exc:
            self._fail(f"accountability: node {i} reported badly signed evidence: {exc}")
            return
        if len(signers) != 1 or not same_slot or not conflicting:
            self._fail(f"accountability: node {i} reported evidence that proves nothing")
        elif not signers <= self._faulty_addresses:
            self._fail(f"accountability: node {i} reported evidence against a correct validator")

    def _fail(self, sentence: str) -> None:
        self.violations.append(sentence)
