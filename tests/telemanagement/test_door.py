"""At the door besides the QR code: the home's PIN (drawn once, kept as an HMAC), an event kept on a
phone without network and sent later (its phone time and an "offline" mark kept, recorded once however
often it is sent), and the one-off position check whose result alone is kept."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.core import db
from node.core.errors import Conflict, PermissionDenied, ValidationFailed
from node.settings import Settings
from node.telemanagement import checks, clocking, clocklog, door, plans, visits
from node.telemanagement.models import ClockEvent
from node.telemanagement.tables import ClockLogEntry, HomePin
from tests.support.pages import csrf, login
from tests.support.telemanagement import Setup, care_setup, visit_started_ago

MONTREUIL = (48.8601, 2.4412)  # a street of Montreuil, 0.6 km from its centre
LYON = (45.7640, 4.8357)


@pytest.fixture
def setup(engine: Engine, settings: Settings) -> Setup:
    return care_setup(engine, settings, valid_from=date.today() - timedelta(days=40))


def _visit(engine: Engine, setup: Setup, minutes_ago: int = 70) -> int:
    return visit_started_ago(engine, setup, minutes_ago)


def _count(engine: Engine) -> tuple[int, int]:
    with db.session_scope(engine) as s:
        return len(s.exec(select(ClockEvent)).all()), len(s.exec(select(ClockLogEntry)).all())


def test_the_homes_pin(engine: Engine, settings: Settings, setup: Setup) -> None:
    visit_id = _visit(engine, setup)
    with pytest.raises(ValidationFailed, match="no PIN"), db.session_scope(engine) as s:
        clocking.clock(s, settings, setup.provider, visit_id, "in", pin="123456")
    with pytest.raises(PermissionDenied), db.session_scope(engine) as s:
        door.new_pin(s, settings, setup.provider, setup.beneficiary_id)
    with db.session_scope(engine) as s:
        pin = door.new_pin(s, settings, setup.coordinator, setup.beneficiary_id)
        stored = s.exec(select(HomePin)).one()
    assert len(pin) == 6 and pin.isdigit() and pin not in stored.pin_hash and len(stored.pin_hash) == 64
    wrong = f"{(int(pin) + 1) % 10**6:06d}"
    for bad in (wrong, "12345", "abcdef"):
        with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
            clocking.clock(s, settings, setup.provider, visit_id, "in", pin=bad)
    assert _count(engine) == (0, 0)
    with db.session_scope(engine) as s:
        assert clocking.clock(s, settings, setup.provider, visit_id, "in", pin=pin).method == "pin"
    with db.session_scope(engine) as s:  # a new PIN replaces the old one
        again = door.new_pin(s, settings, setup.coordinator, setup.beneficiary_id)
    if again != pin:
        with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
            clocking.clock(s, settings, setup.provider, visit_id, "out", pin=pin)
    with db.session_scope(engine) as s:
        assert clocking.clock(s, settings, setup.provider, visit_id, "out", pin=again).method == "pin"
        assert clocklog.verify(s).ok


def test_an_event_kept_offline_is_recorded_once(engine: Engine, settings: Settings, setup: Setup) -> None:
    visit_id = _visit(engine, setup)
    on_phone = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=62)
    for _ in range(3):  # the phone sends it again: once because the answer was lost, once more
        with db.session_scope(engine, write=True) as s:
            event = clocking.clock(
                s,
                settings,
                setup.provider,
                visit_id,
                "in",
                manual_reason="no_network",
                at=on_phone,
                offline=True,
                client_id="phone-0001-abcd",
            )
            assert event.at == on_phone
    assert _count(engine) == (1, 1)
    with db.session_scope(engine) as s:
        link = s.exec(select(ClockLogEntry)).one()
        assert (link.offline, link.client_id, link.at) == (True, "phone-0001-abcd", on_phone)
        assert link.received_at > on_phone + timedelta(minutes=60)
        assert door.offline_of(s, [link.event_id or 0]) == {link.event_id}
    with pytest.raises(Conflict, match="another event"), db.session_scope(engine) as s:
        clocking.clock(
            s, settings, setup.provider, visit_id, "out", manual_reason="other", client_id="phone-0001-abcd"
        )
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        clocking.clock(
            s, settings, setup.provider, visit_id, "out", manual_reason="other", client_id="bad id!"
        )
    assert _count(engine) == (1, 1)


@pytest.mark.parametrize(("where", "found"), [(MONTREUIL, "inside"), (LYON, "outside"), (None, "")])
def test_the_position_check_keeps_the_result_only(
    engine: Engine, settings: Settings, setup: Setup, where: tuple[float, float] | None, found: str
) -> None:
    checking = dataclasses.replace(settings, telemanagement_position_check=True)
    visit_id = _visit(engine, setup)
    with db.session_scope(engine) as s:
        clocking.clock(s, checking, setup.provider, visit_id, "in", manual_reason="other", position=where)
        link = s.exec(select(ClockLogEntry)).one()
        assert link.position == found
        assert door.outside_area(s, [visit_id]) == ({visit_id} if found == "outside" else set())
        visit = s.get(ClockEvent, link.event_id).visit_id  # type: ignore[union-attr]
        kinds = checks.visit_anomalies(s, checking, visits.visit_of(s, visit))
        assert ("out_of_area" in kinds) == (found == "outside")
        columns = " ".join(str(value) for value in link.model_dump().values())
        assert "48.86" not in columns and "45.76" not in columns


def test_no_position_is_looked_at_unless_the_node_asks(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    visit_id = _visit(engine, setup)
    with db.session_scope(engine) as s:
        clocking.clock(s, settings, setup.provider, visit_id, "in", manual_reason="other", position=LYON)
        assert s.exec(select(ClockLogEntry)).one().position == ""
    checking = dataclasses.replace(settings, telemanagement_position_check=True)
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        clocking.clock(
            s, checking, setup.provider, visit_id, "out", manual_reason="other", position=(91.0, 0.0)
        )


def test_offline_events_through_the_api(
    client: TestClient, engine: Engine, settings: Settings, setup: Setup
) -> None:
    visit_id = _visit(engine, setup)
    with db.session_scope(engine) as s:
        token = credentials.create_api_token(setup.provider, "tests", session=s)[1]
        home_token = clocking.home_token(settings, plans.beneficiary(s, setup.beneficiary_id))
    headers = {"Authorization": f"Bearer {token}"}
    on_phone = (datetime.now(UTC) - timedelta(minutes=65)).replace(microsecond=0)
    body = {
        "visit_id": visit_id,
        "kind": "in",
        "token": home_token,
        "at": on_phone.isoformat(),
        "offline": True,
        "client_id": "4f1c2b9e-0d6a-4c1e-9a51-3f2e7c8d9b10",
    }
    first = client.post("/api/v1/clock-events", headers=headers, json=body)
    again = client.post("/api/v1/clock-events", headers=headers, json=body)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json() == again.json()
    assert first.json()["offline"] is True and first.json()["at"].startswith(
        on_phone.strftime("%Y-%m-%dT%H:%M")
    )
    bad = client.post("/api/v1/clock-events", headers=headers, json={**body, "client_id": "x y"})
    assert bad.status_code == 422
    assert _count(engine) == (1, 1)


def test_a_coordinator_draws_the_pin_on_the_beneficiarys_page(
    client: TestClient, engine: Engine, settings: Settings, setup: Setup
) -> None:
    login(client, "coord")
    page = f"/telemanagement/beneficiaries/{setup.beneficiary_id}"
    token = csrf(client, page, f"{page}/pin")
    assert client.get(f"{page}/pin").status_code == 303
    drawn = client.post(f"{page}/pin", data={"csrf_token": token})
    assert drawn.status_code == 200 and drawn.headers["cache-control"] == "no-store"
    pin = re.search(r'data-testid="home-pin"><strong>(\d{6})<', drawn.text)
    assert pin is not None
    assert pin.group(1) not in client.get(page).text
    with db.session_scope(engine) as s:
        door.check_pin(s, settings, setup.beneficiary_id, pin.group(1))
    client.cookies.clear()
    login(client, "aline")
    token = csrf(client, "/me/absence", "/me/absence")
    assert client.post(f"{page}/pin", data={"csrf_token": token}).status_code == 403
