"""Abuse limits (node/core/limits.py): counted per key and window in the database, exact under
concurrent transactions on both backends, refused with Throttled, nothing counted for refused or
rolled-back actions, and no key stored in clear."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select

from node.core import db, limits
from node.core.errors import Throttled
from node.core.limits import LIMITS, RateCounter
from node.settings import Settings, fields_with_docs

NAME = "proposals per person per day"


def counted(engine: Engine) -> int:
    with db.session_scope(engine) as session:
        return int(session.exec(select(func.coalesce(func.sum(RateCounter.count), 0))).one())


def test_every_limit_has_a_documented_setting() -> None:
    documented = {name for name, *_ in fields_with_docs()}
    for limit in LIMITS.values():
        assert f"ASASAP_{limit.setting.upper()}" in documented
        assert limit.window.total_seconds() >= 60


def test_a_limit_counts_then_refuses_until_its_window_ends(engine: Engine, settings: Settings) -> None:
    settings = settings.replace(limit_proposals_per_person_day=3)
    noon = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    for expected in (1, 2, 3):
        with db.session_scope(engine) as session:
            assert limits.hit(settings, NAME, 42, session=session, now=noon) == expected
    with pytest.raises(Throttled) as refused, db.session_scope(engine) as session:
        limits.hit(settings, NAME, 42, session=session, now=noon)
    assert refused.value.retry_after == 12 * 3600 + 1  # until midnight UTC
    assert refused.value.code == "throttled" and "today" in refused.value.message
    assert counted(engine) == 3  # the refused event was rolled back with its transaction
    with db.session_scope(engine) as session:  # someone else, and the next day, start afresh
        assert limits.hit(settings, NAME, 43, session=session, now=noon) == 1
        assert limits.hit(settings, NAME, 42, session=session, now=noon + timedelta(hours=12)) == 1


def test_a_rolled_back_action_is_not_counted(engine: Engine, settings: Settings) -> None:
    class Refused(Exception):
        pass

    with pytest.raises(Refused), db.session_scope(engine) as session:
        limits.hit(settings, NAME, 7, session=session)
        raise Refused
    assert counted(engine) == 0


def test_zero_turns_a_limit_off_and_keys_are_not_stored_in_clear(engine: Engine, settings: Settings) -> None:
    with db.session_scope(engine) as session:
        assert limits.hit(settings.replace(limit_proposals_per_person_day=0), NAME, 1, session=session) == 0
        limits.hit(settings, "registrations per address per hour", "203.0.113.9", session=session)
    with db.session_scope(engine) as session:
        rows = session.exec(select(RateCounter)).all()
    assert [row.limit_name for row in rows] == ["registrations per address per hour"]
    assert "203.0.113" not in rows[0].subject and len(rows[0].subject) == 32


def test_concurrent_transactions_never_pass_the_limit(engine: Engine, settings: Settings) -> None:
    """Sixteen transactions at once on their own connections, as several processes would: exactly the
    maximum is accepted."""
    settings = settings.replace(limit_bids_per_proposal_day=5)

    def attempt(_: int) -> bool:
        try:
            db.retry_when_busy(engine, lambda: _hit(engine, settings))
        except Throttled:
            return False
        return True

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert outcomes.count(True) == 5
    assert counted(engine) == 5


def _hit(engine: Engine, settings: Settings) -> None:
    with db.session_scope(engine, write=True) as session:
        limits.hit(settings, "bids per proposal per day", "https://x.example/proposals/1", session=session)


def test_prune_forgets_finished_windows(engine: Engine, settings: Settings) -> None:
    past = datetime(2026, 1, 1, 10, 30, tzinfo=UTC)
    with db.session_scope(engine) as session:
        limits.hit(settings, NAME, 1, session=session, now=past)
        limits.hit(settings, "api requests per token per minute", "t", session=session)
    with db.session_scope(engine) as session:
        assert limits.prune(session=session) == 1
    with db.session_scope(engine) as session:
        assert [row.limit_name for row in session.exec(select(RateCounter)).all()] == [
            "api requests per token per minute"
        ]
