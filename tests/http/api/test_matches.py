"""The matching API: the caller's suggestions with their reasons, and their settings (radius, alerts)."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.accounts import credentials, service
from node.core import db
from node.settings import Settings
from tests.support.matching import proposal_of, provider


def bearer(engine: Engine, username: str) -> dict[str, str]:
    with db.session_scope(engine) as s:
        user = service.get_user(username, session=s)
        return {"Authorization": f"Bearer {credentials.create_api_token(user, 'tests', session=s)[1]}"}


def test_suggestions_and_settings(client: TestClient, settings: Settings, engine: Engine) -> None:
    gardener = provider(engine, "gardener", categories=("gardening",), insee="93006", alerts=False)
    alice = provider(engine, "alice", status="none")
    proposal_of(engine, settings, alice, "Tonte de pelouse", category="gardening", description="<p>Mardi</p>")
    offer = proposal_of(
        engine, settings, gardener, "Jardinage et taille", purpose="offer", category="gardening"
    )
    headers = bearer(engine, "gardener")
    assert client.get("/api/v1/matches").status_code == 401
    found = client.get("/api/v1/matches", headers={**headers, "Accept-Language": "fr"}).json()
    assert [m["proposal"]["title"] for m in found["demands"]] == ["Tonte de pelouse"]
    same, distance, *_ = found["demands"][0]["reasons"]
    assert same == "même service" and distance.endswith(" km") and "," in distance
    assert found["offers"] == []
    mine = client.get("/api/v1/matches", headers=bearer(engine, "alice")).json()
    assert [m["proposal"]["id"] for m in mine["offers"]] == [offer.id]
    assert mine["offers"][0]["answers"] and mine["demands"] == []

    assert client.get("/api/v1/matches/settings", headers=headers).json() == {
        "radius_km": 10,
        "own_radius": False,
        "alerts": False,
    }
    bad = client.put("/api/v1/matches/settings", json={"radius_km": 0, "alerts": True}, headers=headers)
    assert bad.status_code == 422
    done = client.put("/api/v1/matches/settings", json={"radius_km": 1, "alerts": True}, headers=headers)
    assert done.json() == {"radius_km": 1, "own_radius": True, "alerts": True}
    assert client.get("/api/v1/matches", headers=headers).json()["demands"] == []  # 2 km is beyond 1 km
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/matches", "/api/v1/matches/settings"} <= set(paths)
