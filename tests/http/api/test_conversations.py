"""Conversations, blocks, reports and the moderation queue through the JSON API."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.accounts import credentials
from node.accounts.models import Role, User
from node.core import db
from node.settings import Settings
from tests.support.accounts import make_user


def auth(engine: Engine, user: User) -> dict[str, str]:
    with db.session_scope(engine) as s:
        return {"Authorization": f"Bearer {credentials.create_api_token(user, 'tests', session=s)[1]}"}


def test_write_read_answer_block_and_report(client: TestClient, engine: Engine, settings: Settings) -> None:
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    dora = make_user(engine, "dora", role=Role.COORDINATOR)
    as_alice, as_bob, as_dora = auth(engine, alice), auth(engine, bob), auth(engine, dora)
    bob_uri, alice_uri = settings.url("/users/bob"), settings.url("/users/alice")

    created = client.post(
        "/api/v1/conversations", json={"to": [bob_uri], "text": "Bonjour"}, headers=as_alice
    )
    assert created.status_code == 201, created.text
    conversation = created.json()["conversation"]
    assert conversation["others"] == [bob_uri]
    listed = client.get("/api/v1/conversations", headers=as_bob).json()
    assert [(c["id"], c["unread"]) for c in listed] == [(conversation["id"], 1)]
    thread = client.get(f"/api/v1/conversations/{conversation['id']}", headers=as_bob).json()
    assert [m["text"] for m in thread["messages"]] == ["Bonjour"]
    answered = client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Salut"}, headers=as_bob
    )
    assert answered.status_code == 201 and [m["mine"] for m in answered.json()["messages"]] == [False, True]
    assert client.get(f"/api/v1/conversations/{conversation['id']}", headers=as_dora).status_code == 404

    exported = client.get("/api/v1/me/export", headers=as_bob).json()
    (mine,) = exported["conversations"]
    assert [m["text"] for m in mine["messages"]] == ["Bonjour", "Salut"] and mine["with"] == [alice_uri]

    assert client.post("/api/v1/blocks", json={"actor": alice_uri}, headers=as_bob).status_code == 204
    refused = client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Encore"}, headers=as_alice
    )
    assert refused.status_code == 403
    assert [b["actor"] for b in client.get("/api/v1/blocks", headers=as_bob).json()] == [alice_uri]

    report = client.post(
        "/api/v1/reports",
        json={"targets": [alice_uri], "reason": "abuse", "comment": "Insistant"},
        headers=as_bob,
    )
    assert report.status_code == 201, report.text
    assert client.get("/api/v1/moderation/reports", headers=as_bob).status_code == 403
    queue = client.get("/api/v1/moderation/reports", headers=as_dora).json()
    assert [(r["targets"], r["comment"]) for r in queue] == [([alice_uri], "Insistant")]
    decided = client.post(
        f"/api/v1/moderation/reports/{queue[0]['id']}/decisions",
        json={"action": "suspend", "target": alice_uri, "note": "Harcèlement"},
        headers=as_dora,
    )
    assert decided.status_code == 201, decided.text
    assert client.get("/api/v1/moderation/reports", headers=as_dora).json() == []
    assert (
        client.get("/api/v1/conversations", headers=as_alice).status_code == 401
    )  # suspended: token revoked
    bad = client.post("/api/v1/reports", json={"targets": ["nope"], "reason": "abuse"}, headers=as_bob)
    assert bad.status_code == 422
