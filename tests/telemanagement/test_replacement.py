"""Replacement on absence: a provider declares days away, their planned visits in those days wait for
someone else (a visit under way stays theirs); the coordinator sees who could go instead (the absent
provider's group, qualified for the activity, free then) and gives the visit; the beneficiary and the new
provider are told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.accounts.models import User, UserCategory
from node.core import db
from node.core.errors import PermissionDenied, ValidationFailed
from node.groups.colleagues import colleagues_of
from node.market.models import Notification
from node.settings import Settings
from node.telemanagement import clocking, replacement, visits
from node.telemanagement.models import Beneficiary, Visit
from tests.support.accounts import make_user
from tests.support.groups import make_group
from tests.support.pages import csrf, form_token, login
from tests.support.telemanagement import CATEGORY, Setup, care_setup


def _person(engine: Engine, username: str, *, offers: bool = True, status: str = "self_employed") -> User:
    user = make_user(engine, username)
    with db.session_scope(engine) as s:
        row = s.get(User, user.id)
        assert row is not None
        row.provider_status = status
        s.add(row)
        if offers:
            s.add(UserCategory(user_id=user.id or 0, category=CATEGORY))
    return user


def _visit(engine: Engine, setup: Setup, start: datetime, provider: str = "aline") -> int:
    with db.session_scope(engine) as s:
        visit = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start=start.astimezone(visits.PARIS).replace(tzinfo=None).isoformat(timespec="minutes"),
            minutes=60,
            provider=provider,
        )
        return visit.id or 0


@pytest.fixture
def setup(engine: Engine, settings: Settings) -> Setup:
    return care_setup(engine, settings, valid_from=datetime.now(UTC).date() - timedelta(days=5))


def test_an_absence_frees_the_visits_and_a_colleague_takes_one(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    bea = _person(engine, "beatrice")  # in the group, offers housework, free: suggested
    carl = _person(engine, "carlos")  # in the group, but busy at that time
    _person(engine, "daniel")  # offers housework, not in the group
    _person(engine, "evelyne", offers=False)  # in the group, does not offer it
    _person(engine, "fanny", status="none")  # in the group, may not provide it
    gus = _person(engine, "gustave")  # in the group, away too
    with db.session_scope(engine) as s:
        aline = s.get(User, setup.provider.id)
        assert aline is not None
    with db.session_scope(engine) as s:
        eve, fay = (s.exec(select(User).where(User.username == name)).one() for name in ("evelyne", "fanny"))
    make_group(engine, settings, aline, joining=(bea, carl, eve, fay, gus))
    tomorrow = (
        (datetime.now(UTC) + timedelta(days=1))
        .astimezone(visits.PARIS)
        .replace(hour=9, minute=0, second=0, microsecond=0)
    )
    first = _visit(engine, setup, tomorrow)
    second = _visit(engine, setup, tomorrow + timedelta(hours=3))
    later = _visit(engine, setup, tomorrow + timedelta(days=5))
    _visit(engine, setup, tomorrow + timedelta(minutes=30), provider="carlos")
    under_way = _visit(engine, setup, datetime.now(UTC) - timedelta(minutes=10))
    martin = make_user(engine, "martin")
    with db.session_scope(engine) as s:
        clocking.clock(s, settings, setup.provider, under_way, "in", manual_reason="other")
        home = s.get(Beneficiary, setup.beneficiary_id)
        assert home is not None
        home.user_id = martin.id
        s.add(home)
    with db.session_scope(engine) as s:
        replacement.declare_absence(
            s, settings, gus, first_day=tomorrow.date().isoformat(), last_day=tomorrow.date().isoformat()
        )
        absence, freed = replacement.declare_absence(
            s,
            settings,
            setup.provider,
            first_day=datetime.now(UTC).date().isoformat(),
            last_day=(tomorrow.date() + timedelta(days=1)).isoformat(),
            reason="malade",
        )
        assert sorted(v.id or 0 for v in freed) == [first, second]  # not the one under way, not the later one
    with db.session_scope(engine) as s:
        assert [s.get(Visit, v).provider_id for v in (first, second)] == [None, None]  # type: ignore[union-attr]
        assert s.get(Visit, under_way).provider_id == setup.provider.id  # type: ignore[union-attr]
        waiting = replacement.waiting(s, setup.coordinator)
        assert [line.visit.id for line, _row in waiting] == [first, second]
        with pytest.raises(PermissionDenied):
            replacement.waiting(s, bea)
        suggested = replacement.suggestions(s, setup.coordinator, first, colleagues_of)
        assert [person.username for person in suggested] == ["beatrice"]
        assert {"beatrice", "carlos"} <= {
            p.username for p in replacement.suggestions(s, setup.coordinator, second, colleagues_of)
        }
    with db.session_scope(engine) as s:
        done = replacement.reassign(s, settings, setup.coordinator, first, "beatrice")
        assert done.visit.provider_id == bea.id
    with db.session_scope(engine) as s:
        with pytest.raises(ValidationFailed):
            replacement.reassign(s, settings, setup.coordinator, first, "carlos")  # no longer waiting
        with pytest.raises(ValidationFailed):
            replacement.suggestions(s, setup.coordinator, later, colleagues_of)
        told = {(n.user_id, n.kind) for n in s.exec(select(Notification))}
        assert (bea.id, "visit_given") in told and (home.user_id, "visit_replaced") in told
        assert [line.visit.id for line, _row in replacement.waiting(s, setup.coordinator)] == [second]


@pytest.mark.parametrize(
    ("first", "last"), [("2026-12-10", "2026-12-09"), ("demain", "2026-12-09"), ("2026-01-01", "2027-06-01")]
)
def test_bad_days_are_refused(
    engine: Engine, settings: Settings, setup: Setup, first: str, last: str
) -> None:
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        replacement.declare_absence(s, settings, setup.provider, first_day=first, last_day=last)


def test_only_a_coordinator_declares_someone_elses_absence(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    other = make_user(engine, "zoelle")
    with pytest.raises(PermissionDenied), db.session_scope(engine) as s:
        replacement.declare_absence(
            s, settings, other, first_day="2026-12-10", last_day="2026-12-11", provider="aline"
        )
    with db.session_scope(engine) as s:
        absence, _ = replacement.declare_absence(
            s, settings, setup.coordinator, first_day="2026-12-10", last_day="2026-12-11", provider="aline"
        )
        assert absence.provider_id == setup.provider.id


def test_absence_and_replacement_on_the_pages(
    client: TestClient, engine: Engine, settings: Settings, setup: Setup
) -> None:
    bea = _person(engine, "beatrice")
    with db.session_scope(engine) as s:
        aline = s.get(User, setup.provider.id)
        assert aline is not None
    make_group(engine, settings, aline, joining=(bea,))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone(visits.PARIS).replace(hour=10, minute=0)
    visit_id = _visit(engine, setup, tomorrow)
    login(client, "aline")
    token = csrf(client, "/me/absence", "/me/absence")
    day = tomorrow.date().isoformat()
    bad = client.post("/me/absence", data={"csrf_token": token, "first_day": day, "last_day": "hier"})
    assert bad.status_code == 422
    done = client.post("/me/absence", data={"csrf_token": token, "first_day": day, "last_day": day})
    assert done.status_code == 303 and done.headers["location"] == "/me/visits?done=absence&freed=1"
    assert client.get("/me/absence").status_code == 200
    assert client.get("/telemanagement/replacements").status_code == 403
    client.cookies.clear()
    login(client, "coord")
    page = client.get("/telemanagement/replacements")
    assert page.status_code == 200 and 'value="beatrice"' in page.text
    token = form_token(page.text, f"/telemanagement/replacements/{visit_id}")
    assert client.get(f"/telemanagement/replacements/{visit_id}").status_code == 303
    given = client.post(
        f"/telemanagement/replacements/{visit_id}", data={"csrf_token": token, "provider": "beatrice"}
    )
    assert given.status_code == 303
    with db.session_scope(engine) as s:
        assert s.get(Visit, visit_id).provider_id == bea.id  # type: ignore[union-attr]
    again = client.post(
        f"/telemanagement/replacements/{visit_id}", data={"csrf_token": token, "provider": "beatrice"}
    )
    assert again.status_code == 422
