"""Clocking at the door: the home's QR token (signed, revocable, one home's only), the manual fallback
with its reason, one check-in then one check-out in order, an offline event's phone time kept beside
the time it arrived; then the anomalies and planned against done hours that follow."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from xml.etree import ElementTree

import pytest
import segno
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.core import db
from node.core.errors import Conflict, PermissionDenied, ValidationFailed
from node.settings import Settings
from node.telemanagement import checks, clocking, given, plans, visits
from node.telemanagement.models import ClockEvent, Visit
from tests.support.accounts import make_user
from tests.support.pages import login
from tests.support.telemanagement import CATEGORY, Setup, care_setup


def _visit(engine: Engine, setup: Setup, start: datetime, minutes: int = 60) -> int:
    local = start.astimezone(visits.PARIS).replace(tzinfo=None).isoformat(timespec="minutes")
    with db.session_scope(engine) as s:
        visit = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start=local,
            minutes=minutes,
            provider="aline",
        )
        return visit.id or 0


@pytest.fixture
def setup(engine: Engine, settings: Settings) -> Setup:
    return care_setup(engine, settings, valid_from=date.today() - timedelta(days=40))


def _token(engine: Engine, settings: Settings, beneficiary_id: int) -> str:
    with db.session_scope(engine) as s:
        return clocking.home_token(settings, plans.beneficiary(s, beneficiary_id))


def test_the_qr_code_carries_the_homes_url_as_svg(engine: Engine, settings: Settings, setup: Setup) -> None:
    with db.session_scope(engine) as s:
        home = plans.beneficiary(s, setup.beneficiary_id)
        svg = clocking.home_qr_svg(settings, home)
        url = clocking.home_url(settings, home)
    root = ElementTree.fromstring(svg)
    assert (
        root.tag == "{http://www.w3.org/2000/svg}svg"
        and root.find("{http://www.w3.org/2000/svg}path") is not None
    )
    assert url.startswith("http://testserver/home/") and url.endswith(
        _token(engine, settings, setup.beneficiary_id)
    )
    modules = segno.make(url, error="m").symbol_size(scale=6)
    assert (root.get("width"), root.get("height")) == (str(modules[0]), str(modules[1]))


def test_check_in_and_out_with_the_homes_code(engine: Engine, settings: Settings, setup: Setup) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    visit_id = _visit(engine, setup, now - timedelta(minutes=70))
    token = _token(engine, settings, setup.beneficiary_id)
    offline = now - timedelta(minutes=65)
    with db.session_scope(engine) as s:
        event = clocking.clock(s, settings, setup.provider, visit_id, "in", token=token, at=offline)
        assert (event.method, event.at) == ("qr", offline) and event.received_at > offline
    with pytest.raises(Conflict), db.session_scope(engine) as s:
        clocking.clock(s, settings, setup.provider, visit_id, "in", token=token)
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        clocking.clock(
            s, settings, setup.provider, visit_id, "out", token=token, at=offline - timedelta(minutes=1)
        )
    with db.session_scope(engine) as s:
        clocking.clock(s, settings, setup.provider, visit_id, "out", token=token)
    with pytest.raises(Conflict), db.session_scope(engine) as s:
        clocking.clock(s, settings, setup.provider, visit_id, "out", token=token)
    with db.session_scope(engine) as s:
        visit = s.get(Visit, visit_id)
        assert visit is not None and visit.state == "done"
        assert visit.checked_in_at == offline and visit.checked_out_at is not None
        assert [e.kind for e in clocking.events_of(s, visit_id)] == ["in", "out"]
        month = checks.plan_month(s, setup.plan_id, offline.astimezone(visits.PARIS).strftime("%Y-%m"))
        assert month.categories[CATEGORY].granted == 1200
        assert month.categories[CATEGORY].planned == 60
        assert 64 <= month.categories[CATEGORY].done <= 66
        assert month.hourly_rate_cents == 2458 and month.participation_bp == 1000


def test_forged_revoked_and_other_homes_codes_are_refused(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    now = datetime.now(UTC)
    visit_id = _visit(engine, setup, now)
    token = _token(engine, settings, setup.beneficiary_id)
    with db.session_scope(engine) as s:
        other = plans.create_beneficiary(s, settings, setup.coordinator, name="M. Durand")
        other_token = clocking.home_token(settings, other)
    first, generation, mac = token.split(".")
    forged = [f"{first}.{generation}.{mac[:-2]}AA", f"{first}.{int(generation) + 1}.{mac}", "garbage", ""]
    for bad in [*forged, other_token]:
        with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
            clocking.clock(s, settings, setup.provider, visit_id, "in", token=bad)
    with db.session_scope(engine) as s:
        clocking.revoke_home_code(s, setup.coordinator, setup.beneficiary_id)
    with pytest.raises(ValidationFailed) as caught, db.session_scope(engine) as s:
        clocking.clock(s, settings, setup.provider, visit_id, "in", token=token)
    assert caught.value.fields == {"token": clocking.MSG_TOKEN}
    stranger = make_user(engine, "stranger")
    with pytest.raises(PermissionDenied), db.session_scope(engine) as s:
        clocking.clock(s, settings, stranger, visit_id, "in", manual_reason="qr_missing")
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        clocking.clock(
            s, settings, setup.provider, visit_id, "in", at=now + timedelta(hours=1), manual_reason="other"
        )
    with db.session_scope(engine) as s:
        assert s.exec(select(ClockEvent)).all() == []
        visit = s.get(Visit, visit_id)
        assert visit is not None and visit.state == "planned" and visit.checked_in_at is None
    with db.session_scope(engine) as s:
        fresh = _token(engine, settings, setup.beneficiary_id)
        assert fresh != token
        clocking.clock(s, settings, setup.provider, visit_id, "in", token=fresh)


def test_anomalies_late_missing_short_outside_and_manual(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    late = _visit(engine, setup, now - timedelta(hours=5), minutes=120)
    missing_out = _visit(engine, setup, now - timedelta(hours=8), minutes=60)
    missing_in = _visit(engine, setup, now - timedelta(hours=26), minutes=60)
    fine = _visit(engine, setup, now - timedelta(hours=30), minutes=60)
    future = _visit(engine, setup, now + timedelta(hours=3), minutes=60)
    with db.session_scope(engine) as s:
        p = setup.provider
        clocking.clock(
            s, settings, p, late, "in", manual_reason="camera_broken", at=now - timedelta(hours=4, minutes=30)
        )
        clocking.clock(
            s,
            settings,
            p,
            late,
            "out",
            manual_reason="camera_broken",
            at=now - timedelta(hours=3, minutes=50),
        )
        clocking.clock(
            s,
            settings,
            p,
            missing_out,
            "in",
            token=_token(engine, settings, setup.beneficiary_id),
            at=now - timedelta(hours=8),
        )
        clocking.clock(s, settings, p, fine, "in", manual_reason="qr_missing", at=now - timedelta(hours=30))
        clocking.clock(s, settings, p, fine, "out", manual_reason="qr_missing", at=now - timedelta(hours=29))
    with db.session_scope(engine) as s:
        found = {
            a.line.visit.id: a.kinds
            for a in checks.anomalies(s, settings, now - timedelta(days=2), now + timedelta(days=1))
        }
    assert found[late] == ["late", "too_short", "manual"]  # in 30 min late, 40 min of 120
    assert found[missing_out] == ["missing_check_out"]
    assert found[missing_in] == ["missing_check_in"]
    assert found[fine] == ["manual"]
    assert future not in found
    with db.session_scope(engine) as s:
        given.cancel(s, settings, setup.coordinator, missing_in, "beneficiary_absent")
        after = {a.line.visit.id for a in checks.anomalies(s, settings, now - timedelta(days=2), now)}
    assert missing_in not in after


def test_outside_the_slot_is_a_pure_rule(settings: Settings) -> None:
    start = datetime(2026, 10, 5, 7, tzinfo=UTC)
    visit = Visit(
        plan_id=1,
        category=CATEGORY,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        state="done",
        checked_in_at=start - timedelta(minutes=40),
        checked_out_at=start + timedelta(minutes=50),
    )
    assert checks.anomalies_of(visit, settings, start + timedelta(days=1), False) == ["outside_slot"]
    visit.checked_in_at = start - timedelta(minutes=10)
    visit.checked_out_at = start + timedelta(hours=1, minutes=30)
    assert checks.anomalies_of(visit, settings, start + timedelta(days=1), False) == ["outside_slot"]
    visit.checked_out_at = start + timedelta(hours=1, minutes=10)
    assert checks.anomalies_of(visit, settings, start + timedelta(days=1), False) == []


def test_two_check_ins_sent_at_once_record_one(engine: Engine, settings: Settings, setup: Setup) -> None:
    """A double tap, or a phone resending: two transactions race; the visit's row lock (PostgreSQL) or
    the write lock (SQLite) lets one in, the other sees it checked in and is refused."""
    visit_id = _visit(engine, setup, datetime.now(UTC))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def tap() -> None:
        barrier.wait()
        try:
            with db.session_scope(engine, write=True) as s:
                clocking.clock(s, settings, setup.provider, visit_id, "in", manual_reason="qr_missing")
            outcomes.append("recorded")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=tap) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["recorded", "refused"]
    with db.session_scope(engine) as s:
        assert len(s.exec(select(ClockEvent)).all()) == 1


def test_the_day_keeps_the_evening_before_still_running_or_waiting_for_its_check_out(
    client: TestClient, engine: Engine, settings: Settings, setup: Setup
) -> None:
    """After midnight the provider still finds, on today's page, a visit that runs past midnight and one of
    the evening before not yet clocked; not one done, cancelled, or of the morning before."""
    day = date.today() - timedelta(days=2)
    evening = day - timedelta(days=1)

    def at(when: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(when, time(hour, minute), visits.PARIS)

    made = {
        name: _visit(engine, setup, start)
        for name, start in {
            "past_midnight": at(evening, 23, 30),
            "in_progress": at(evening, 21),
            "never_clocked": at(evening, 22),
            "done": at(evening, 20),
            "cancelled": at(evening, 19),
            "morning_before": at(evening, 10),
            "of_the_day": at(day, 9),
            "next_day": at(day + timedelta(days=1), 0),
        }.items()
    }
    with db.session_scope(engine) as s:
        for name, kind, moment in (
            ("in_progress", "in", at(evening, 21)),
            ("done", "in", at(evening, 20)),
            ("done", "out", at(evening, 21)),
        ):
            clocking.clock(
                s, settings, setup.provider, made[name], kind, at=moment, manual_reason="qr_missing"
            )
        given.cancel(s, settings, setup.coordinator, made["cancelled"], "beneficiary_absent")
    with db.session_scope(engine) as s:
        shown = [door.line.visit.id for door in clocking.provider_day(s, settings, setup.provider, day)]
    expected = ["in_progress", "never_clocked", "past_midnight", "of_the_day"]
    assert shown == [made[name] for name in expected]
    login(client, "aline")
    page = client.get(f"/me/visits?day={day.isoformat()}").text
    assert page.count("La veille, ") == 3 and "09:00–10:00" in page
