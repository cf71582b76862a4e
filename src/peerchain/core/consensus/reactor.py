"""What a consensus node does around its machine, sans I/O: the policy that the network
node (`node.validator.ConsensusNode`) and the simulator (`testing.simnode.SimNode`) both
drive, so that simulated runs exercise the node's real decisions.

Theory of operation
-------------------
The shell feeds in what happened, with `now`, and carries out the commands that come
back, in order: the machine's outputs (`PersistWal` before the `Broadcast` after it,
application calls answered later through `on_local`) and the reactor's own
(`SendCommit`, `StartSync`, `Penalize`). Own broadcasts are fed back to the machine
here, right after they are emitted.

- Gossip (`check_gossip`): a message is relayed only if it is authentic (signature,
  signer, certificate), a proposal's or commit's block body belongs to its signed hash
  (the application's `check_value`), and it is of the height being decided or the next
  one. Older ones are delivered (they show that a peer is behind) but not relayed.
- Catch-up: a peer that sends a message of our height and an older round is answered
  with our round's proposal and votes (machine `CatchUpRequested`); one of an older
  height with that height's `Commit`, except a precommit of the height we just decided
  (a validator finishing it: the machine counts it in its pause after the commit; a
  peer that really stays behind announces so, below). Each answer is rate-limited per
  (peer, height, round) and by a token bucket per peer, so replayed old votes cost
  little.
- Peers behind: a peer whose announced height has stayed below our last decided height
  for `behind_grace` gets the `Commit` of its next height (again at most once per
  `catch_up_interval`); commits are never flooded to every peer.
- Stall resend: while a height stays undecided, every `stall_interval` each peer gets
  our round's proposal and votes and what made our valid value (machine
  `CatchUpRequested`); its answers fill the gaps on both sides. Rounds may move all the
  while (a validator locked on a value the others missed the polka of prevotes nil for
  everything else), and messages lost before the network healed are sent again.
- Proof of lock: our proposal citing a proof-of-lock round goes to every peer with that
  round's prevotes for its block, which a peer may lack (they came late or were lost,
  or a Byzantine validator sent its prevote to us only); without them it cannot accept.
- Work waiting: in the pause after a commit the machine asks (`awaits_transactions`)
  whether the node holds transactions for the new height; the shell answers with
  `TransactionsWaiting` through `on_local` once the commit is stored and its mempool
  holds executable transactions (then, or when one arrives during the pause), so that
  round 0 may start before the commit timeout (see the machine's docstring).
- Sync: a peer announcing `sync_lag` heights above ours, or an authentic commit of a
  later height, starts a block sync; peer messages that arrive meanwhile are held
  (bounded) and replayed if the sync brought nothing, else the machine is rebuilt on
  the new head.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from peerchain.core.consensus.certificate import Commit
from peerchain.core.consensus.checks import ValueCheck, check_authentic
from peerchain.core.consensus.events import (
    Broadcast,
    CatchUpRequested,
    CommitReceived,
    Event,
    Output,
    ProposalReceived,
    SendTo,
    Started,
    Timeout,
    VoteReceived,
)
from peerchain.core.consensus.machine import ConsensusMachine
from peerchain.core.consensus.messages import InvalidMessage, Proposal, Vote, VoteKind
from peerchain.core.consensus.signguard import LastSigned
from peerchain.core.consensus.validators import ValidatorSet, ValidatorSets, as_sets
from peerchain.core.consensus.wal import WalRecord
from peerchain.core.consensus.wire import ConsensusMessage
from peerchain.core.errors import ConsensusHalted
from peerchain.core.genesis import ConsensusTimeouts
from peerchain.core.p2p.gossip import Relay
from peerchain.core.p2p.scoring import RateLimiter


@dataclass(frozen=True, slots=True)
class ReactorConfig:
    """Intervals in seconds of the node's clock."""

    catch_up_interval: float = 1.0  # one answer per (peer, height, round) this often
    catch_up_rate: float = 4.0  # catch-up answers a second per peer, sustained
    catch_up_burst: float = 8.0
    sync_lag: int = 2  # peers this far ahead of our head start a block sync
    held_events: int = 10_000  # peer messages kept while a block sync runs
    stall_interval: float = 2.0
    behind_grace: float = 1.0  # how long a peer may lag before it is sent a commit
    remembered_answers: int = 10_000


# --- the reactor's own commands -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendCommit:
    """Send `peer` the stored block of `height` with its certificate (if we have it)."""

    peer: bytes
    height: int


@dataclass(frozen=True, slots=True)
class StartSync:
    """Start a block sync towards `target` (the highest height a peer announced); answer
    with `Reactor.sync_finished` when it ends."""

    target: int


@dataclass(frozen=True, slots=True)
class Penalize:
    """`peer` sent an invalid consensus message."""

    peer: bytes
    reason: str


Command = Output | SendCommit | StartSync | Penalize


def received(message: ConsensusMessage) -> Event:
    """The machine event for a message that arrived (or looped back)."""
    if isinstance(message, Proposal):
        return ProposalReceived(message)
    if isinstance(message, Vote):
        return VoteReceived(message)
    return CommitReceived(message)


class Reactor:
    """The consensus policy of one node (validator with `private_key`, else observer).

    `check_value(block)` raises InvalidMessage when a block's bytes do not belong to its
    hash (the application's binding of body to hash); `validators` is the set of every
    height or a function giving it per height (None for a height not known yet)."""

    def __init__(
        self,
        *,
        chain_id: int,
        validators: ValidatorSet | ValidatorSets,
        timeouts: ConsensusTimeouts,
        check_value: ValueCheck,
        private_key: bytes | None = None,
        config: ReactorConfig | None = None,
    ) -> None:
        self.chain_id = chain_id
        self.validator_sets = as_sets(validators)
        self.timeouts = timeouts
        self.check_value = check_value
        self.config = config or ReactorConfig()
        self._key = private_key
        self.machine: ConsensusMachine | None = None
        self.syncing = False
        self.halted: str | None = None
        self._held: deque[tuple[bytes, ConsensusMessage] | Event] = deque(
            maxlen=self.config.held_events
        )
        self._decided = 0  # the height being decided when it last changed
        self._moved_at = 0.0
        self._peer_heights: dict[bytes, int] = {}
        self._behind_since: dict[bytes, float] = {}
        self._answered: OrderedDict[tuple[bytes, int, int], float] = OrderedDict()
        self._answers = RateLimiter(
            rate=self.config.catch_up_rate, burst=self.config.catch_up_burst
        )

    # --- life cycle -------------------------------------------------------------------

    @property
    def height(self) -> int:
        """The height being decided (0 before `start`)."""
        return self.machine.height if self.machine is not None else 0

    def start(
        self,
        height: int,
        last_block_hash: bytes | None,
        wal: Iterable[WalRecord],
        now: float,
        last_signed: LastSigned | None = None,
    ) -> list[Command]:
        """Build the machine for `height` (last committed + 1) from the WAL and the
        last-signed record and start it."""
        self.machine = ConsensusMachine(
            chain_id=self.chain_id,
            validators=self.validator_sets,
            timeouts=self.timeouts,
            height=height,
            private_key=self._key,
            wal=wal,
            last_block_hash=last_block_hash,
            check_value=self.check_value,
            last_signed=last_signed,
        )
        self.halted = None
        self._moved_at = now
        return self._feed(None, Started(), now)

    def next_timeout(self) -> Timeout | None:
        return self.machine.next_timeout() if self.machine is not None else None

    @property
    def awaits_transactions(self) -> bool:
        """Whether the machine waits to hear of transactions for the height being decided
        (`TransactionsWaiting`, see the module doc)."""
        machine = self.machine
        return (
            machine is not None
            and self.halted is None
            and not self.syncing
            and machine.awaits_transactions
        )

    # --- inputs -----------------------------------------------------------------------

    def check_gossip(self, message: ConsensusMessage) -> Relay:
        """Whether a gossiped message may be delivered and relayed (see the module doc);
        one of a height whose validator set we do not know yet is dropped."""
        height = message.certificate.height if isinstance(message, Commit) else message.height
        validators = self.validator_sets(height)
        if validators is None:
            return Relay.DROP
        try:
            check_authentic(message, self.chain_id, validators, self.check_value)
        except InvalidMessage:
            return Relay.REJECT
        return Relay.RELAY if height in (self.height, self.height + 1) else Relay.DELIVER

    def on_message(self, peer: bytes, message: ConsensusMessage, now: float) -> list[Command]:
        """A proposal, vote or commit from `peer` (gossip or direct)."""
        if self.machine is None or self.halted is not None:
            return []
        if self.syncing:
            self._held.append((peer, message))
            return []
        if isinstance(message, Commit):
            return self._on_commit(peer, message, now)
        out = self._answer_behind(peer, message, now)
        return out + self._feed(peer, received(message), now)

    def on_local(self, event: Event, now: float) -> list[Command]:
        """A timer fired or the application answered (BlockPrepared, ProposalValidated)."""
        if self.machine is None or self.halted is not None:
            return []
        if self.syncing:
            self._held.append(event)
            return []
        return self._feed(None, event, now)

    def on_peer_height(self, peer: bytes, height: int, now: float) -> list[Command]:
        """`peer` announced its committed height."""
        self._peer_heights[peer] = height
        if height >= self.height - 1:
            self._behind_since.pop(peer, None)
        else:
            self._behind_since.setdefault(peer, now)
        if height >= self.height - 1 + self.config.sync_lag:
            return self._start_sync()
        return []

    def on_peer_gone(self, peer: bytes) -> None:
        self._peer_heights.pop(peer, None)
        self._behind_since.pop(peer, None)
        self._answers.forget(peer)

    def tick(self, peers: Iterable[bytes], now: float) -> list[Command]:
        """Call every `stall_interval / 2` or so: stall resend and commits to peers behind."""
        machine = self.machine
        if machine is None or self.halted is not None or self.syncing:
            return []
        out: list[Command] = []
        decided = machine.height - 1
        for peer, since in list(self._behind_since.items()):
            behind = self._peer_heights.get(peer, decided)
            if (
                behind < decided
                and now - since >= self.config.behind_grace
                and self._may_answer(peer, behind + 1, -1, now)
            ):
                out.append(SendCommit(peer, behind + 1))
        if now - self._moved_at >= self.config.stall_interval:
            self._moved_at = now
            for peer in peers:
                out += self._feed(None, CatchUpRequested(peer, machine.height, machine.round), now)
        return out

    def sync_finished(
        self,
        height: int,
        last_block_hash: bytes | None,
        wal: Iterable[WalRecord],
        now: float,
        last_signed: LastSigned | None = None,
    ) -> list[Command]:
        """The block sync ended with `height - 1` committed: go on at `height`."""
        self.syncing = False
        held, self._held = list(self._held), deque(maxlen=self.config.held_events)
        for peer in self._behind_since:
            self._behind_since[peer] = now
        if height != self.height:
            return self.start(height, last_block_hash, wal, now, last_signed)
        out: list[Command] = []
        for item in held:  # nothing new: carry on with what arrived meanwhile
            if isinstance(item, tuple):
                out += self.on_message(item[0], item[1], now)
            else:
                out += self.on_local(item, now)
        return out

    # --- internals --------------------------------------------------------------------

    def _feed(self, peer: bytes | None, first: Event, now: float) -> list[Command]:
        """Run `first` and the own messages it makes the machine broadcast."""
        machine = self.machine
        assert machine is not None
        out: list[Command] = []
        pending: deque[tuple[bytes | None, Event]] = deque([(peer, first)])
        while pending:
            source, event = pending.popleft()
            try:
                outputs = machine.handle(event, now)
            except InvalidMessage as exc:
                if source is not None:
                    out.append(Penalize(source, str(exc)))
                continue
            except ConsensusHalted as exc:
                self.halted = str(exc)
                return out
            for output in outputs:
                out.append(output)
                if isinstance(output, Broadcast):
                    pending.append((None, received(output.message)))
                    out += self._proof_of_lock(output.message)
        if machine.height != self._decided:
            self._decided, self._moved_at = machine.height, now
        return out

    def _proof_of_lock(self, message: ConsensusMessage) -> list[Command]:
        """Our proposal that cites a proof-of-lock round goes to every peer with the
        prevotes of that round for its block: a peer lacking one of them (it came late,
        was lost, or a Byzantine validator showed it to us only) could not accept it."""
        machine = self.machine
        assert machine is not None
        if not isinstance(message, Proposal) or message.pol_round < 0:
            return []
        polka = [
            vote
            for vote in machine.votes(message.height, message.pol_round, VoteKind.PREVOTE)
            if vote.block_hash == message.block.hash
        ]
        return [SendTo(peer, vote) for peer in self._peer_heights for vote in polka]

    def _on_commit(self, peer: bytes, commit: Commit, now: float) -> list[Command]:
        height = commit.certificate.height
        if height == self.height:
            return self._feed(peer, CommitReceived(commit), now)
        if height > self.height:
            validators = self.validator_sets(height)
            if validators is None:
                return []  # signed by a set we cannot know yet: heights announced lead sync
            try:
                check_authentic(commit, self.chain_id, validators, self.check_value)
            except InvalidMessage as exc:
                return [Penalize(peer, str(exc))]
            return self._start_sync()
        return []

    def _answer_behind(self, peer: bytes, message: Proposal | Vote, now: float) -> list[Command]:
        """A message of an older height or round shows that `peer` is behind us."""
        height, round_ = message.height, message.round
        current = self.height
        machine = self.machine
        assert machine is not None
        if height > current or (height == current and round_ >= machine.round):
            return []
        if (
            height == current - 1
            and isinstance(message, Vote)
            and message.kind is VoteKind.PRECOMMIT
        ):
            return []
        if not self._may_answer(peer, height, round_ if height == current else -1, now):
            return []
        if height == current:
            return self._feed(None, CatchUpRequested(peer, height, round_), now)
        return [SendCommit(peer, height)]

    def _may_answer(self, peer: bytes, height: int, round_: int, now: float) -> bool:
        """At most one answer per (peer, height, round) per interval, and a bucket per peer."""
        key = (peer, height, round_)
        last = self._answered.get(key)
        if last is not None and now - last < self.config.catch_up_interval:
            return False
        if not self._answers.allow(peer, now):
            return False
        self._answered[key] = now
        self._answered.move_to_end(key)
        while len(self._answered) > self.config.remembered_answers:
            self._answered.popitem(last=False)
        return True

    def _start_sync(self) -> list[Command]:
        if self.syncing:
            return []
        self.syncing = True
        return [StartSync(max(self._peer_heights.values(), default=self.height - 1))]
