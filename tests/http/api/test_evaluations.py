"""The evaluation, reputation and notification resources of the JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.accounts.models import User
from node.activitypub.models import RemoteActor
from node.app import create_app
from node.core import db
from node.market.models import Evaluation, Notification
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.actors import ActorServer, actor_on
from tests.support.evaluations import completed_pair, make_agreement, uri


@pytest.fixture
def origin() -> Iterator[ActorServer]:
    with ActorServer() as server:
        yield server


def _token(engine: Engine, user: User) -> dict[str, str]:
    with db.session_scope(engine) as s:
        return {"Authorization": f"Bearer {credentials.create_api_token(user, 'tests', session=s)[1]}"}


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    return error


def _count(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(Evaluation)).all())


def test_evaluate_then_read_double_blind(client: TestClient, engine: Engine, settings: Settings) -> None:
    alice, bob, agreement = completed_pair(engine, settings)
    ref = agreement.ap_id.rsplit("/", 1)[1]
    path = f"/api/v1/agreements/{ref}/evaluations"
    as_alice, as_bob = _token(engine, alice), _token(engine, bob)

    created = client.post(
        path,
        headers=as_alice,
        json={"overall": 4, "criteria": {"punctuality": 5}, "comment": "Très bien <b>merci</b>"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == "submitted" and body["evaluated"] == uri(settings, bob)
    assert body["evaluated_role"] == "provider" and body["criteria"] == {"punctuality": 5}
    assert body["comment"] == "Très bien merci" and body["node"] == "testserver"
    assert [e["id"] for e in client.get(path, headers=as_alice).json()] == [body["id"]]
    assert client.get(path, headers=as_bob).json() == []  # hidden from the other party

    # The row id names the agreement too.
    by_row = f"/api/v1/agreements/{agreement.id}/evaluations"
    bob_says = client.post(by_row, headers=as_bob, json={"overall": 5, "criteria": {"welcome": 5}})
    assert bob_says.status_code == 201, bob_says.text
    both = client.get(path, headers=as_bob).json()
    assert {e["state"] for e in both} == {"published"} and len(both) == 2

    again = _error(client.post(path, headers=as_bob, json={"overall": 1}), 409, "conflict")
    assert "already" in again["message"]


def test_refusals_change_nothing(client: TestClient, engine: Engine, settings: Settings) -> None:
    alice, bob, carol = make_user(engine, "alice"), make_user(engine, "bob"), make_user(engine, "carol")
    done = make_agreement(engine, settings, provider=uri(settings, bob), requester=uri(settings, alice))
    ongoing = make_agreement(
        engine, settings, provider=uri(settings, bob), requester=uri(settings, alice), state="accepted"
    )
    path = f"/api/v1/agreements/{done.id}/evaluations"
    as_alice = _token(engine, alice)

    _error(client.post(path, json={"overall": 5}), 401, "unauthenticated")
    _error(client.post(path, headers=_token(engine, carol), json={"overall": 5}), 403, "forbidden")
    _error(client.get(path, headers=_token(engine, carol)), 403, "forbidden")
    _error(
        client.post("/api/v1/agreements/nope/evaluations", headers=as_alice, json={"overall": 5}),
        404,
        "not_found",
    )
    _error(
        client.post(f"/api/v1/agreements/{ongoing.id}/evaluations", headers=as_alice, json={"overall": 5}),
        409,
        "conflict",
    )
    invalid = [
        ({"overall": 0}, "overall"),
        ({"overall": "five"}, "overall"),
        ({"overall": 5, "criteria": {"clarity": 3}}, "criteria.clarity"),
        ({"overall": 5, "criteria": {"quality": 7}}, "criteria.quality"),
        ({"overall": 5, "comment": "x" * 1001}, "comment"),
        ({"overall": 5, "extra": 1}, "extra"),
    ]
    for payload, field in invalid:
        error = _error(client.post(path, headers=as_alice, json=payload), 422, "validation_failed")
        assert field in error["fields"], (payload, error)
    _error(client.post(path, headers=as_alice, content=b"[1]"), 415, "unsupported_media_type")
    assert _count(engine) == 0


def test_reputation_by_handle_local_and_known_remote(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    remote = "https://bagnolet.example/users/zoe"
    with db.session_scope(engine) as session:
        session.add(
            RemoteActor(
                uri=remote, domain="bagnolet.example", inbox=remote + "/inbox", preferred_username="zoe"
            )
        )
    agreement = make_agreement(engine, settings, provider=uri(settings, bob), requester=uri(settings, alice))
    for user, score in ((alice, 3), (bob, 4)):
        response = client.post(
            f"/api/v1/agreements/{agreement.id}/evaluations",
            headers=_token(engine, user),
            json={"overall": score, "criteria": {"quality": 4} if user is alice else {}},
        )
        assert response.status_code == 201, response.text

    for handle in ("bob", "@bob", "bob@testserver", "BOB@TESTSERVER"):
        found = client.get(f"/api/v1/actors/{handle}/reputation")
        assert found.status_code == 200, (handle, found.text)
        assert found.json() == {
            "actor": "http://testserver/users/bob",
            "mean": "3.00",
            "count": 1,
            "distribution": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0},
            "criteria": {"quality": "4.00"},
            "by_node": [{"domain": "testserver", "count": 1}],
            "nodes": 1,
        }
    zoe = client.get("/api/v1/actors/zoe@bagnolet.example/reputation").json()
    assert zoe["actor"] == remote and zoe["count"] == 0 and zoe["mean"] is None
    _error(client.get("/api/v1/actors/nobody/reputation"), 404, "not_found")
    _error(client.get("/api/v1/actors/a@b@c/reputation"), 404, "not_found")


def test_notifications_list_and_mark_read(client: TestClient, engine: Engine, settings: Settings) -> None:
    alice, bob, agreement = completed_pair(engine, settings)
    assert (
        client.post(
            f"/api/v1/agreements/{agreement.id}/evaluations",
            headers=_token(engine, alice),
            json={"overall": 5},
        ).status_code
        == 201
    )
    as_bob = _token(engine, bob)
    with db.session_scope(engine) as session:
        account = session.get(User, bob.id)
        assert account is not None
        account.language = "en"
    _error(client.get("/api/v1/notifications"), 401, "unauthenticated")
    listed = client.get("/api/v1/notifications", headers=as_bob)
    assert listed.status_code == 200
    body = listed.json()
    assert body["unread"] == 1
    [item] = body["items"]
    assert item["kind"] == "evaluation_received" and item["actor"] == uri(settings, alice)
    assert item["actor_name"] == "alice" and item["read_at"] is None
    assert item["url"] == f"/agreements/{agreement.ap_id.rsplit('/', 1)[1]}/evaluate"
    assert item["label"] == "You were evaluated"  # in the caller's language
    assert client.get("/api/v1/notifications?unread=true&limit=5", headers=as_bob).json()["unread"] == 1
    for bad in ("limit=abc", "limit=0", "unread=null", "unread=1"):  # the document's types, strictly
        refused = client.get(f"/api/v1/notifications?{bad}", headers=as_bob)
        assert refused.status_code == 422 and refused.json()["error"]["fields"], bad

    marked = client.post("/api/v1/notifications/read", headers=as_bob)
    assert marked.status_code == 200 and marked.json() == {"marked": 1}
    after = client.get("/api/v1/notifications", headers=as_bob).json()
    assert after["unread"] == 0 and after["items"][0]["read_at"] is not None
    assert client.get("/api/v1/notifications?unread=true", headers=as_bob).json()["items"] == []
    with Session(engine) as session:
        assert {n.user_id for n in session.exec(select(Notification)).all()} == {bob.id}


def test_openapi_lists_the_resources(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/agreements/{ref}/evaluations"])
    assert "get" in paths["/api/v1/actors/{handle}/reputation"]
    assert "get" in paths["/api/v1/notifications"] and "post" in paths["/api/v1/notifications/read"]


def test_reputation_of_someone_not_yet_known_found_through_webfinger(
    settings: Settings, engine: Engine, origin: ActorServer
) -> None:
    zoe = actor_on(origin, "zoe")
    origin.serve_json(
        "/.well-known/webfinger",
        {
            "subject": "acct:zoe@x",
            "links": [{"rel": "self", "type": "application/activity+json", "href": zoe.uri}],
        },
    )
    app = create_app(settings.replace(allow_private_addresses=True, fetch_timeout_seconds=3), engine=engine)
    with TestClient(app) as client:
        found = client.get(f"/api/v1/actors/zoe@127.0.0.1:{origin.port}/reputation")
        assert found.status_code == 200, found.text
        assert found.json()["actor"] == zoe.uri and found.json()["count"] == 0
        again = client.get(f"/api/v1/actors/zoe@127.0.0.1:{origin.port}/reputation")
        assert again.json() == found.json()
    assert origin.hits("/.well-known/webfinger") == 1  # then known: read from the cache
    origin.routes.clear()
    app = create_app(settings.replace(allow_private_addresses=True, fetch_timeout_seconds=3), engine=engine)
    with TestClient(app) as client:
        _error(client.get(f"/api/v1/actors/nobody@127.0.0.1:{origin.port}/reputation"), 404, "not_found")
