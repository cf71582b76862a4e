"""Peer scores, bans and flood limits, with time passed in as `now` (seconds).

Each peer starts at 0. Offences subtract their penalty; the score recovers towards 0
at `recovery_per_second`. At or below `ban_threshold` the peer is banned until
`now + ban_duration` and its score is reset, so it comes back clean after the ban.
A token bucket per peer (`RateLimiter`) tells a flood from normal traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Offence(Enum):
    """What a peer did wrong; `penalty` is what it costs."""

    MALFORMED_FRAME = "malformed frame"
    PROTOCOL_VIOLATION = "protocol violation"
    INCOMPATIBLE = "incompatible network"
    INVALID_BLOCK = "invalid block"
    BAD_SIGNATURE = "bad signature"
    INVALID_MESSAGE = "invalid message"
    FLOOD = "flood"
    UNSOLICITED = "unsolicited message"
    TIMEOUT = "request timeout"

    @property
    def penalty(self) -> int:
        return PENALTIES[self]


PENALTIES: dict[Offence, int] = {
    Offence.MALFORMED_FRAME: 100,
    Offence.PROTOCOL_VIOLATION: 100,
    Offence.INCOMPATIBLE: 100,
    Offence.INVALID_BLOCK: 100,
    Offence.BAD_SIGNATURE: 50,
    Offence.INVALID_MESSAGE: 25,
    Offence.FLOOD: 20,
    Offence.UNSOLICITED: 10,
    Offence.TIMEOUT: 5,
}


@dataclass(slots=True)
class _Record:
    score: float
    updated: float
    banned_until: float


class PeerScores:
    """Scores and bans by node id. Memory: one record per peer penalized or banned."""

    def __init__(
        self,
        *,
        ban_threshold: float = -100.0,
        ban_duration: float = 600.0,
        recovery_per_second: float = 0.1,
        max_records: int = 10_000,
    ) -> None:
        self.ban_threshold = ban_threshold
        self.ban_duration = ban_duration
        self.recovery_per_second = recovery_per_second
        self.max_records = max_records
        self._records: dict[bytes, _Record] = {}

    def score(self, peer_id: bytes, now: float) -> float:
        record = self._records.get(peer_id)
        if record is None:
            return 0.0
        elapsed = max(0.0, now - record.updated)
        return min(0.0, record.score + elapsed * self.recovery_per_second)

    def penalize(self, peer_id: bytes, offence: Offence, now: float) -> bool:
        """Lower the peer's score; return True if this bans it."""
        if self.is_banned(peer_id, now):
            return False
        score = self.score(peer_id, now) - offence.penalty
        banned = score <= self.ban_threshold
        if banned:
            self._records[peer_id] = _Record(0.0, now, now + self.ban_duration)
        else:
            self._records[peer_id] = _Record(score, now, 0.0)
        self._prune(now)
        return banned

    def ban(self, peer_id: bytes, now: float, duration: float | None = None) -> None:
        """Ban a peer outright (an operator's decision)."""
        until = now + (self.ban_duration if duration is None else duration)
        self._records[peer_id] = _Record(0.0, now, until)

    def is_banned(self, peer_id: bytes, now: float) -> bool:
        record = self._records.get(peer_id)
        return record is not None and record.banned_until > now

    def banned_until(self, peer_id: bytes, now: float) -> float | None:
        """When the peer's ban ends, or None if it is not banned."""
        record = self._records.get(peer_id)
        if record is None or record.banned_until <= now:
            return None
        return record.banned_until

    def banned(self, now: float) -> dict[bytes, float]:
        """Every banned peer and the end of its ban."""
        return {p: r.banned_until for p, r in self._records.items() if r.banned_until > now}

    def _prune(self, now: float) -> None:
        if len(self._records) <= self.max_records:
            return
        # Drop fully recovered, unbanned peers first; then the oldest records.
        for peer in [p for p, r in self._records.items() if r.banned_until <= now]:
            if self.score(peer, now) >= 0.0:
                del self._records[peer]
        while len(self._records) > self.max_records:
            del self._records[min(self._records, key=lambda p: self._records[p].updated)]


class RateLimiter:
    """A token bucket per key: `rate` tokens a second, at most `burst` stored."""

    def __init__(self, *, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[bytes, tuple[float, float]] = {}

    def allow(self, key: bytes, now: float, cost: float = 1.0) -> bool:
        """Take `cost` tokens if there are enough; return whether there were."""
        tokens, updated = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - updated) * self.rate)
        allowed = tokens >= cost
        self._buckets[key] = (tokens - cost if allowed else tokens, now)
        return allowed

    def forget(self, key: bytes) -> None:
        self._buckets.pop(key, None)
