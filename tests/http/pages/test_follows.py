"""Following people: on this node directly, through the page and the API; approval of followers."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import col, select
from starlette.testclient import TestClient

from node.activitypub.models import Follow, OutboxActivity
from node.core import db
from tests.support.accounts import make_user
from tests.support.pages import csrf, login, post_form


def _follows(engine: Engine) -> list[tuple[str, str, str]]:
    with db.session_scope(engine) as s:
        return [
            (f.follower_uri.rsplit("/", 1)[1], f.followee_uri.rsplit("/", 1)[1], f.state)
            for f in s.exec(select(Follow).order_by(col(Follow.id))).all()
        ]


def test_follow_someone_of_this_node_by_handle_and_unfollow(client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    make_user(engine, "bernard")
    login(client, "amina")
    page = client.get("/settings/follows")
    assert page.status_code == 200 and "Suivre" in page.text
    done = post_form(
        client, "/settings/follows/follow", {"target": "@bernard@testserver"}, token_from="/settings/follows"
    )
    assert done.status_code == 303
    assert _follows(engine) == [("amina", "bernard", "accepted")]
    assert "bernard@testserver" in client.get("/settings/follows").text
    again = post_form(
        client, "/settings/follows/follow", {"target": "bernard@testserver"}, token_from="/settings/follows"
    )
    assert again.status_code == 409
    gone = post_form(
        client,
        "/settings/follows/unfollow",
        {"uri": "http://testserver/users/bernard", "confirmed": "1"},
        token_from="/settings/follows",
    )
    assert gone.status_code == 303 and _follows(engine) == []
    with db.session_scope(engine) as s:  # nothing federates between two people of one node
        assert s.exec(select(OutboxActivity)).all() == []


def test_unknown_or_self_or_blank_targets_are_refused(client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    login(client, "amina")
    for target, status in (
        ("nobody@testserver", 422),
        ("amina@testserver", 422),
        ("", 422),
        ("not a handle at all", 422),
    ):
        response = post_form(
            client, "/settings/follows/follow", {"target": target}, token_from="/settings/follows"
        )
        assert response.status_code == status, (target, response.status_code)
        assert 'aria-invalid="true"' in response.text
    assert _follows(engine) == []


def test_approval_of_followers(client: TestClient, engine: Engine, app: object) -> None:
    make_user(engine, "amina")
    make_user(engine, "bernard")
    login(client, "bernard")
    assert (
        post_form(
            client, "/settings/follows/approval", {"approve_followers": "on"}, token_from="/settings/follows"
        ).status_code
        == 303
    )
    with TestClient(client.app, base_url="http://testserver", follow_redirects=False) as amina:
        login(amina, "amina")
        post_form(
            amina,
            "/settings/follows/follow",
            {"target": "bernard@testserver"},
            token_from="/settings/follows",
        )
    assert _follows(engine) == [("amina", "bernard", "pending")]
    requests_page = client.get("/settings/follows").text
    assert "amina@testserver" in requests_page
    assert (
        post_form(
            client,
            "/settings/follows/accept",
            {"uri": "http://testserver/users/amina"},
            token_from="/settings/follows",
        ).status_code
        == 303
    )
    assert _follows(engine) == [("amina", "bernard", "accepted")]
    assert (
        post_form(
            client,
            "/settings/follows/remove",
            {"uri": "http://testserver/users/amina"},
            token_from="/settings/follows",
        ).status_code
        == 303
    )
    assert _follows(engine) == []
    token = csrf(client, "/settings/follows", "/logout")  # no request left, so no accept form to take it from
    missing = client.post(
        "/settings/follows/accept", data={"csrf_token": token, "uri": "http://testserver/users/amina"}
    )
    assert missing.status_code == 404


def test_follows_api(client: TestClient, engine: Engine) -> None:
    from node.accounts import credentials

    user = make_user(engine, "amina")
    make_user(engine, "bernard")
    with db.session_scope(engine) as s:
        token = credentials.create_api_token(user, "t", session=s)[1]
    auth = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/follows", headers=auth, json={"target": "bernard@testserver"})
    assert created.status_code == 201
    assert [line["handle"] for line in created.json()["following"]] == ["bernard@testserver"]
    assert (
        client.post("/api/v1/follows", headers=auth, json={"target": "bernard@testserver"}).status_code == 409
    )
    assert client.post("/api/v1/follows", headers=auth, json={"target": "x"}).status_code == 422
    assert (
        client.post(
            "/api/v1/follows/unfollow", headers=auth, json={"uri": "http://testserver/users/bernard"}
        ).status_code
        == 204
    )
    assert client.get("/api/v1/follows", headers=auth).json()["following"] == []
    assert client.put("/api/v1/follows/approval", headers=auth, json={"approve_followers": True}).json() == {
        "approve_followers": True
    }
