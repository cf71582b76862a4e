from __future__ import annotations

import pytest

from peerchain.core.p2p.scoring import Offence, PeerScores, RateLimiter

P = b"p" * 20


def test_offences_lower_the_score_and_it_recovers_with_time() -> None:
    scores = PeerScores(recovery_per_second=1.0)
    assert not scores.penalize(P, Offence.BAD_SIGNATURE, now=0.0)
    assert scores.score(P, 0.0) == -50
    assert scores.score(P, 20.0) == -30
    assert scores.score(P, 1000.0) == 0.0


def test_below_threshold_bans_until_now_plus_duration() -> None:
    scores = PeerScores(ban_duration=60.0)
    assert not scores.penalize(P, Offence.BAD_SIGNATURE, now=10.0)
    assert scores.penalize(P, Offence.BAD_SIGNATURE, now=10.0)
    assert scores.is_banned(P, 69.9)
    assert scores.banned_until(P, 11.0) == 70.0
    assert scores.banned(11.0) == {P: 70.0}
    assert not scores.is_banned(P, 70.0)
    assert scores.score(P, 70.0) == 0.0  # back clean after the ban


@pytest.mark.parametrize("offence", [Offence.MALFORMED_FRAME, Offence.INCOMPATIBLE])
def test_gross_offences_ban_at_once(offence: Offence) -> None:
    assert PeerScores().penalize(P, offence, now=0.0)


def test_penalties_while_banned_do_not_extend_the_ban() -> None:
    scores = PeerScores(ban_duration=10.0)
    scores.penalize(P, Offence.MALFORMED_FRAME, now=0.0)
    assert not scores.penalize(P, Offence.MALFORMED_FRAME, now=5.0)
    assert scores.banned_until(P, 5.0) == 10.0


def test_records_are_bounded() -> None:
    scores = PeerScores(max_records=10)
    for i in range(100):
        scores.penalize(i.to_bytes(20, "big"), Offence.TIMEOUT, now=float(i))
    assert len(scores._records) <= 10


def test_rate_limiter_allows_burst_then_rate() -> None:
    limiter = RateLimiter(rate=10.0, burst=5.0)
    assert all(limiter.allow(P, 0.0) for _ in range(5))
    assert not limiter.allow(P, 0.0)
    assert limiter.allow(P, 0.1)
    assert not limiter.allow(P, 0.1)
    limiter.forget(P)
    assert limiter.allow(P, 0.1)
