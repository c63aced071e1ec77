"""The search API (/api/v1/search) and saved searches (/api/v1/saved-searches), with their alerts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.accounts import credentials, service
from node.core import db
from node.core.timeutil import utcnow
from node.market.models import Notification
from node.search import saved
from node.search.models import SavedSearch
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.search import indexed

OFFER: dict[str, Any] = {
    "purpose": "offer",
    "title": "Repassage en soirée",
    "description": "<p>Chemises <em>et</em> draps.</p>",
    "category": "laundry-delivery",
    "postal_code": "93100",
    "commune_name": "Montreuil",
    "price": "18.50",
    "price_basis": "per_hour",
}


def token(engine: Engine, username: str, commune: str = "") -> dict[str, str]:
    make_user(engine, username)
    with db.session_scope(engine) as s:
        user = service.get_user(username, session=s)
        user.commune_insee = commune
        s.add(user)
        return {"Authorization": f"Bearer {credentials.create_api_token(user, 'tests', session=s)[1]}"}


@pytest.fixture
def alice(engine: Engine) -> dict[str, str]:
    return token(engine, "alice")


@pytest.fixture
def bob(engine: Engine) -> dict[str, str]:
    return token(engine, "bob", commune="69123")  # Lyon


def post(client: TestClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = client.post("/api/v1/proposals", json={**OFFER, **changes}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_search_finds_what_was_posted_updated_and_withdrawn(
    client: TestClient, alice: dict[str, str]
) -> None:
    first = post(client, alice)
    post(client, alice, title="Jardinage et tonte", category="gardening", price="25")
    found = client.get("/api/v1/search", params={"q": "linge"}).json()  # a synonym of "repassage"
    assert (found["total"], [h["proposal"]["id"] for h in found["items"]]) == (1, [first["id"]])
    assert found["items"][0]["distance_km"] is None and found["centre"] is None
    near = client.get("/api/v1/search", params={"commune": "93006", "radius": 5, "sort": "price"}).json()
    assert [h["proposal"]["title"] for h in near["items"]] == ["Repassage en soirée", "Jardinage et tonte"]
    assert near["centre"] == {"insee": "93006", "name": "Bagnolet"} and near["items"][0]["distance_km"] < 5
    changed = client.patch(
        f"/api/v1/proposals/{first['id']}", json={"title": "Courses du samedi"}, headers=alice
    )
    assert changed.status_code == 200, changed.text
    assert client.get("/api/v1/search", params={"q": "soirée "}).json()["total"] == 0
    assert client.get("/api/v1/search", params={"q": "commissions"}).json()["total"] == 1
    assert client.post(f"/api/v1/proposals/{first['id']}/withdraw", headers=alice).status_code == 200
    empty = client.get("/api/v1/search", params={"q": "commissions", "radius": 10, "commune": "93048"}).json()
    assert empty["total"] == 0 and empty["items"] == []
    assert [w["kind"] for w in empty["widen"]] == ["radius", "words"]
    assert "radius=40" in empty["widen"][0]["query"]


def test_the_callers_commune_is_the_default_centre(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    post(client, alice)
    assert client.get("/api/v1/search", params={"radius": 50}, headers=bob).json()["total"] == 0
    assert client.get("/api/v1/search", params={"radius": 500}, headers=bob).json()["total"] == 1
    nowhere = client.get("/api/v1/search", params={"radius": 500}, headers=alice)  # no commune in her profile
    assert nowhere.status_code == 422 and set(nowhere.json()["error"]["fields"]) == {"radius"}


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 201},
        {"radius": "-3"},
        {"radius": "100000"},
        {"price_min": "30", "price_max": "10"},
        {"price_min": "NaN"},
        {"date_from": "2026-13-01"},
        {"date_from": "2026-05-02", "date_to": "2026-05-01"},
        {"commune": "99999"},
        {"category": "nope"},
        {"sort": "random"},
        {"min_reputation": "9"},
    ],
)
def test_bad_input_is_a_422(client: TestClient, params: dict[str, str]) -> None:
    response = client.get("/api/v1/search", params=params)
    assert response.status_code == 422, response.text
    fields = set(response.json()["error"]["fields"])
    assert fields and fields <= set(params) | {"price_max", "date_to"}


@pytest.mark.parametrize(
    "q", ['"', "*", "NEAR(a b)", "a OR b", "-menage", "'; DROP TABLE proposals; --", "ééé ∑ 🙂 中文"]
)
def test_query_syntax_is_only_words(client: TestClient, alice: dict[str, str], q: str) -> None:
    post(client, alice)
    response = client.get("/api/v1/search", params={"q": q})
    assert response.status_code == 200, response.text
    assert client.get("/api/v1/search", params={"q": "repassage"}).json()["total"] == 1


def test_saved_searches_alert_once_for_new_local_and_federated_proposals(
    client: TestClient, engine: Engine, settings: Settings, alice: dict[str, str], bob: dict[str, str]
) -> None:
    post(client, alice, title="Ménage du jeudi", category="housework")  # before the search: no alert
    made = client.post(
        "/api/v1/saved-searches", json={"name": "Ménage", "query": "q=nettoyage&purpose=offer"}, headers=bob
    )
    assert made.status_code == 201, made.text
    bad = client.post("/api/v1/saved-searches", json={"name": "x", "query": "radius=-1"}, headers=bob)
    assert bad.status_code == 422
    mine = client.get("/api/v1/saved-searches", headers=bob).json()
    assert [(m["name"], m["query"]) for m in mine] == [("Ménage", "q=nettoyage&purpose=offer")]
    post(client, alice, title="Entretien de la maison", category="housework")
    post(client, alice, title="Cours de piano", category="tutoring")
    post(client, bob, title="Nettoyage de vitres")  # bob's own: no alert
    with Session(engine) as session:
        indexed(session, settings, "Grand ménage de printemps", origin="b.example")
    with db.session_scope(engine, write=True) as session:
        assert saved.alert(settings, utcnow(), session=session) == 2
    with db.session_scope(engine, write=True) as session:
        assert saved.alert(settings, utcnow(), session=session) == 0
        notes = session.exec(select(Notification).where(Notification.kind == "saved_search_match")).all()
        titles = sorted(json_title(n) for n in notes)
    assert titles == ["Entretien de la maison", "Grand ménage de printemps"]
    assert client.delete(f"/api/v1/saved-searches/{mine[0]['id']}", headers=alice).status_code == 404
    assert client.delete(f"/api/v1/saved-searches/{mine[0]['id']}", headers=bob).status_code == 204
    with Session(engine) as session:
        assert session.exec(select(SavedSearch)).all() == []


def json_title(note: Notification) -> str:
    return str(json.loads(note.data)["title"])


def test_the_openapi_document_lists_search(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/search", "/api/v1/saved-searches", "/api/v1/saved-searches/{saved_id}"} <= set(paths)
    assert "radius" in {p["name"] for p in paths["/api/v1/search"]["get"]["parameters"]}


def test_people_search_by_category_and_distance(
    client: TestClient, engine: Engine, settings: Settings, alice: dict[str, str]
) -> None:
    for name, commune, categories in (("carla", "93006", ["gardening"]), ("dan", "69123", ["gardening"])):
        made = client.patch(
            "/api/v1/me",
            json={
                "offers_services": True,
                "categories": categories,
                "postal_code": "93170" if commune == "93006" else "69001",
                "commune_name": "Bagnolet" if commune == "93006" else "Lyon",
            },
            headers=token(engine, name),
        )
        assert made.status_code == 200, made.text
    with Session(engine) as session:
        indexed(
            session,
            settings,
            "Taille de haies",
            insee="93048",
            origin="b.example",
            category="gardening",
            author_uri="https://b.example/users/gil",
        )
        indexed(
            session,
            settings,
            "Ménage",
            insee="93048",
            origin="b.example",
            category="housework",
            author_uri="https://b.example/users/hugo",
        )
    near = client.get(
        "/api/v1/search/people", params={"category": "gardening", "commune": "93048", "radius": 20}
    )
    assert near.status_code == 200, near.text
    found = [(p["uri"].rsplit("/", 1)[-1], p["local"], p["commune"]) for p in near.json()]
    assert found == [("gil", False, "Montreuil"), ("carla", True, "Bagnolet")]
    assert near.json()[1]["reputation"] == {"mean": None, "count": 0} and near.json()[1]["distance_km"] < 5
    everywhere = client.get(
        "/api/v1/search/people", params={"category": "gardening", "commune": "93048"}
    ).json()
    assert [p["uri"].rsplit("/", 1)[-1] for p in everywhere][-1] == "dan"
    assert client.get("/api/v1/search/people", params={"radius": "-1"}).status_code == 422
    with Session(engine) as session:
        indexed(
            session,
            settings,
            "Tonte",
            insee="93048",
            origin="c.example",
            category="gardening",
            author_uri="https://c.example/users/ines",
        )

    def people_from(origin: str) -> list[str]:
        params = {"category": "gardening", "commune": "93048", "origin": origin}
        answer = client.get("/api/v1/search/people", params=params)
        assert answer.status_code == 200, answer.text
        return sorted(p["uri"].rsplit("/", 1)[-1] for p in answer.json())

    assert people_from("all") == ["carla", "dan", "gil", "ines"]
    assert people_from("local") == ["carla", "dan"]
    assert people_from("remote") == ["gil", "ines"]
    assert people_from("c.example") == ["ines"]
    page = client.get("/people/search", params={"category": "gardening", "origin": "c.example"})
    assert page.status_code == 200 and '<option value="c.example" selected>' in page.text
    assert "users/ines" in page.text and "users/gil" not in page.text
