"""The group's shared calendar carries the telemanagement visits of its members on this node: their
activity and times, never who is visited; cancelled visits and non-members' visits stay out."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from node.core import db
from node.groups import calendar, records
from node.settings import Settings
from node.telemanagement import given, visits
from tests.support.accounts import make_user
from tests.support.groups import make_group
from tests.support.telemanagement import CATEGORY, care_setup


def test_members_visits_show_in_the_group_calendar(engine: Engine, settings: Settings) -> None:
    setup = care_setup(engine, settings, valid_from=date(2026, 10, 1), valid_until=date(2026, 12, 31))
    outsider = make_user(engine, "omar")
    founder = make_user(engine, "fanny")
    make_group(engine, settings, founder, joining=(setup.provider,))
    with db.session_scope(engine) as s:
        kept = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start="2026-10-06T09:00",
            minutes=90,
            provider="aline",
        )
        cancelled = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start="2026-10-07T09:00",
            minutes=60,
            provider="aline",
        )
        visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start="2026-10-08T09:00",
            minutes=60,
            provider=outsider.username,
        )
        kept_id, cancelled_id = kept.id, cancelled.id
    with db.session_scope(engine) as s:
        given.cancel(s, settings, setup.coordinator, cancelled_id or 0, "beneficiary_absent")
    with Session(engine) as s:
        group = records.by_name("coop", session=s)
        assert group is not None
        week = calendar.week(settings, group, date(2026, 10, 5), session=s)
    entries = [e for day in week.days for e in day.entries if e.kind == "visit"]
    assert [(e.member_uri, e.title, e.state) for e in entries] == [
        (settings.url("/users/aline"), CATEGORY, "planned")
    ]
    assert (entries[0].end - entries[0].start).total_seconds() == 5400
    assert kept_id is not None
    assert "Martin" not in repr(entries)  # who is visited stays with the coordinators
