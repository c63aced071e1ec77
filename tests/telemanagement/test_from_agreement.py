"""A care plan made from an agreement: the beneficiary side (or a coordinator) turns a weekly agreement
into a plan billed privately at the agreed price, its visits planned by the series' RFC 5545 code and
assigned to the provider; asking again gives the same plan; nobody else may; the agreement page links
to the plan; the API answers the same."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import func, select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.accounts.models import Role, User
from node.core import db
from node.core.errors import Conflict, PermissionDenied
from node.market import schedule as sched
from node.market.models import Agreement
from node.settings import Settings
from node.telemanagement import from_agreement, plans
from node.telemanagement.models import Funder, Visit, VisitSeries
from node.telemanagement.visits import PARIS, today
from tests.support.accounts import make_user
from tests.support.evaluations import make_agreement, uri
from tests.support.pages import csrf, login


def _monday_after(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


def _weekly(first: date) -> sched.WeeklyRecurrence:
    """Tuesdays and Thursdays 14 h–16 h for three weeks from a Monday."""
    return sched.WeeklyRecurrence((1, 3), time(14), time(16), first, first + timedelta(days=20))


def _agreement(
    engine: Engine,
    settings: Settings,
    schedule: sched.Schedule,
    *,
    state: str = "accepted",
    price: str = "22.50",
    basis: str = "per_hour",
) -> tuple[int, User, User]:
    bea, aline = make_user(engine, "bea"), make_user(engine, "aline")
    row = make_agreement(
        engine,
        settings,
        provider=uri(settings, aline),
        requester=uri(settings, bea),
        state=state,
        provider_id=aline.id,
        requester_id=bea.id,
    )
    with db.session_scope(engine) as s:
        found = s.get(Agreement, row.id)
        assert found is not None
        found.schedule = json.dumps(sched.to_json(schedule))
        found.price_amount, found.price_currency, found.price_basis = Decimal(price), "EUR", basis
        found.quantity_hours = Decimal("12")
        s.add(found)
    return row.id or 0, bea, aline


def _count(engine: Engine, table: type[Visit] | type[VisitSeries]) -> int:
    with db.session_scope(engine) as s:
        return s.exec(select(func.count()).select_from(table)).one()


def test_the_beneficiary_makes_a_plan_of_a_weekly_agreement_once(engine: Engine, settings: Settings) -> None:
    first = _monday_after(today())
    agreement_id, bea, aline = _agreement(engine, settings, _weekly(first))
    with db.session_scope(engine) as s:
        made = from_agreement.make_plan(s, settings, bea, agreement_id)
        assert made.created and made.visits == 6
        plan = made.plan
        funder = s.get(Funder, plan.funder_id)
        assert funder is not None and funder.kind == "private" and funder.billing == "beneficiary"
        assert plan.folder_number == f"ACC-{agreement_id}"
        version = plans.versions(s, plan.id or 0)[0]
        assert version.hourly_rate_cents == 2250 and version.participation_bp == 10000
        assert version.valid_from == first + timedelta(days=1)
        assert version.valid_until == first + timedelta(days=17)
        busiest = max(
            sum(1 for d in (1, 3, 8, 10, 15, 17) if (first + timedelta(days=d)).month == m)
            for m in {(first + timedelta(days=d)).month for d in (1, 3, 8, 10, 15, 17)}
        )
        assert plans.hours_of(s, version.id or 0) == {"housework": busiest * 120}
        home = plans.beneficiary(s, plan.beneficiary_id)
        assert home.user_id == bea.id and home.name == bea.name
        rows = s.exec(select(Visit).where(Visit.plan_id == plan.id).order_by(Visit.starts_at)).all()  # type: ignore[arg-type]
        assert [v.provider_id for v in rows] == [aline.id] * 6
        local = [v.starts_at.astimezone(PARIS) for v in rows]
        assert [t.date() for t in local] == [first + timedelta(days=d) for d in (1, 3, 8, 10, 15, 17)]
        assert {(t.hour, t.minute) for t in local} == {(14, 0)}
        assert {v.ends_at - v.starts_at for v in rows} == {timedelta(hours=2)}
        series = s.get(VisitSeries, rows[0].series_id)
        assert series is not None and series.rule.startswith("FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=")
    with db.session_scope(engine) as s:
        again = from_agreement.make_plan(s, settings, bea, agreement_id)
        assert not again.created and again.plan.id == plan.id
    assert _count(engine, Visit) == 6 and _count(engine, VisitSeries) == 1


def test_only_the_beneficiary_or_a_coordinator_and_only_an_agreement_in_force(
    engine: Engine, settings: Settings
) -> None:
    first = _monday_after(today())
    agreement_id, _bea, aline = _agreement(engine, settings, _weekly(first))
    stranger = make_user(engine, "zoe")
    coordinator = make_user(engine, "coord", role=Role.COORDINATOR)
    with db.session_scope(engine) as s:
        for who in (aline, stranger):  # the provider is not the beneficiary side
            with pytest.raises(PermissionDenied):
                from_agreement.make_plan(s, settings, who, agreement_id)
    with db.session_scope(engine) as s:
        agreement = s.get(Agreement, agreement_id)
        assert agreement is not None
        agreement.state = "cancelled"
        s.add(agreement)
    with db.session_scope(engine) as s, pytest.raises(Conflict):
        from_agreement.make_plan(s, settings, coordinator, agreement_id)
    assert _count(engine, Visit) == 0


def test_a_one_off_agreement_at_a_total_price_becomes_one_visit(engine: Engine, settings: Settings) -> None:
    day = _monday_after(today())
    start = sched.TimeWindow(
        datetime.combine(day, time(9), tzinfo=PARIS), datetime.combine(day, time(12), tzinfo=PARIS)
    )
    agreement_id, _bea, aline = _agreement(engine, settings, start, price="90", basis="total")
    coordinator = make_user(engine, "coord", role=Role.COORDINATOR)
    with db.session_scope(engine) as s:
        made = from_agreement.make_plan(s, settings, coordinator, agreement_id)
        assert made.visits == 1
        version = plans.versions(s, made.plan.id or 0)[0]
        assert version.hourly_rate_cents == 750  # 90 € over the 12 agreed hours
        visit = s.exec(select(Visit)).one()
        assert visit.provider_id == aline.id and visit.ends_at - visit.starts_at == timedelta(hours=3)


def test_the_agreement_page_makes_and_links_the_plan(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    agreement_id, _bea, _aline = _agreement(engine, settings, _weekly(_monday_after(today())))
    login(client, "bea")
    page = f"/me/agreements/{agreement_id}"
    action = f"/me/agreement-plans/{agreement_id}"
    token = csrf(client, page, action)
    assert client.get(action).status_code == 303
    made = client.post(action, data={"csrf_token": token})
    assert made.status_code == 303 and "done=plan_made" in made.headers["location"]
    shown = client.get(page).text
    assert f"ACC-{agreement_id}" in shown and action not in shown
    again = client.post(action, data={"csrf_token": token})
    assert again.status_code == 303 and "done=plan_exists" in again.headers["location"]
    assert _count(engine, Visit) == 6
    client.cookies.clear()
    login(client, "aline")  # the provider sees the plan, without the button
    shown = client.get(page).text
    assert f"ACC-{agreement_id}" in shown and action not in shown
    client.cookies.clear()
    make_user(engine, "zoe")
    login(client, "zoe")
    assert client.post(action, data={"csrf_token": csrf(client, "/me/absence")}).status_code == 403


def test_the_api_makes_the_plan_once(client: TestClient, engine: Engine, settings: Settings) -> None:
    agreement_id, bea, aline = _agreement(engine, settings, _weekly(_monday_after(today())))
    with db.session_scope(engine) as s:
        mine = {"Authorization": f"Bearer {credentials.create_api_token(bea, 'tests', session=s)[1]}"}
        theirs = {"Authorization": f"Bearer {credentials.create_api_token(aline, 'tests', session=s)[1]}"}
    path = f"/api/v1/agreements/{agreement_id}/care-plan"
    assert client.post(path, headers=theirs).status_code == 403
    first = client.post(path, headers=mine)
    assert first.status_code == 200 and first.json()["created"] and first.json()["visits_planned"] == 6
    second = client.post(path, headers=mine)
    assert second.status_code == 200 and not second.json()["created"]
    assert second.json()["plan_id"] == first.json()["plan_id"]
    assert client.post("/api/v1/agreements/999999/care-plan", headers=mine).status_code == 404
    assert _count(engine, Visit) == 6
