"""Visit notes and the access log: a provider's note on their visit is sealed at rest, read by its
author and the coordinators only, refused to others; every opening of sealed data is logged and listed
for coordinators; bad input changes nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select
from starlette.testclient import TestClient

from node.accounts.models import Role
from node.core import db
from node.core.errors import PermissionDenied, ValidationFailed
from node.settings import Settings
from node.telemanagement import clocking, notes, plans, visits
from node.telemanagement.tables import SealedAccess, VisitNote
from tests.support.accounts import make_user
from tests.support.pages import csrf, login
from tests.support.telemanagement import CATEGORY, Setup, care_setup


def _visit(engine: Engine, setup: Setup) -> int:
    start = datetime.now(visits.PARIS).replace(second=0, microsecond=0, tzinfo=None) + timedelta(hours=2)
    with db.session_scope(engine) as s:
        visit = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start=start.isoformat(timespec="minutes"),
            minutes=60,
            provider="aline",
        )
        return visit.id or 0


def _accesses(engine: Engine) -> list[SealedAccess]:
    with db.session_scope(engine) as s:
        return list(s.exec(select(SealedAccess).order_by(SealedAccess.id)))  # type: ignore[arg-type]


@pytest.fixture
def setup(engine: Engine, settings: Settings) -> Setup:
    return care_setup(engine, settings, valid_from=date.today() - timedelta(days=40))


def test_a_note_is_sealed_read_by_its_author_and_coordinators_and_each_read_is_logged(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    visit_id = _visit(engine, setup)
    with db.session_scope(engine) as s:
        notes.write(s, settings, setup.provider, visit_id, "Courses faites", "Chute la veille, bleu au bras")
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT sealed FROM tm_visit_notes")).scalar_one()
    assert stored.startswith("v1:") and "Courses" not in stored and "Chute" not in stored
    assert _accesses(engine) == []
    with db.session_scope(engine) as s:
        mine = notes.read(s, settings, setup.provider, visit_id)
        theirs = notes.read(s, settings, setup.coordinator, visit_id)
    assert mine is not None and theirs is not None
    assert (
        (mine.text, mine.health)
        == ("Courses faites", "Chute la veille, bleu au bras")
        == (
            theirs.text,
            theirs.health,
        )
    )
    logged = _accesses(engine)
    assert [(a.user_id, a.record, a.record_id) for a in logged] == [
        (setup.provider.id, "visit_note", visit_id),
        (setup.coordinator.id, "visit_note", visit_id),
    ]
    stranger = make_user(engine, "bruno")
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        notes.read(s, settings, stranger, visit_id)
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        notes.write(s, settings, stranger, visit_id, "Pas ma visite", "")
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        notes.access_log(s, setup.provider)
    assert len(_accesses(engine)) == 2


def test_bad_notes_are_refused_and_change_nothing(engine: Engine, settings: Settings, setup: Setup) -> None:
    visit_id = _visit(engine, setup)
    for body, health, field in (("", "  ", "text"), ("x" * 4001, "", "text"), ("ok", "y" * 4001, "health")):
        with db.session_scope(engine) as s, pytest.raises(ValidationFailed) as refused:
            notes.write(s, settings, setup.provider, visit_id, body, health)
        assert field in refused.value.fields
    with db.session_scope(engine) as s:
        assert s.exec(select(VisitNote)).first() is None


def test_every_opening_of_a_beneficiary_s_sealed_details_is_logged(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    visit_id = _visit(engine, setup)
    with db.session_scope(engine) as s:
        when = visits.visit_of(s, visit_id).starts_at.astimezone(visits.PARIS).date()
        day = clocking.provider_day(s, settings, setup.provider, when)
        plans.private_details(
            s,
            settings,
            plans.beneficiary(s, setup.beneficiary_id),
            reader_id=setup.coordinator.id,
            fields="address,door_code,health",
            purpose="page",
        )
    assert day and day[0].details.door_code == "4812B" and day[0].details.health == ""
    logged = [(a.user_id, a.record, a.record_id, a.fields, a.purpose) for a in _accesses(engine)]
    assert logged == [
        (setup.provider.id, "beneficiary", setup.beneficiary_id, "address,door_code", "provider_day"),
        (setup.coordinator.id, "beneficiary", setup.beneficiary_id, "address,door_code,health", "page"),
    ]
    with db.session_scope(engine) as s:
        listed = notes.access_log(s, setup.coordinator)
    assert [name for _row, name in listed] == ["coord", "aline"]


def test_notes_and_the_access_log_on_the_pages(client: TestClient, engine: Engine) -> None:
    settings = client.app.state.node.settings  # type: ignore[attr-defined]
    setup = care_setup(engine, settings, valid_from=date.today() - timedelta(days=40))
    visit_id = _visit(engine, setup)
    make_user(engine, "bruno")
    make_user(engine, "admin2", role=Role.ADMIN)
    login(client, "aline")
    path = f"/me/visits/{visit_id}/note"
    assert client.get(path).status_code == 200
    token = csrf(client, path)
    bad = client.post(path, data={"csrf_token": token, "text": "", "health": ""})
    assert bad.status_code == 422 and "Écrivez une note" in bad.text
    saved = client.post(path, data={"csrf_token": token, "text": "Repas préparé", "health": "Tousse"})
    assert saved.status_code == 303
    assert "Tousse" in client.get(saved.headers["location"]).text
    client.cookies.clear()
    login(client, "bruno")
    assert client.get(path).status_code == 403
    assert client.get("/telemanagement/access-log").status_code == 403
    client.cookies.clear()
    login(client, "coord")
    page = client.get(f"/telemanagement/visits/{visit_id}")
    assert "Repas préparé" in page.text and "Tousse" in page.text
    assert client.get(f"/telemanagement/beneficiaries/{setup.beneficiary_id}").status_code == 200
    log = client.get("/telemanagement/access-log")
    assert log.status_code == 200
    assert log.text.count(f'href="/telemanagement/visits/{visit_id}"') >= 2
    assert "address,door_code,health" in log.text
    client.cookies.clear()
    login(client, "admin2")
    assert client.get("/telemanagement/access-log").status_code == 200
