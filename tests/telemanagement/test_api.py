"""Telemanagement through the JSON API: a coordinator adds a funder, a beneficiary (whose private
details never come back), a plan and a weekly series; the provider lists their visits and clocks in
with the home's token, then out by hand; the coordinator reads the month's anomalies. Bad input is
refused with the field named and nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.accounts.models import Role
from node.core import db
from node.telemanagement import clocking, plans
from node.telemanagement.models import ClockEvent, Visit
from node.telemanagement.visits import PARIS
from tests.support.accounts import make_user


def _bearer(engine: Engine, username: str, role: Role = Role.MEMBER) -> dict[str, str]:
    user = make_user(engine, username, role=role)
    with db.session_scope(engine) as s:
        return {"Authorization": f"Bearer {credentials.create_api_token(user, 'tests', session=s)[1]}"}


def test_plans_visits_and_clocking_through_the_api(client: TestClient, engine: Engine) -> None:
    coord = _bearer(engine, "coord", Role.COORDINATOR)
    aline = _bearer(engine, "aline")
    funder = client.post(
        "/api/v1/funders", headers=coord, json={"name": "CD 93", "kind": "apa", "billing": "direct"}
    )
    assert funder.status_code == 201
    assert (
        client.post(
            "/api/v1/funders", headers=aline, json={"name": "X", "kind": "apa", "billing": "direct"}
        ).status_code
        == 403
    )
    home = client.post(
        "/api/v1/beneficiaries",
        headers=coord,
        json={
            "name": "Mme Martin",
            "commune": "Montreuil",
            "address": "12 rue de Paris",
            "door_code": "4812B",
            "health": "GIR 3",
        },
    )
    assert home.status_code == 201 and set(home.json()) == {"id", "name", "commune"}
    today = datetime.now(PARIS).date()
    terms = {
        "valid_from": (today - timedelta(days=3)).isoformat(),
        "valid_until": (today + timedelta(days=40)).isoformat(),
        "hourly_rate": "24.58",
        "participation": "10",
        "hours": {"housework": "20"},
    }
    plan = client.post(
        "/api/v1/plans",
        headers=coord,
        json={
            "beneficiary_id": home.json()["id"],
            "funder_id": funder.json()["id"],
            "folder_number": "APA-9",
            **terms,
        },
    )
    assert plan.status_code == 201 and plan.json()["versions"][0]["minutes_per_month"] == {"housework": 1200}
    again = client.post(
        "/api/v1/plans",
        headers=coord,
        json={
            "beneficiary_id": home.json()["id"],
            "funder_id": funder.json()["id"],
            "folder_number": "APA-9",
            **terms,
        },
    )
    assert again.status_code == 409
    bad = client.post(
        "/api/v1/plans",
        headers=coord,
        json={
            "beneficiary_id": home.json()["id"],
            "funder_id": funder.json()["id"],
            "folder_number": "APA-10",
            **terms,
            "participation": "150",
        },
    )
    assert bad.status_code == 422 and "participation" in bad.json()["error"]["fields"]
    start = (datetime.now(UTC) - timedelta(minutes=2)).astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")
    made = client.post(
        "/api/v1/visits",
        headers=coord,
        json={
            "plan_id": plan.json()["id"],
            "category": "housework",
            "start": start,
            "minutes": 90,
            "provider": "aline",
            "rule": "FREQ=WEEKLY;COUNT=3",
        },
    )
    assert made.status_code == 201 and len(made.json()) == 3
    refused = client.post(
        "/api/v1/visits",
        headers=coord,
        json={
            "plan_id": plan.json()["id"],
            "category": "housework",
            "start": start,
            "minutes": 90,
            "rule": "FREQ=HOURLY;COUNT=900",
        },
    )
    assert refused.status_code == 422 and "rule" in refused.json()["error"]["fields"]
    mine = client.get("/api/v1/visits", headers=aline)
    assert mine.status_code == 200 and made.json()[0]["id"] in {v["id"] for v in mine.json()}
    assert client.get("/api/v1/visits?month=2026-13", headers=aline).status_code == 422
    with db.session_scope(engine) as s:
        token = clocking.home_token(client.app.state.node.settings, plans.beneficiary(s, home.json()["id"]))  # type: ignore[attr-defined]
    first = made.json()[0]["id"]
    assert (
        client.post(
            "/api/v1/clock-events",
            headers=aline,
            json={"visit_id": first, "kind": "in", "token": token + "x"},
        ).status_code
        == 422
    )
    checked = client.post(
        "/api/v1/clock-events", headers=aline, json={"visit_id": first, "kind": "in", "token": token}
    )
    assert checked.status_code == 201 and checked.json()["method"] == "qr"
    assert (
        client.post(
            "/api/v1/clock-events", headers=aline, json={"visit_id": first, "kind": "in", "token": token}
        ).status_code
        == 409
    )
    assert (
        client.post(
            "/api/v1/clock-events",
            headers=coord,
            json={"visit_id": first, "kind": "out", "manual_reason": "other"},
        ).status_code
        == 403
    )
    out = client.post(
        "/api/v1/clock-events",
        headers=aline,
        json={"visit_id": first, "kind": "out", "manual_reason": "no_network"},
    )
    assert out.status_code == 201 and out.json()["method"] == "manual"
    anomalies = client.get("/api/v1/anomalies", headers=coord)
    assert anomalies.status_code == 200
    kinds = {a["visit"]["id"]: a["kinds"] for a in anomalies.json()}
    assert kinds[first] == ["too_short", "manual"]
    cancelled = client.post(
        f"/api/v1/visits/{made.json()[2]['id']}/cancel", headers=coord, json={"reason": "provider_absent"}
    )
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert (
        client.post(f"/api/v1/visits/{first}/assign", headers=coord, json={"provider": "coord"}).status_code
        == 422
    )
    with db.session_scope(engine) as s:
        assert len(s.exec(select(ClockEvent)).all()) == 2
        assert len(s.exec(select(Visit)).all()) == 3
    listed = client.get("/api/v1/plans", headers=coord).json()
    assert "4812B" not in str(listed) and "rue de Paris" not in str(listed)
