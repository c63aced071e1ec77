"""Planning visits: one-off, recurring by an RFC 5545 rule with excluded days (wall-clock times kept
across the change of hour), inside the plan's validity, assignment and cancellation with a reason."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from node.core import db
from node.core.errors import PermissionDenied, ValidationFailed
from node.settings import Settings
from node.telemanagement import given, visits
from node.telemanagement.lifecycles import VISIT_LIFECYCLE, VisitState
from node.telemanagement.models import Visit, VisitSeries
from tests.support.accounts import make_user
from tests.support.telemanagement import CATEGORY, care_setup


def test_the_visit_lifecycle_is_declared() -> None:
    V = VisitState
    assert set(VISIT_LIFECYCLE.edges()) == {
        (V.PLANNED, V.IN_PROGRESS),
        (V.PLANNED, V.CANCELLED),
        (V.IN_PROGRESS, V.DONE),
    }
    assert VISIT_LIFECYCLE.terminal == {V.DONE, V.CANCELLED}
    assert not VISIT_LIFECYCLE.allows(V.IN_PROGRESS, V.CANCELLED)
    assert not VISIT_LIFECYCLE.allows(V.DONE, V.IN_PROGRESS)
    assert not VISIT_LIFECYCLE.allows(V.PLANNED, V.DONE)  # done only by checking out


def test_a_weekly_series_keeps_its_wall_clock_time_and_skips_excluded_days(
    engine: Engine, settings: Settings
) -> None:
    setup = care_setup(engine, settings, valid_from=date(2026, 10, 1), valid_until=date(2026, 11, 30))
    with db.session_scope(engine) as s:
        series, made = visits.plan_series(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start="2026-10-05T09:00",
            minutes=90,
            rule="FREQ=WEEKLY;BYDAY=MO,TH",
            excluded="2026-11-02",
            provider="aline",
        )
        starts = [visit.starts_at for visit in made]
        assert series.rule == "FREQ=WEEKLY;BYDAY=MO,TH"
    # Mondays and Thursdays from 5 October to 30 November: 17 days, minus 2 November.
    assert len(starts) == 16
    assert date(2026, 11, 2) not in {moment.date() for moment in starts}
    assert starts[0] == datetime(2026, 10, 5, 7, 0, tzinfo=UTC)  # 9:00 in Paris, summer time
    assert starts[-1] == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 9:00 in Paris, winter time
    with db.session_scope(engine) as s:
        rows = s.exec(select(Visit)).all()
        assert {row.provider_id for row in rows} == {setup.provider.id}
        assert all((row.ends_at - row.starts_at).total_seconds() == 5400 for row in rows)


@pytest.mark.parametrize(
    ("rule", "field"),
    [("FREQ=SOMETIMES", "rule"), ("", "rule"), ("FREQ=DAILY;COUNT=3\nFREQ=DAILY", "rule")],
)
def test_bad_rules_are_refused_and_nothing_is_written(
    engine: Engine, settings: Settings, rule: str, field: str
) -> None:
    setup = care_setup(engine, settings, valid_from=date(2026, 10, 1))
    with pytest.raises(ValidationFailed) as caught, db.session_scope(engine) as s:
        visits.plan_series(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start="2026-10-05T09:00",
            minutes=60,
            rule=rule,
        )
    assert field in caught.value.fields
    with db.session_scope(engine) as s:
        assert s.exec(select(VisitSeries)).all() == [] and s.exec(select(Visit)).all() == []


def test_an_endless_rule_on_an_open_plan_is_refused(engine: Engine, settings: Settings) -> None:
    setup = care_setup(engine, settings, valid_from=date(2026, 10, 1))
    with pytest.raises(ValidationFailed) as caught, db.session_scope(engine) as s:
        visits.plan_series(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start="2026-10-05T09:00",
            minutes=60,
            rule="FREQ=DAILY",
        )
    assert caught.value.fields == {"rule": visits.MSG_RULE_ENDLESS}


def test_visits_outside_the_plan_or_its_activities_are_refused(engine: Engine, settings: Settings) -> None:
    setup = care_setup(engine, settings, valid_from=date(2026, 10, 1), valid_until=date(2026, 10, 31))
    cases = [
        ({"start": "2026-11-02T09:00", "category": CATEGORY, "minutes": 60}, "start"),
        ({"start": "2026-10-02T09:00", "category": "gardening", "minutes": 60}, "category"),
        ({"start": "2026-10-02T09:00", "category": CATEGORY, "minutes": 5}, "minutes"),
        ({"start": "demain", "category": CATEGORY, "minutes": 60}, "start"),
        (
            {"start": "2026-10-02T09:00", "category": CATEGORY, "minutes": 60, "provider": "nobody"},
            "provider",
        ),
    ]
    for typed, field in cases:
        with pytest.raises(ValidationFailed) as caught, db.session_scope(engine) as s:
            visits.plan_visit(s, setup.coordinator, plan_id=setup.plan_id, **typed)  # type: ignore[arg-type]
        assert field in caught.value.fields, typed
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:  # the series' last day is outside
        visits.plan_series(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start="2026-10-30T09:00",
            minutes=60,
            rule="FREQ=DAILY;COUNT=3",
        )
    with db.session_scope(engine) as s:
        assert s.exec(select(Visit)).all() == []


def test_assignment_and_cancellation_with_a_reason(engine: Engine, settings: Settings) -> None:
    setup = care_setup(engine, settings, valid_from=date(2026, 10, 1))
    make_user(engine, "bruno")
    with db.session_scope(engine) as s:
        visit = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start="2026-10-02T14:00",
            minutes=120,
        )
        visit_id = visit.id or 0
        assert visit.provider_id is None and visit.state == VisitState.PLANNED
        given.assign(s, settings, setup.coordinator, visit_id, "bruno")
    with pytest.raises(PermissionDenied), db.session_scope(engine) as s:
        given.cancel(s, settings, setup.provider, visit_id, "provider_absent")
    for reason, note in (("because", ""), ("other", "")):
        with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
            given.cancel(s, settings, setup.coordinator, visit_id, reason, note)
    with db.session_scope(engine) as s:
        given.cancel(s, settings, setup.coordinator, visit_id, "beneficiary_hospitalised")
    with db.session_scope(engine) as s:
        row = s.get(Visit, visit_id)
        assert row is not None and (row.state, row.cancel_reason) == ("cancelled", "beneficiary_hospitalised")
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        given.assign(s, settings, setup.coordinator, visit_id, "aline")
