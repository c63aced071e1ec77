"""Telemanagement through the pages: a coordinator enters a funder, a beneficiary and a plan, plans a
weekly series, sees the week board and prints the home's QR code; the provider opens what the code
says, checks in and out, sees the day with the address and door code; the coordinator sees the visit
done and the anomalies; the calendar feed and its replacement; bad input answered with 4xx."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.accounts.models import Role
from node.core import db
from node.http.pages.telemanagement import labels
from node.telemanagement import checks, clocking, plans, visits
from node.telemanagement.lifecycles import VisitState
from node.telemanagement.models import ClockEvent, Visit
from node.telemanagement.visits import PARIS
from tests.support.accounts import make_user
from tests.support.pages import csrf, form_token, login


def test_from_plan_to_clocked_visit_on_the_pages(client: TestClient, engine: Engine) -> None:
    make_user(engine, "coord", role=Role.COORDINATOR)
    make_user(engine, "aline")
    login(client, "coord")
    token = csrf(client, "/telemanagement", "/telemanagement/funders")
    made = client.post(
        "/telemanagement/funders",
        data={
            "csrf_token": token,
            "name": "CD 93",
            "kind": "apa",
            "billing": "direct",
            "reference": "R-1",
            "siret": "",
        },
    )
    assert made.status_code == 303
    bad = client.post(
        "/telemanagement/funders", data={"csrf_token": token, "name": "", "kind": "x", "billing": "direct"}
    )
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    made = client.post(
        "/telemanagement/beneficiaries",
        data={
            "csrf_token": token,
            "name": "Mme Martin",
            "commune": "Montreuil",
            "address": "12 rue de Paris",
            "door_code": "4812B",
            "health": "GIR 3",
        },
    )
    assert made.status_code == 303
    home_id, _ = made.headers["location"].rsplit("/", 1)[1], None
    page = client.get(made.headers["location"])
    assert "4812B" in page.text and "GIR 3" in page.text
    svg = client.get(f"/telemanagement/beneficiaries/{home_id}/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml" and "<svg" in svg.text
    today = datetime.now(PARIS).date()
    overview = client.get("/telemanagement")
    funder_id = re.search(r'name="funder"><option value="(\d+)"', overview.text)
    assert funder_id
    made = client.post(
        "/telemanagement/plans",
        data={
            "csrf_token": token,
            "beneficiary": home_id,
            "funder": funder_id.group(1),
            "folder_number": "APA-1",
            "valid_from": (today - timedelta(days=10)).isoformat(),
            "valid_until": (today + timedelta(days=20)).isoformat(),
            "hourly_rate": "24,58",
            "participation": "10",
            "hours_housework": "20",
        },
    )
    assert made.status_code == 303
    plan_page = made.headers["location"]
    start = datetime.now(UTC).astimezone(PARIS) - timedelta(minutes=5)
    planned = client.post(
        f"{plan_page}/visits",
        data={
            "csrf_token": token,
            "category": "housework",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "minutes": "60",
            "provider": "aline",
            "rule": "FREQ=DAILY;INTERVAL=7",
            "excluded": "",
        },
    )
    assert planned.status_code == 303 and "count=" in planned.headers["location"]
    count = int(planned.headers["location"].rsplit("=", 1)[1])
    assert 2 <= count <= 4
    refused = client.post(
        f"{plan_page}/visits",
        data={
            "csrf_token": token,
            "category": "gardening",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "minutes": "60",
            "provider": "",
            "rule": "",
            "excluded": "",
        },
    )
    assert refused.status_code == 422
    assert client.get(f"{plan_page}/visits").status_code == 303  # a reload of the form's URL
    board = client.get("/telemanagement/board")
    assert board.status_code == 200 and "Mme Martin" in board.text
    qr_page = client.get(f"/telemanagement/beneficiaries/{home_id}")
    assert 'src="/telemanagement/beneficiaries/' in qr_page.text
    with db.session_scope(engine) as s:
        settings = client.app.state.node.settings  # type: ignore[attr-defined]
        url = clocking.home_url(settings, plans.beneficiary(s, int(home_id)))
        visit = s.exec(select(Visit).order_by(Visit.starts_at)).first()  # type: ignore[arg-type]
        assert visit is not None
        visit_id = visit.id
    client.cookies.clear()
    login(client, "aline")
    path = url.removeprefix("http://testserver")
    home = client.get(path)
    assert home.status_code == 200 and "Mme Martin" in home.text
    checked_in = client.post(
        f"/me/visits/{visit_id}/clock",
        data={
            "csrf_token": form_token(home.text, f"/me/visits/{visit_id}/clock"),
            "kind": "in",
            "token": path.rsplit("/", 1)[1],
            "back": path,
        },
    )
    assert checked_in.status_code == 303 and checked_in.headers["location"] == f"{path}?done=in"
    again = client.post(
        f"/me/visits/{visit_id}/clock",
        data={
            "csrf_token": form_token(home.text, f"/me/visits/{visit_id}/clock"),
            "kind": "in",
            "token": path.rsplit("/", 1)[1],
        },
    )
    assert again.status_code == 409
    day = client.get("/me/visits")
    assert "12 rue de Paris" in day.text and "4812B" in day.text and "GIR 3" not in day.text
    out = client.post(
        f"/me/visits/{visit_id}/clock",
        data={
            "csrf_token": form_token(day.text, f"/me/visits/{visit_id}/clock"),
            "kind": "out",
            "token": "",
            "manual_reason": "qr_damaged",
        },
    )
    assert out.status_code == 303
    assert client.get("/telemanagement").status_code == 403
    feed = re.search(r'value="(http://testserver/calendar/[^"]+\.ics)"', client.get("/me/visits").text)
    assert feed
    ics = client.get(feed.group(1).removeprefix("http://testserver"))
    assert (
        ics.status_code == 200
        and ics.text.startswith("BEGIN:VCALENDAR\r\n")
        and ics.text.count("BEGIN:VEVENT") == count
    )
    assert "rue de Paris" not in ics.text and "Martin" not in ics.text and "4812B" not in ics.text
    replaced = client.post(
        "/me/visits/feed", data={"csrf_token": csrf(client, "/me/visits", "/me/visits/feed")}
    )
    assert replaced.status_code == 303
    assert client.get(feed.group(1).removeprefix("http://testserver")).status_code == 404
    client.cookies.clear()
    login(client, "coord")
    visit_page = client.get(f"/telemanagement/visits/{visit_id}")
    state = re.search(r"data-testid=\"visit-state\">([^<]*)<", visit_page.text)
    assert state and state.group(1) == "Fait", visit_page.text[-3000:]
    anomalies = client.get("/telemanagement/anomalies")
    assert f'data-visit="{visit_id}"' in anomalies.text  # too short and clocked by hand
    month = client.get(plan_page)
    assert 'data-testid="plan-month"' in month.text and "20.00 h" in month.text
    statement = client.get(f"/telemanagement/funders/{funder_id.group(1)}/statement.csv")
    assert statement.status_code == 200 and statement.headers["content-type"].startswith("text/csv")
    assert ",APA-1,Mme Martin,housework,20.00," in statement.text
    with db.session_scope(engine) as s:
        assert len(s.exec(select(ClockEvent)).all()) == 2


def test_codes_and_pages_refused(client: TestClient, engine: Engine) -> None:
    make_user(engine, "aline")
    login(client, "aline")
    assert client.get("/home/1.1.AAAAAAAAAAAAAAAAAAAA").status_code == 404
    assert client.get("/calendar/1-nothing.ics").status_code == 404
    assert client.get("/telemanagement/board").status_code == 403
    assert client.get("/me/visits/99/clock").status_code == 303
    bad = client.post(
        "/me/visits/99/clock",
        data={
            "csrf_token": csrf(client, "/me/visits", "/me/visits/feed"),
            "kind": "in",
            "manual_reason": "other",
        },
    )
    assert bad.status_code == 404
    assert client.get("/me/visits?day=not-a-day").status_code == 200


def test_every_code_has_its_words_on_the_pages() -> None:
    assert tuple(labels.FUNDER_KINDS) == plans.FUNDER_KINDS
    assert tuple(labels.BILLING) == plans.BILLING_MODES
    assert set(labels.STATES) == {state.value for state in VisitState}
    assert tuple(labels.CANCEL_REASONS) == visits.CANCEL_REASONS
    assert tuple(labels.MANUAL_REASONS) == clocking.MANUAL_REASONS
    assert tuple(labels.ANOMALIES) == checks.KINDS
