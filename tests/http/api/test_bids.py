"""The bids and agreements API: answer a proposal by its ActivityPub id, the refusals (clear 4xx in the
error shape, nothing stored), sealed lists, withdraw/accept/reject, then the agreement's life through
the API, contact details shown to the parties only; and the OpenAPI document lists it all."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.accounts.models import User
from node.core import db
from node.market.models import Agreement, Bid
from node.settings import Settings
from tests.support.market import BAGNOLET, make_proposal, person


def auth(engine: Engine, user: User) -> dict[str, str]:
    with db.session_scope(engine) as s:
        return {"Authorization": f"Bearer {credentials.create_api_token(user, 'tests', session=s)[1]}"}


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code
    return body


def count(engine: Engine, model: type[Bid] | type[Agreement]) -> int:
    with Session(engine) as s:
        return len(s.exec(select(model)).all())


def test_bids_through_the_api(
    client: TestClient, engine: Engine, settings: Settings, session: Session
) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob", commune=BAGNOLET)
    carol, dora = person(engine, "carol"), person(engine, "dora", status="volunteer")
    as_alice, as_bob, as_carol, as_dora = (auth(engine, u) for u in (alice, bob, carol, dora))
    demand = make_proposal(session, settings, alice)
    care = make_proposal(session, settings, alice, category="elderly-disabled-assistance")

    assert client.post("/api/v1/bids", json={"proposal": demand.ap_id}).status_code == 401
    body = error(
        client.post("/api/v1/bids", json={"proposal": demand.ap_id, "amount": 900}, headers=as_bob),
        422,
        "validation_failed",
    )
    assert set(body["fields"]) == {"amount"}
    body = error(
        client.post("/api/v1/bids", json={"proposal": demand.ap_id, "amount": "abc"}, headers=as_bob),
        422,
        "validation_failed",
    )
    assert "amount" in body["fields"]
    start = "2030-01-01T10:00:00+01:00"
    error(
        client.post("/api/v1/bids", json={"proposal": demand.ap_id, "start": start}, headers=as_bob),
        422,
        "validation_failed",
    )
    error(
        client.post("/api/v1/bids", json={"proposal": demand.ap_id, "surprise": 1}, headers=as_bob),
        422,
        "validation_failed",
    )
    error(
        client.post("/api/v1/bids", json={"proposal": settings.url("/proposals/nope")}, headers=as_bob),
        404,
        "not_found",
    )
    error(
        client.post("/api/v1/bids", json={"proposal": demand.ap_id, "amount": 18}, headers=as_alice),
        403,
        "forbidden",
    )
    error(
        client.post("/api/v1/bids", json={"proposal": care.ap_id, "amount": 18}, headers=as_dora),
        403,
        "forbidden",
    )
    assert count(engine, Bid) == 0

    created = client.post(
        "/api/v1/bids",
        json={
            "proposal": demand.ap_id,
            "amount": "18.50",
            "hours": 3,
            "message": "<script>x</script>Bonjour",
        },
        headers=as_bob,
    )
    assert created.status_code == 201, created.text
    bid = created.json()
    assert (bid["state"], bid["price"], bid["hours"], bid["message"]) == (
        "active",
        {"amount": "18.50", "currency": "EUR", "basis": "per_hour"},
        "3",
        "Bonjour",
    )
    assert bid["reputation"] is None and bid["start"] is not None
    error(
        client.post("/api/v1/bids", json={"proposal": demand.ap_id, "amount": 17}, headers=as_bob),
        409,
        "conflict",
    )
    other = client.post(
        "/api/v1/bids", json={"proposal": demand.ap_id, "amount": 15}, headers=as_carol
    ).json()

    # Sealed: each bidder sees their own, the author sees all with reputation and distance.
    assert [b["id"] for b in client.get("/api/v1/bids", headers=as_bob).json()] == [bid["id"]]
    received = client.get("/api/v1/bids", params={"proposal": demand.ap_id}, headers=as_alice).json()
    assert {b["id"] for b in received} == {bid["id"], other["id"]}
    mine = next(b for b in received if b["id"] == bid["id"])
    assert mine["reputation"]["count"] == 0 and 1 < mine["distance_km"] < 6 and mine["bidder_name"] == "bob"
    error(client.get("/api/v1/bids", params={"proposal": demand.ap_id}, headers=as_carol), 404, "not_found")
    error(client.get(f"/api/v1/bids/{bid['id']}", headers=as_carol), 404, "not_found")
    assert client.get(f"/api/v1/bids/{bid['id']}", headers=as_alice).json()["reputation"]["count"] == 0
    error(client.post(f"/api/v1/bids/{bid['id']}/accept", headers=as_carol), 404, "not_found")
    error(client.post(f"/api/v1/bids/{bid['id']}/withdraw", headers=as_alice), 404, "not_found")

    rejected = client.post(
        f"/api/v1/bids/{other['id']}/reject", json={"reason": "Trop loin"}, headers=as_alice
    )
    assert rejected.status_code == 200 and rejected.json()["reject_reason"] == "Trop loin"
    assert client.get(f"/api/v1/bids/{other['id']}", headers=as_carol).json()["state"] == "rejected"
    error(client.post(f"/api/v1/bids/{other['id']}/withdraw", headers=as_carol), 409, "conflict")

    accepted = client.post(f"/api/v1/bids/{bid['id']}/accept", headers=as_alice)
    assert accepted.status_code == 201, accepted.text
    agreement = accepted.json()
    assert (agreement["state"], agreement["role"], agreement["held_here"]) == ("accepted", "requester", True)
    assert agreement["actions"] == ["confirm", "cancel", "dispute", "contact"]
    assert client.get(f"/api/v1/bids/{bid['id']}", headers=as_bob).json()["agreement_id"] == agreement["id"]
    assert count(engine, Agreement) == 1


def test_agreements_through_the_api(
    client: TestClient, engine: Engine, settings: Settings, session: Session
) -> None:
    alice, bob, carol = person(engine, "alice"), person(engine, "bob"), person(engine, "carol")
    as_alice, as_bob, as_carol = (auth(engine, u) for u in (alice, bob, carol))
    demand = make_proposal(session, settings, alice)
    bid = client.post("/api/v1/bids", json={"proposal": demand.ap_id, "amount": 20}, headers=as_bob).json()
    agreement = client.post(f"/api/v1/bids/{bid['id']}/accept", headers=as_alice).json()
    path = f"/api/v1/agreements/{agreement['id']}"

    error(client.get(path, headers=as_carol), 404, "not_found")
    error(client.post(path + "/confirm", headers=as_carol), 404, "not_found")
    assert [a["id"] for a in client.get("/api/v1/agreements", headers=as_bob).json()] == [agreement["id"]]

    body = error(
        client.post(path + "/contact", json={"address": "", "phone": "pas de tel"}, headers=as_alice),
        422,
        "validation_failed",
    )
    assert set(body["fields"]) == {"phone"}
    shared = client.post(
        path + "/contact",
        json={"address": "5 place de la Mairie", "phone": "06 00 00 00 01"},
        headers=as_alice,
    )
    assert (
        shared.status_code == 200
        and shared.json()["contacts"]["requester"]["address"] == "5 place de la Mairie"
    )
    assert client.get(path, headers=as_bob).json()["contacts"]["requester"]["phone"] == "06 00 00 00 01"

    error(client.post(path + "/dispute", json={"reason": ""}, headers=as_bob), 422, "validation_failed")
    confirmed = client.post(path + "/confirm", headers=as_bob).json()
    assert (confirmed["state"], confirmed["actions"]) == ("confirmed_by_one", ["dispute", "contact"])
    error(client.post(path + "/confirm", headers=as_bob), 409, "conflict")
    error(client.post(path + "/cancel", json={}, headers=as_alice), 409, "conflict")
    error(client.post(path + "/settle", json={"outcome": "completed"}, headers=as_alice), 403, "forbidden")
    done = client.post(path + "/confirm", headers=as_alice).json()
    assert done["state"] == "completed" and done["receipt"].endswith("/receipt") and done["actions"] == []
    assert [e["kind"] for e in done["timeline"]] == [
        "accepted",
        "contact_shared",
        "confirmed",
        "confirmed",
        "completed",
    ]


def test_the_openapi_document_lists_bids_and_agreements(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path, methods in {
        "/api/v1/bids": {"get", "post"},
        "/api/v1/bids/{bid_id}": {"get"},
        "/api/v1/bids/{bid_id}/withdraw": {"post"},
        "/api/v1/bids/{bid_id}/accept": {"post"},
        "/api/v1/bids/{bid_id}/reject": {"post"},
        "/api/v1/agreements": {"get"},
        "/api/v1/agreements/{agreement_id}": {"get"},
        "/api/v1/agreements/{agreement_id}/confirm": {"post"},
        "/api/v1/agreements/{agreement_id}/cancel": {"post"},
        "/api/v1/agreements/{agreement_id}/dispute": {"post"},
        "/api/v1/agreements/{agreement_id}/contact": {"post"},
        "/api/v1/agreements/{agreement_id}/settle": {"post"},
    }.items():
        assert methods <= set(paths[path]), path
