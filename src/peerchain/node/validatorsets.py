"""The validator set of each height and the open proposals, read from the governance
contract in the chain state (`core.governance`).

The set of height H is decided by the state of block H - 2 (block 0 for heights 1 and
2): `validators_at(H)` called on it (`read_validator_set`). Reading runs the EVM, so it
never happens where consensus asks for a set: `ChainValidatorSets` answers consensus
from what it holds, and is filled by the block executor when a block is committed
(`committed`: block N fixes the set of N + 2), so a node working on height h already
holds the sets of h - 1, h and h + 1, and every node that committed the same blocks
holds the same sets. Other heights (JSON-RPC, the explorer) are read by the query
runner (`lookup`). A set never changes once its block is committed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from peerchain.core.blocks import Header
from peerchain.core.consensus.validators import ACTIVATION_DELAY, ValidatorSet
from peerchain.core.errors import DecodeError, PeerChainError
from peerchain.core.governance import (
    GOVERNANCE_ADDRESS,
    OpenProposal,
    decode_open_proposals,
    decode_validators,
    open_proposals_call,
    validators_at_call,
)
from peerchain.core.queries import CallRequest
from peerchain.execution.engine import ExecutionEngine

# Heights below the last committed one whose sets stay held for consensus (gossip of
# recent heights, the certificates of recent blocks).
RECENT_HEIGHTS = 256
# Sets of other heights read for JSON-RPC, kept in case they are asked again.
LOOKUPS = 64

# Runs `function(engine, *args)` where the EVM may run (the block executor, the query
# workers): `BlockExecutor.run`, `QueryRunner.run`.
Runner = Callable[..., Awaitable[Any]]


class GovernanceError(PeerChainError):
    """The governance contract could not be read: a local fault (a genesis without it, or
    a damaged state), never a peer's."""


def read_validator_set(engine: ExecutionEngine, height: int) -> ValidatorSet | None:
    """The set that signs `height`; None while block `height - 2` is not stored.

    Runs the EVM. Raises GovernanceError."""
    height = max(height, 1)
    header = engine.get_header_by_number(max(height - ACTIVATION_DELAY, 0))
    if header is None:
        return None
    try:
        return decode_validators(_call(engine, validators_at_call(height), header))
    except DecodeError as exc:
        raise GovernanceError(f"validator set of height {height}: {exc}") from exc


def read_open_proposals(engine: ExecutionEngine, number: int) -> list[OpenProposal]:
    """The proposals open after block `number`. Runs the EVM. Raises GovernanceError."""
    header = engine.get_header_by_number(number)
    if header is None:
        raise GovernanceError(f"no block {number}")
    try:
        return decode_open_proposals(_call(engine, open_proposals_call(), header))
    except DecodeError as exc:
        raise GovernanceError(f"open proposals: {exc}") from exc


def _call(engine: ExecutionEngine, data: bytes, header: Header) -> bytes:
    try:
        return engine.call(CallRequest(to=GOVERNANCE_ADDRESS, data=data), header)
    except PeerChainError as exc:
        raise GovernanceError(
            f"the governance contract failed at block {header.number}: {exc}"
        ) from exc


class ChainValidatorSets:
    """`ValidatorSets` of a chain: call it with a height. It never runs the EVM itself;
    `committed` and `lookup` read sets where the EVM may run."""

    def __init__(self) -> None:
        self._recent: dict[int, ValidatorSet] = {}
        self._lookups: OrderedDict[int, ValidatorSet] = OrderedDict()

    def __call__(self, height: int) -> ValidatorSet | None:
        """The set that signs `height`, if this node holds it (the heights around the
        one being decided, after `committed`); None otherwise."""
        height = max(height, 1)
        found = self._recent.get(height)
        return found if found is not None else self._lookups.get(height)

    async def committed(self, number: int, run: Runner) -> None:
        """Read, with `run`, the sets of heights `number` to `number + 2` not held yet:
        after the commit of block `number`, the one set it fixes; after a start, the
        sets consensus needs at `number + 1`. Raises GovernanceError."""
        for height in range(max(number, 1), number + ACTIVATION_DELAY + 1):
            if height not in self._recent:
                found = await run(read_validator_set, height)
                if found is None:
                    raise GovernanceError(f"block {height - ACTIVATION_DELAY} is not stored")
                self._keep(height, found)
        for height in [h for h in self._recent if h < number - RECENT_HEIGHTS]:
            del self._recent[height]

    def _keep(self, height: int, found: ValidatorSet) -> None:
        previous = self._recent.get(height - 1)
        # Sets rarely change: the one object serves every height it signs.
        self._recent[height] = previous if previous == found else found

    async def lookup(self, height: int, run: Runner) -> ValidatorSet | None:
        """The set of any height, read with `run` if not held; None while block
        `height - 2` is not committed. Raises GovernanceError (and what `run` raises)."""
        held = self(height)
        if held is not None:
            return held
        found: ValidatorSet | None = await run(read_validator_set, height)
        if found is not None:
            self._lookups[max(height, 1)] = found
            while len(self._lookups) > LOOKUPS:
                self._lookups.popitem(last=False)
        return found
