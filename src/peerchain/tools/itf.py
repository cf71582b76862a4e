"""Reading ITF traces (Apalache/Quint's JSON) of the TendermintAcc model into plain values:
per state, each correct process's variables, the messages sent so far and those acted on.
`peerchain.tools.itf_replay` replays them into the consensus machine."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple


class TraceError(ValueError):
    """The file is not an ITF trace of the TendermintAcc model."""


class ModelProposal(NamedTuple):
    src: str
    round: int
    value: str
    valid_round: int


class ModelVote(NamedTuple):
    src: str
    round: int
    value: str


class View(NamedTuple):
    """One correct process's variables."""

    round: int
    step: str
    locked_value: str
    locked_round: int
    valid_value: str
    valid_round: int
    decision: str


@dataclass(frozen=True)
class ModelState:
    action: str
    views: dict[str, View]
    proposals: frozenset[ModelProposal]
    prevotes: frozenset[ModelVote]
    precommits: frozenset[ModelVote]
    used_proposals: frozenset[ModelProposal]
    used_prevotes: frozenset[ModelVote]
    used_precommits: frozenset[ModelVote]


def _plain(value: Any) -> Any:
    """ITF values as Python: ints, dicts, lists (sets), tuples and records (dicts)."""
    if isinstance(value, dict):
        if "#bigint" in value:
            return int(value["#bigint"])
        if "#map" in value:
            return {_key(_plain(k)): _plain(v) for k, v in value["#map"]}
        if "#set" in value:
            return [_plain(v) for v in value["#set"]]
        if "#tup" in value:
            return tuple(_plain(v) for v in value["#tup"])
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _key(value: Any) -> Any:
    return value if isinstance(value, str | int) else json.dumps(value, sort_keys=True)


def load_trace(path: Path) -> list[ModelState]:
    """Read an ITF trace file. Raises TraceError."""
    try:
        raw = path.read_bytes()
        document = json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)
        return [_state(raw) for raw in document["states"]]
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise TraceError(f"{path}: {exc}") from exc


def _state(raw: dict[str, Any]) -> ModelState:
    var = {name.rsplit("::", 1)[-1]: _plain(v) for name, v in raw.items() if name != "#meta"}
    procs = sorted(var["round"])
    views = {
        p: View(
            var["round"][p],
            var["step"][p],
            var["lockedValue"][p],
            var["lockedRound"][p],
            var["validValue"][p],
            var["validRound"][p],
            var["decision"][p],
        )
        for p in procs
    }

    def proposals(items: Iterable[dict[str, Any]]) -> frozenset[ModelProposal]:
        return frozenset(
            ModelProposal(m["src"], m["round"], m["proposal"], m["validRound"]) for m in items
        )

    def votes(items: Iterable[dict[str, Any]]) -> frozenset[ModelVote]:
        return frozenset(ModelVote(m["src"], m["round"], m["id"]) for m in items)

    def flat(by_round: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        return [m for msgs in by_round.values() for m in msgs]

    return ModelState(
        action=var["fired_action"],
        views=views,
        proposals=proposals(flat(var["msgsPropose"])),
        prevotes=votes(flat(var["msgsPrevote"])),
        precommits=votes(flat(var["msgsPrecommit"])),
        used_proposals=proposals(var["evidencePropose"]),
        used_prevotes=votes(var["evidencePrevote"]),
        used_precommits=votes(var["evidencePrecommit"]),
    )
