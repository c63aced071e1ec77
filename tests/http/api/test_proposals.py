"""The JSON API of offers and demands (/api/v1/proposals) and of places (/api/v1/places)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.accounts import credentials, service
from node.activitypub.actors.remote import RemoteActors
from node.activitypub.models import Delivery, OutboxActivity
from node.core import db
from node.core.timeutil import utcnow
from node.market.models import Bid, PendingPublication, Proposal
from node.market.proposals.jobs import PeerSoftwareJob
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.delivery import add_follower, add_remote_actor, local_person, running_sink
from tests.support.market import make_proposal

NODEINFO = "http://nodeinfo.diaspora.software/ns/schema/"

OFFER: dict[str, Any] = {
    "purpose": "offer",
    "title": "Repassage en soirée",
    "description": "<p>Chemises <em>et</em> draps.</p>",
    "category": "laundry-delivery",
    "postal_code": "93100",
    "commune_name": "Montreuil",
    "quantity_hours": 2,
    "price": "18.50",
    "price_basis": "per_hour",
}


def token(engine: Engine, username: str) -> dict[str, str]:
    make_user(engine, username)
    with db.session_scope(engine) as s:
        user = service.get_user(username, session=s)
        return {"Authorization": f"Bearer {credentials.create_api_token(user, 'tests', session=s)[1]}"}


@pytest.fixture
def alice(engine: Engine) -> dict[str, str]:
    return token(engine, "alice")


@pytest.fixture
def bob(engine: Engine) -> dict[str, str]:
    return token(engine, "bob")


def create(client: TestClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = client.post("/api/v1/proposals", json={**OFFER, **changes}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Proposal)).one())


def test_post_read_and_list(client: TestClient, engine: Engine, alice: dict[str, str]) -> None:
    created = create(client, alice)
    assert created["purpose"] == "offer" and created["local"] and created["state"] == "open"
    assert created["url"] == created["ap_id"] and created["origin"] == "testserver"
    assert created["author"] == "http://testserver/users/alice"
    assert created["commune"] == {
        "insee": "93048",
        "name": "Montreuil",
        "postal_code": "93100",
        "departement": "93",
    }
    assert created["price"] == {"amount": "18.50", "currency": "EUR", "basis": "per_hour"}
    assert created["quantity_hours"] == "2.00" and created["schedule"] is None
    assert created["description"] == "<p>Chemises <em>et</em> draps.</p>"
    read = client.get(f"/api/v1/proposals/{created['id']}")  # public: no token
    assert read.status_code == 200 and read.json() == created
    listed = client.get(
        "/api/v1/proposals", params={"purpose": "offer", "commune": "93048", "q": "REPASSAGE"}
    )
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()["items"]] == [created["id"]] and listed.json()["next_page"] is None
    for params in ({"purpose": "request"}, {"origin": "remote"}, {"departement": "75"}, {"q": "jardin"}):
        assert client.get("/api/v1/proposals", params=params).json()["items"] == [], params
    mine = client.get("/api/v1/me/proposals", headers=alice)
    assert [p["id"] for p in mine.json()] == [created["id"]]


def test_schedules_over_the_api(client: TestClient, alice: dict[str, str]) -> None:
    day = (utcnow() + timedelta(days=2)).date().isoformat()
    window = create(
        client,
        alice,
        schedule={"kind": "window", "start": f"{day}T14:00", "end": f"{day}T16:00"},
        purpose="request",
        title="Courses avec ma mère",
        category="grocery-delivery",
        price=None,
    )
    assert window["schedule"]["kind"] == "window" and window["schedule"]["summary"].startswith("le ")
    assert window["price"] == {"amount": None, "currency": "EUR", "basis": "per_hour"}
    weekly = create(
        client,
        alice,
        schedule={
            "kind": "weekly",
            "weekdays": ["TU"],
            "start_time": "14:00",
            "end_time": "16:00",
            "first_day": day,
            "last_day": (utcnow() + timedelta(days=40)).date().isoformat(),
        },
    )
    assert weekly["schedule"]["weekdays"] == ["TU"] and weekly["schedule"]["timezone"] == "Europe/Paris"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "abc"}, "title"),
        ({"category": "massage"}, "category"),
        ({"commune_name": "Lyon"}, "commune_name"),
        ({"price": 9000}, "price"),
        ({"price": "1e999999"}, "price"),
        ({"price": "0"}, "price"),
        ({"title": None}, "title"),
        ({"postal_code": "9310"}, "postal_code"),
        ({"quantity_hours": -1}, "quantity_hours"),
        ({"currency": "HOUR"}, "currency"),
        ({"schedule": {"kind": "window", "start": "2001-01-01T10:00", "end": "2001-01-01T12:00"}}, "start"),
        ({"lifetime_days": 365}, "lifetime_days"),
        ({"unknown": 1}, "unknown"),
        ({"purpose": "gift"}, "purpose"),
    ],
)
def test_bad_input_is_a_422_and_stores_nothing(
    client: TestClient, engine: Engine, alice: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/proposals", json={**OFFER, **changes}, headers=alice)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed" and field in error["fields"], error
    assert count(engine) == 0


def test_authentication_and_errors(client: TestClient, engine: Engine, alice: dict[str, str]) -> None:
    assert client.post("/api/v1/proposals", json=OFFER).status_code == 401
    assert (
        client.post(
            "/api/v1/proposals", content=b"{", headers={**alice, "content-type": "application/json"}
        ).status_code
        == 400
    )
    assert client.get("/api/v1/proposals/999").status_code == 404
    assert client.get("/api/v1/proposals", params={"purpose": "gift"}).status_code == 422
    assert client.get("/api/v1/proposals", params={"page": "-1"}).status_code == 422
    assert count(engine) == 0


def test_change_and_withdraw(
    client: TestClient, engine: Engine, alice: dict[str, str], bob: dict[str, str]
) -> None:
    created = create(client, alice)
    path = f"/api/v1/proposals/{created['id']}"
    assert client.patch(path, json={"title": "Repassage piraté"}, headers=bob).status_code == 403
    changed = client.patch(path, json={"title": "Repassage et pliage", "price": 20}, headers=alice)
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Repassage et pliage" and changed.json()["price"]["amount"] == "20.00"
    assert changed.json()["commune"]["insee"] == "93048"  # untouched fields keep their value
    with Session(engine) as session:
        session.add(
            Bid(
                ap_id="https://b.example/activities/1",
                proposal_id=created["id"],
                bidder_uri="https://b.example/users/bob",
            )
        )
        session.commit()
    frozen = client.patch(path, json={"price": 15}, headers=alice)
    assert frozen.status_code == 409 and set(frozen.json()["error"]["fields"]) == {"price"}
    assert (
        client.patch(
            path, json={"description": "<p>Aussi le linge de maison.</p>"}, headers=alice
        ).status_code
        == 200
    )
    assert client.post(path + "/withdraw", headers=bob).status_code == 403
    withdrawn = client.post(path + "/withdraw", headers=alice)
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    assert client.post(path + "/withdraw", headers=alice).status_code == 409
    assert client.patch(path, json={"title": "Encore ouvert ?"}, headers=alice).status_code == 409
    assert client.get("/api/v1/proposals").json()["items"] == []


def test_null_keeps_what_a_proposal_cannot_be_without(client: TestClient, alice: dict[str, str]) -> None:
    created = create(client, alice)
    changed = client.patch(
        f"/api/v1/proposals/{created['id']}",
        json={"title": None, "category": None, "postal_code": None, "description": None},
        headers=alice,
    )
    assert changed.status_code == 200, changed.text
    kept = changed.json()
    assert (kept["title"], kept["category"]) == (created["title"], created["category"])
    assert kept["commune"] == created["commune"] and kept["description"] == ""


def test_places(client: TestClient) -> None:
    found = client.get("/api/v1/places", params={"q": "montreuil"}).json()
    assert 0 < len(found) <= 10
    assert found[0]["insee"] == "93048" and found[0]["postal_codes"] == ["93100"]
    assert found[0]["departement"] == "93" and found[0]["departement_name"] == "Seine-Saint-Denis"
    assert client.get("/api/v1/places", params={"q": ""}).json() == []
    assert len(client.get("/api/v1/places", params={"q": "saint"}).json()) == 10
    by_code = client.get("/api/v1/places/postal-codes/93170").json()
    assert [p["name"] for p in by_code] == ["Bagnolet"]
    assert client.get("/api/v1/places/postal-codes/9317").status_code == 422


def test_the_openapi_document_lists_them(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths["/api/v1/proposals"]) == {"get", "post"}
    assert set(paths["/api/v1/proposals/{proposal_id}"]) == {"get", "patch"}
    assert "post" in paths["/api/v1/proposals/{proposal_id}/withdraw"]
    assert "get" in paths["/api/v1/places"] and "get" in paths["/api/v1/places/postal-codes/{code}"]
    assert "security" not in paths["/api/v1/proposals"]["get"]
    names = {p["name"] for p in paths["/api/v1/proposals"]["get"]["parameters"]}
    assert names == {"purpose", "category", "commune", "departement", "origin", "q", "page"}


def test_creating_a_proposal_waits_on_no_remote_server(
    client: TestClient, engine: Engine, settings: Settings, alice: dict[str, str]
) -> None:
    """The followers' servers are asked for their software by the background job, never inside the
    request: the proposal waits for it, then goes out."""
    loopback = settings.replace(allow_private_addresses=True, fetch_timeout_seconds=3)
    with running_sink() as server:
        server.documents["/.well-known/nodeinfo"] = {
            "links": [{"rel": NODEINFO + "2.0", "href": server.url("/nodeinfo/2.0")}]
        }
        server.documents["/nodeinfo/2.0"] = {"version": "2.0", "software": {"name": "mastodon"}}
        add_follower(
            engine,
            local_person(settings, engine, "alice"),
            add_remote_actor(engine, server.url(""), "zoe").uri,
        )
        create(client, alice)
        assert server.requests == []  # the request asked nothing of anyone
        with Session(engine) as session:
            assert session.exec(select(OutboxActivity)).all() == []
            assert len(session.exec(select(PendingPublication)).all()) == 1

        async def run() -> int:
            remote = RemoteActors(loopback, engine)
            try:
                return await PeerSoftwareJob(loopback, engine, remote, timeout=3).run_once()
            finally:
                await remote.aclose()

        assert asyncio.run(run()) == 2  # one server asked, one proposal published
        assert [r.path for r in server.requests] == ["/.well-known/nodeinfo", "/nodeinfo/2.0"]
    with Session(engine) as session:
        rows = session.exec(select(OutboxActivity, Delivery).join(Delivery)).all()
        sent = [(json.loads(row.payload)["object"]["type"], delivery.domain) for row, delivery in rows]
    assert sent == [("Note", server.domain)]  # Mastodon reads the Note, not the Proposal


def test_photos_are_listed_for_this_nodes_proposals_and_other_nodes_alike(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    """A local proposal's photos and the copies of another node's (``remote_photos`` made them) are
    listed the same way, url and alt text; a remote photo not copied yet is not listed."""
    bob = make_user(engine, "bob")
    own, copied = "a" * 32, "b" * 32
    with Session(engine) as session:
        mine = make_proposal(session, settings, bob, purpose="offer")
        theirs = make_proposal(session, settings, author_uri="https://elsewhere.example/users/bea")
        mine.photos = json.dumps([{"digest": own, "name": "Un fer à repasser"}])
        theirs.photos = json.dumps(
            [
                {"url": "https://elsewhere.example/1.jpg", "name": "Une cuisine", "digest": copied},
                {"url": "https://elsewhere.example/2.jpg", "name": "Pas encore copiée"},
            ]
        )
        session.add_all([mine, theirs])
        session.commit()
        ids = (mine.id, theirs.id)
    local_photo = {"url": f"http://testserver/photos/{own}.jpg", "alt": "Un fer à repasser"}
    remote_photo = {"url": f"http://testserver/photos/{copied}.jpg", "alt": "Une cuisine"}
    assert client.get(f"/api/v1/proposals/{ids[0]}").json()["photos"] == [local_photo]
    assert client.get(f"/api/v1/proposals/{ids[1]}").json()["photos"] == [remote_photo]
    listed = {item["id"]: item["photos"] for item in client.get("/api/v1/proposals").json()["items"]}
    assert listed == {ids[0]: [local_photo], ids[1]: [remote_photo]}
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert "photos" in schemas["ProposalOut"]["required"]
    assert set(schemas["PhotoOut"]["properties"]) == {"url", "alt"}
