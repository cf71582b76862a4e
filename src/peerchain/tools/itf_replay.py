"""Replay Tendermint model traces into the consensus machine, comparing after every step.

    python -m peerchain.tools.itf_replay TRACE.itf.json[.gz]... [--valid v0,v1]

A trace is ITF JSON (Apalache/Quint) of the TendermintAcc model (Quint's
`examples/cosmos/tendermint`): one height, processes with voting power 1, faulty
processes' messages injected at `Init`, and per state each correct process's `round`,
`step`, `lockedValue`/`lockedRound`, `validValue`/`validRound` and `decision`, the
messages sent so far (`msgsPropose`, `msgsPrevote`, `msgsPrecommit`), the messages
correct processes have acted on (`evidence*`) and the action that fired.

Each correct process becomes a real `ConsensusMachine` (height 1). Keys are assigned so
that the processes sorted by name are the validators sorted by address; the machine's
weighted round-robin with equal power then gives the model's proposer function
(round r: the (r mod n)-th process) and a step where another process proposes is
reported. Per step, the adapter finds the process that acted, delivers to it exactly the
messages the action uses, answers the application (valid values: `--valid`), fires the
timeout the action stands for (the model folds "schedule timeout" and "timeout expired"
into one action, so the machine must have scheduled it), then compares every correct
process's state and checks that the messages the machine broadcast are the ones the
model added. Faulty processes' messages are signed with their keys as the model lists
them.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peerchain.core.consensus.events import (
    BlockPrepared,
    Broadcast,
    CommitBlock,
    Event,
    PrepareBlock,
    ProposalReceived,
    ProposalValidated,
    ScheduleTimeout,
    Started,
    Timeout,
    TimeoutFired,
    TimeoutKind,
    ValidateBlock,
    VoteReceived,
)
from peerchain.core.consensus.machine import ConsensusMachine, Step
from peerchain.core.consensus.messages import (
    BlockValue,
    InvalidMessage,
    Proposal,
    Vote,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.genesis import ConsensusTimeouts, Validator
from peerchain.tools.itf import (
    ModelProposal,
    ModelState,
    ModelVote,
    TraceError,
    View,
    load_trace,
)

NIL = "None"
HEIGHT = 1
CHAIN_ID = 1


# --- the adapter ------------------------------------------------------------------------


@dataclass
class StepReport:
    index: int
    action: str
    actor: str | None
    problems: list[str] = field(default_factory=list)
    diverged: str | None = None  # the model took another order of enabled rules


_STEP_NAMES = {Step.PROPOSE: "propose", Step.PREVOTE: "prevote", Step.PRECOMMIT: "precommit"}
_TIMEOUT_OF_ACTION = {
    "OnTimeoutPropose": TimeoutKind.PROPOSE,
    "UponQuorumOfPrevotesAny": TimeoutKind.PREVOTE,
    "UponQuorumOfPrecommitsAny": TimeoutKind.PRECOMMIT,
}


class Replay:
    """Machines for the correct processes of a trace, driven step by step."""

    def __init__(self, first: ModelState, valid_values: Iterable[str]) -> None:
        self.correct = sorted(first.views)
        groups: tuple[frozenset[ModelProposal] | frozenset[ModelVote], ...] = (
            first.proposals,
            first.prevotes,
            first.precommits,
        )
        faulty = {m.src for group in groups for m in group}
        processes: list[str] = sorted(set(self.correct) | faulty)
        keys = sorted(
            (keccak256(b"itf replay %d" % i) for i in range(len(processes))),
            key=private_key_to_address,
        )
        self.keys: dict[str, bytes] = dict(zip(processes, keys, strict=True))
        self.by_address: dict[bytes, str] = {
            private_key_to_address(k): p for p, k in self.keys.items()
        }
        self.processes = processes
        self.quorum = 2 * ((len(processes) - 1) // 3) + 1
        self.validators = ValidatorSet(Validator(private_key_to_address(k), 1) for k in keys)
        self.valid = set(valid_values)
        self.names: dict[bytes, str] = {}
        self.machines = {
            p: ConsensusMachine(
                chain_id=CHAIN_ID,
                validators=self.validators,
                timeouts=ConsensusTimeouts(),
                height=HEIGHT,
                private_key=self.keys[p],
            )
            for p in self.correct
        }
        self.sent: dict[str, list[Proposal | Vote]] = {p: [] for p in self.correct}
        self.timeouts: dict[str, dict[tuple[int, TimeoutKind], Timeout]] = {
            p: {} for p in self.correct
        }
        self.prepare: dict[str, int | None] = dict.fromkeys(self.correct)
        self.decided: dict[str, View] = {}
        self.now = 0.0
        for p in self.correct:
            self._feed(p, Started())

    # values, names and messages

    def block(self, name: str) -> BlockValue:
        data = name.encode()
        block = BlockValue(keccak256(data), data)
        self.names[block.hash] = name
        return block

    def name(self, block_hash: bytes | None) -> str:
        return NIL if block_hash is None else self.names[block_hash]

    def proposer(self, round: int) -> str:
        return self.by_address[self.validators.proposer(HEIGHT, round)]

    def _signed(self, m: ModelProposal | ModelVote, kind: VoteKind | None) -> Proposal | Vote:
        if m.src in self.correct:
            for own in self.sent[m.src]:
                if self._describes(own) == (m, kind):
                    return own
            raise AssertionError(f"{m.src}'s machine never sent {m}")
        key = self.keys[m.src]
        if isinstance(m, ModelProposal):
            return sign_proposal(key, CHAIN_ID, HEIGHT, m.round, m.valid_round, self.block(m.value))
        assert kind is not None
        block_hash = None if m.value == NIL else self.block(m.value).hash
        return sign_vote(key, CHAIN_ID, kind, HEIGHT, m.round, block_hash)

    def _describes(self, message: Proposal | Vote) -> tuple[ModelProposal | ModelVote, Any]:
        if isinstance(message, Proposal):
            m = message
            src = self.by_address[m.proposer]
            return ModelProposal(src, m.round, self.name(m.block.hash), m.pol_round), None
        v = message
        return ModelVote(self.by_address[v.validator], v.round, self.name(v.block_hash)), v.kind

    # feeding machines

    def _feed(self, p: str, event: Event) -> None:
        self.now += 1.0
        before = self.view(p)
        for output in self.machines[p].handle(event, self.now):
            match output:
                case Broadcast(message):
                    self.sent[p].append(message)
                case ScheduleTimeout(timeout):
                    self.timeouts[p][(timeout.round, timeout.kind)] = timeout
                case PrepareBlock(_, round):
                    self.prepare[p] = round
                case ValidateBlock(height, block):
                    valid = self.names.get(block.hash) in self.valid
                    self._feed(p, ProposalValidated(height, block, valid))
                case CommitBlock(_, block, _):
                    # The model keeps a decided process's variables; the machine has
                    # moved to the next height, so keep them as they were.
                    decision = self.name(block.hash)
                    self.decided[p] = before._replace(step="decided", decision=decision)

    def deliver(self, p: str, messages: Iterable[tuple[ModelProposal | ModelVote, Any]]) -> None:
        """Feed model messages to `p`'s machine. A faulty message our protocol cannot
        express (a proposal citing a round not before its own) is left out, and one the
        machine refuses (a proposal from a non-proposer) changes nothing."""
        for m, kind in sorted(messages, key=repr):
            try:
                signed = self._signed(m, kind)
            except ValueError:
                continue
            event = (
                ProposalReceived(signed) if isinstance(signed, Proposal) else VoteReceived(signed)
            )
            with contextlib.suppress(InvalidMessage):
                self._feed(p, event)

    # one step

    def step(self, index: int, before: ModelState, after: ModelState) -> StepReport:
        actor = _actor(before, after)
        report = StepReport(index, after.action, actor)
        if actor is not None:
            sent_before = len(self.sent[actor])
            try:
                self._act(actor, before, after)
            except AssertionError as exc:
                report.problems.append(str(exc))
            report.problems += self._check_sent(actor, before, after, sent_before)
        report.problems += self._compare(after)
        if report.problems and actor is not None:
            report.diverged = self._other_order(actor, before)
        return report

    def _other_order(self, p: str, before: ModelState) -> str | None:
        """When the model fired a timeout-like action while a stronger rule was enabled
        for `p` too (Tendermint allows either), the eager machine fires the stronger one.
        Name it if the machine's state is exactly that rule's effect in the model."""
        view, got, r = before.views[p], self.view(p), before.views[p].round

        def proposed(round: int, value: str) -> bool:
            return any(
                (m.round, m.value, m.src) == (round, value, self.proposer(round))
                for m in before.proposals
            )

        if got.step == "decided":
            v = got.decision
            rounds = {m.round for m in before.precommits if m.value == v}
            if (
                any(
                    proposed(rr, v) and len(_senders(before.precommits, rr, v)) >= self.quorum
                    for rr in rounds
                )
                and view.decision == NIL
            ):
                return f"the model left decision {v} for later; the machine decided"
        elif (
            view.step == "prevote"
            and got.locked_round == r
            and got.locked_value in self.valid
            and proposed(r, got.locked_value)
            and len(_senders(before.prevotes, r, got.locked_value)) >= self.quorum
        ):
            return f"the model timed out while {got.locked_value} had a polka; the machine locked"
        return None

    def _act(self, p: str, before: ModelState, after: ModelState) -> None:
        action = after.action
        r = before.views[p].round
        view = after.views[p]
        if action == "InsertProposal":
            assert p == self.proposer(r), f"model proposer {p} is not ours for round {r}"
            (new,) = after.proposals - before.proposals
            if self.prepare[p] == r:
                self._feed(p, BlockPrepared(HEIGHT, r, self.block(new.value)))
            return
        if action in ("UponProposalInPropose", "UponProposalInProposeAndPrevote"):
            prevote = _new_from(after.prevotes - before.prevotes, p)
            candidates = [
                m
                for m in before.proposals
                if m.round == r
                and m.src == self.proposer(r)
                and (m.valid_round == -1) == (action == "UponProposalInPropose")
                and (prevote.value == NIL or m.value == prevote.value)
                and (m.valid_round == -1 or len(_senders(before.prevotes, m.valid_round, m.value))
                     >= self.quorum)
            ]  # fmt: skip
            proposal = _choose(candidates, after.used_proposals - before.used_proposals)
            self.deliver(p, [(proposal, None)])
            if proposal.valid_round >= 0:
                self._deliver_votes(p, before.prevotes, VoteKind.PREVOTE, proposal.valid_round,
                                    proposal.value)  # fmt: skip
            return
        if action == "UponProposalInPrevoteOrCommitAndPrevote":
            proposal = _choose(
                [m for m in before.proposals
                 if m.round == r and m.src == self.proposer(r) and m.value == view.valid_value],
                after.used_proposals - before.used_proposals,
            )  # fmt: skip
            self.deliver(p, [(proposal, None)])
            self._deliver_votes(p, before.prevotes, VoteKind.PREVOTE, r, proposal.value)
            return
        if action == "UponProposalInPrecommitNoDecision":
            candidates = [
                m
                for m in before.proposals
                if m.src == self.proposer(m.round)
                and m.value == view.decision
                and len(_senders(before.precommits, m.round, m.value)) >= self.quorum
            ]
            proposal = _choose(candidates, after.used_proposals - before.used_proposals)
            self.deliver(p, [(proposal, None)])
            self._deliver_votes(p, before.precommits, VoteKind.PRECOMMIT, proposal.round,
                                proposal.value)  # fmt: skip
            return
        if action == "OnQuorumOfNilPrevotes":
            self._deliver_votes(p, before.prevotes, VoteKind.PREVOTE, r, NIL)
            return
        if action == "UponQuorumOfPrevotesAny":
            used = self._any_quorum(r, before.prevotes, before.used_prevotes, after.used_prevotes)
            self.deliver(p, [(m, VoteKind.PREVOTE) for m in used])
        elif action == "UponQuorumOfPrecommitsAny":
            used = self._any_quorum(
                r, before.precommits, before.used_precommits, after.used_precommits
            )
            self.deliver(p, [(m, VoteKind.PRECOMMIT) for m in used])
        elif action == "OnRoundCatchup":
            self._catch_up(p, before, after)
            return
        kind = _TIMEOUT_OF_ACTION.get(action)
        if kind is None:
            raise AssertionError(f"unknown action {action}")
        timeout = self.timeouts[p].pop((r, kind), None)
        assert timeout is not None, f"{action}: the machine of {p} did not schedule it"
        self._feed(p, TimeoutFired(timeout))

    def _any_quorum(
        self,
        round: int,
        sent: frozenset[ModelVote],
        used_before: frozenset[ModelVote],
        used_after: frozenset[ModelVote],
    ) -> list[ModelVote]:
        """Votes of `round` from 2f+1 senders, as the model's action may have used them:
        those it newly marked as used, then others it marked, avoiding 2f+1 for one value
        where possible (with those, the machine would rightly fire another rule first)."""
        quorum = self.quorum
        pool = sorted(m for m in used_after & sent if m.round == round)
        fresh = [m for m in pool if m not in used_before]
        chosen = list(fresh)
        for avoid_value_quorum in (True, False):
            for m in pool:
                senders = {c.src for c in chosen}
                if len(senders) >= quorum:
                    return chosen
                if m in chosen or m.src in senders:
                    continue
                completes = len(_senders(frozenset(chosen), round, m.value)) + 1 >= quorum
                if avoid_value_quorum and m.value != NIL and completes:
                    continue
                chosen.append(m)
        return chosen

    def _deliver_votes(
        self, p: str, pool: frozenset[ModelVote], kind: VoteKind, round: int, value: str
    ) -> None:
        self.deliver(p, [(m, kind) for m in pool if (m.round, m.value) == (round, value)])

    def _catch_up(self, p: str, before: ModelState, after: ModelState) -> None:
        """OnRoundCatchup: f+1 processes sent something of a higher round. What counts is
        who sent; the model also counts a faulty process's proposal for a round it does
        not propose, which our machine refuses, so each sender is represented by a
        message of that round the machine accepts, votes first."""
        target = after.views[p].round
        used = after.used_proposals | after.used_prevotes | after.used_precommits
        fresh = used - before.used_proposals - before.used_prevotes - before.used_precommits
        offers: list[tuple[ModelProposal | ModelVote, Any]] = [
            *((m, VoteKind.PREVOTE) for m in sorted(before.prevotes)),
            *((m, VoteKind.PRECOMMIT) for m in sorted(before.precommits)),
            *((m, None) for m in sorted(before.proposals) if m.src == self.proposer(m.round)),
        ]
        senders = sorted({m.src for m in used if m.round == target},
                         key=lambda src: (all(m.src != src for m in fresh), src))  # fmt: skip
        for sender in senders:
            if self.machines[p].round == target:
                break
            for message in offers:
                if (message[0].src, message[0].round) == (sender, target):
                    self.deliver(p, [message])
                    break

    # checks

    def _check_sent(self, p: str, before: ModelState, after: ModelState, start: int) -> list[str]:
        """The votes the machine sent in this step are the model's new ones; a proposal
        the model inserts is one the machine sent, now or when it entered the round (the
        paper proposes a valid value right away; the model inserts it as a later step)."""
        model_votes = {
            *((m, VoteKind.PREVOTE) for m in after.prevotes - before.prevotes if m.src == p),
            *((m, VoteKind.PRECOMMIT) for m in after.precommits - before.precommits if m.src == p),
        }
        our_votes = {self._describes(m) for m in self.sent[p][start:] if isinstance(m, Vote)}
        problems = []
        if our_votes != model_votes:
            problems.append(f"{p} sent {sorted(our_votes)}, model {sorted(model_votes)}")
        proposed = {self._describes(m)[0] for m in self.sent[p] if isinstance(m, Proposal)}
        inserted = {m for m in after.proposals - before.proposals if m.src == p}
        if not inserted <= proposed:
            problems.append(f"{p} proposed {sorted(proposed)}, model {sorted(inserted)}")
        return problems

    def _compare(self, state: ModelState) -> list[str]:
        problems = []
        for p in self.correct:
            expected = state.views[p]
            got = self.view(p)
            if got != expected:
                problems.append(f"{p}: machine {got} != model {expected}")
        return problems

    def view(self, p: str) -> View:
        """The machine of `p` in the model's terms."""
        if p in self.decided:
            return self.decided[p]
        m = self.machines[p]
        return View(
            m.round,
            _STEP_NAMES.get(m.step, m.step.name.lower()),
            self.name(m.locked_value),
            m.locked_round,
            self.name(m.valid_value.hash if m.valid_value else None),
            m.valid_round,
            NIL,
        )


def _actor(before: ModelState, after: ModelState) -> str | None:
    changed = {p for p in before.views if before.views[p] != after.views[p]}
    for new in (
        after.proposals - before.proposals,
        after.prevotes - before.prevotes,
        after.precommits - before.precommits,
    ):
        changed |= {m.src for m in new}
    if len(changed) > 1:
        raise TraceError(f"step changes several processes: {sorted(changed)}")
    return next(iter(changed), None)


def _senders(pool: frozenset[ModelVote], round: int, value: str) -> set[str]:
    return {m.src for m in pool if (m.round, m.value) == (round, value)}


def _new_from(new: frozenset[ModelVote], p: str) -> ModelVote:
    (mine,) = [m for m in new if m.src == p] or [ModelVote(p, -1, NIL)]
    return mine


def _choose(candidates: Sequence[ModelProposal], fresh: frozenset[ModelProposal]) -> ModelProposal:
    """The proposal an action used: the only candidate, or the one it newly marked used;
    among proposals of one value that differ only in the round they cite, any that our
    protocol can express serves (the rules that remain need only the value)."""
    if len(candidates) > 1:
        candidates = [c for c in candidates if c in fresh] or candidates
    expressible = sorted(c for c in candidates if c.valid_round < c.round)
    if len({(c.round, c.value) for c in candidates}) == 1 and expressible:
        candidates = expressible[:1]
    if len(candidates) != 1:
        raise AssertionError(f"cannot tell which proposal the model used: {candidates}")
    return candidates[0]


def replay_trace(states: Sequence[ModelState], valid_values: Iterable[str]) -> list[StepReport]:
    """Replay a loaded trace; one report per step after `Init`."""
    if not states or states[0].action != "Init":
        raise TraceError("a trace starts with the Init state")
    replay = Replay(states[0], valid_values)
    reports = [StepReport(0, "Init", None, replay._compare(states[0]))]
    for i in range(1, len(states)):
        report = replay.step(i, states[i - 1], states[i])
        reports.append(report)
        if report.diverged:
            break  # the states differ from here on by the model's choice, not by a fault
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peerchain.tools.itf_replay")
    parser.add_argument("traces", nargs="+", type=Path)
    parser.add_argument("--valid", default="v0,v1", help="valid values (default: v0,v1)")
    args = parser.parse_args(argv)
    valid = [v for v in args.valid.split(",") if v]
    failed = 0
    for path in args.traces:
        try:
            reports = replay_trace(load_trace(path), valid)
        except TraceError as exc:
            print(f"{path}: not replayable: {exc}")
            failed += 1
            continue
        bad = [r for r in reports if r.problems and not r.diverged]
        for r in reports:
            status = "ok" if not r.problems else "DIVERGED" if r.diverged else "MISMATCH"
            print(f"{path.name} step {r.index:3d} {r.action:40s} {r.actor or '-':4s} {status}")
            for problem in [r.diverged] if r.diverged else r.problems:
                print(f"    {problem}")
        stopped = ", stopped where the model chose another order" if reports[-1].diverged else ""
        print(f"{path}: {len(reports)} states replayed, {len(bad)} mismatching{stopped}")
        failed += bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
