"""The limit on wrong PINs: each wrong PIN is counted and kept although the clock event is refused;
after ``telemanagement_pin_max_failures`` of them in a row the home's PIN is locked, the provider is
told so even with the right PIN, the coordinator sees the lock, and a new PIN unlocks it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.core import db
from node.core.errors import ValidationFailed
from node.settings import Settings, SettingsError, load_settings
from node.telemanagement import clocking, clocklog, door, federation, given, visits
from node.telemanagement.models import ClockEvent
from node.telemanagement.tables import HomePin
from tests.support.pages import form_token, login
from tests.support.telemanagement import CATEGORY, Setup, care_setup, started_ago, visit_started_ago


@pytest.fixture
def setup(engine: Engine, settings: Settings) -> Setup:
    return care_setup(engine, settings, valid_from=date.today() - timedelta(days=40))


def _failures(engine: Engine) -> int:
    with db.session_scope(engine) as s:
        return s.exec(select(HomePin)).one().failures


def _events(engine: Engine) -> int:
    with db.session_scope(engine) as s:
        return len(s.exec(select(ClockEvent)).all())


def _wrong(pin: str) -> str:
    return f"{(int(pin) + 1) % 10**6:06d}"


def test_wrong_pins_are_counted_then_lock_the_pin_until_a_new_one(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    settings = settings.replace(telemanagement_pin_max_failures=3)
    visit_id = visit_started_ago(engine, setup)
    with db.session_scope(engine) as s:
        pin = door.new_pin(s, settings, setup.coordinator, setup.beneficiary_id)
    with pytest.raises(door.WrongPin, match="not this home's"), db.session_scope(engine) as s:
        clocking.clock(s, settings, setup.provider, visit_id, "in", pin=_wrong(pin))
    assert _failures(engine) == 1  # kept although the transaction refused the event
    with db.session_scope(engine) as s:  # the right PIN: counting starts again
        clocking.clock(s, settings, setup.provider, visit_id, "in", pin=pin)
    assert _failures(engine) == 0
    for attempt in range(3):
        with pytest.raises(door.WrongPin) as refused, db.session_scope(engine) as s:
            clocking.clock(s, settings, setup.provider, visit_id, "out", pin=_wrong(pin))
        assert ("locked" in refused.value.message) == (attempt == 2)
    assert _failures(engine) == 3
    with pytest.raises(door.WrongPin, match="locked"), db.session_scope(engine) as s:
        clocking.clock(s, settings, setup.provider, visit_id, "out", pin=pin)  # right, but locked
    assert _failures(engine) == 3 and _events(engine) == 1
    with db.session_scope(engine) as s:
        assert door.locked(s, settings, setup.beneficiary_id)
        fresh = door.new_pin(s, settings, setup.coordinator, setup.beneficiary_id)
    with db.session_scope(engine) as s:
        assert not door.locked(s, settings, setup.beneficiary_id)
        clocking.clock(s, settings, setup.provider, visit_id, "out", pin=fresh)
    with db.session_scope(engine) as s:
        assert _events(engine) == 2 and clocklog.verify(s).ok


def test_the_provider_is_told_and_the_coordinator_sees_the_lock(
    client: TestClient, engine: Engine, settings: Settings, setup: Setup
) -> None:
    visit_id = visit_started_ago(engine, setup)
    with db.session_scope(engine) as s:
        pin = door.new_pin(s, settings, setup.coordinator, setup.beneficiary_id)
        token = credentials.create_api_token(setup.provider, "tests", session=s)[1]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"visit_id": visit_id, "kind": "in", "pin": _wrong(pin)}
    for _ in range(settings.telemanagement_pin_max_failures - 1):
        assert client.post("/api/v1/clock-events", headers=headers, json=body).status_code == 422
    login(client, "aline")
    day = client.get("/me/visits")
    action = f"/me/visits/{visit_id}/clock"
    refused = client.post(
        action, data={"csrf_token": form_token(day.text, action), "kind": "in", "pin": _wrong(pin)}
    )
    assert refused.status_code == 422 and "verrouillé" in refused.text
    assert _failures(engine) == settings.telemanagement_pin_max_failures
    right = client.post("/api/v1/clock-events", headers=headers, json={**body, "pin": pin})
    assert right.status_code == 422 and "locked" in right.text and _events(engine) == 0
    client.cookies.clear()
    login(client, "coord")
    page = f"/telemanagement/beneficiaries/{setup.beneficiary_id}"
    assert 'data-testid="pin-locked"' in client.get(page).text
    drawn = client.post(f"{page}/pin", data={"csrf_token": form_token(client.get(page).text, f"{page}/pin")})
    fresh = re.search(r'data-testid="home-pin"><strong>(\d{6})<', drawn.text)
    assert fresh is not None and 'data-testid="pin-locked"' not in client.get(page).text
    assert (
        client.post("/api/v1/clock-events", headers=headers, json={**body, "pin": fresh.group(1)}).status_code
        == 201
    )


def test_the_limit_is_a_setting_between_1_and_100(settings: Settings) -> None:
    assert settings.telemanagement_pin_max_failures == 5
    with pytest.raises(SettingsError):
        load_settings(env={"ASASAP_TELEMANAGEMENT_PIN_MAX_FAILURES": "0"})
    assert not issubclass(ValidationFailed, door.WrongPin)


def test_a_wrong_pin_from_another_node_is_counted_in_the_inbox_savepoint(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    bob = "https://bagnolet.test/users/bob"
    with db.session_scope(engine) as s:
        pin = door.new_pin(s, settings, setup.coordinator, setup.beneficiary_id)
        visit = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start=started_ago(30),
            minutes=60,
        )
        given.give_to_remote(s, settings, setup.coordinator, visit.id or 0, bob)
        visit_id = visit.id or 0
    clock = federation.VisitClock(
        id="https://bagnolet.test/telemanagement/clock-events/1",
        provider=bob,
        receiver=settings.url("/actor"),
        fulfills=federation.visit_uri(settings, visit_id),
        kind="in",
        at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=25),
        method="pin",
        pin=_wrong(pin),
    )
    with db.session_scope(engine) as s:  # as the inbox runs a handler: in a savepoint, kept when it returns
        savepoint = s.begin_nested()
        with pytest.raises(door.WrongPin):
            federation.receive(s, settings, clock, bob)
        savepoint.commit()
    assert _failures(engine) == 1 and _events(engine) == 0
