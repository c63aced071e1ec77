"""The time bank through the pages and the API of a cooperative node (and what a market node answers):
balance and history, a gift confirmed in two steps, the coordinators' page with a grant whose reason
is mandatory, the CSV exports, the balance before accepting an answer priced in tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.accounts.models import Role, User
from node.app import create_app
from node.core.db import session_scope
from node.settings import Settings
from tests.support.accounts import PASSWORD, make_user
from tests.support.pages import form_token
from tests.support.timebank import people


@pytest.fixture
def coop_client(coop: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(
        create_app(coop, engine=engine), base_url="http://testserver", follow_redirects=False
    ) as c:
        yield c


def login(client: TestClient, username: str) -> None:
    token = form_token(client.get("/login").text, "/login")
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert response.status_code == 303


def test_a_gift_on_the_pages_needs_confirmation(coop_client: TestClient, engine: Engine) -> None:
    people(engine, "alice", "bob")
    login(coop_client, "alice")
    page = coop_client.get("/me/timebank")
    assert page.status_code == 200 and "2\u00a0h" in page.text
    token = form_token(page.text, "/me/timebank/gift")
    ask = coop_client.post(
        "/me/timebank/gift",
        data={"csrf_token": token, "recipient": "bob", "amount": "1,5", "message": "Merci"},
    )
    assert ask.status_code == 200 and 'name="confirm" value="yes"' in ask.text
    assert "0,50\u00a0h" in ask.text  # the balance after the gift
    bad = coop_client.post(
        "/me/timebank/gift", data={"csrf_token": token, "recipient": "bob", "amount": "-1"}
    )
    assert bad.status_code == 422
    done = coop_client.post(
        "/me/timebank/gift",
        data={"csrf_token": token, "recipient": "bob", "amount": "1,5", "message": "Merci", "confirm": "yes"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/me/timebank?done=gift"
    after = coop_client.get("/me/timebank")
    assert "0,50\u00a0h" in after.text and "Merci" in after.text
    csv = coop_client.get("/me/timebank.csv")
    assert csv.status_code == 200 and csv.text.splitlines()[0].startswith("date,transfer,kind")
    assert ",gift,settled,-1.50," in csv.text


def test_coordinators_grant_with_a_reason_and_see_the_figures(
    coop_client: TestClient, engine: Engine
) -> None:
    people(engine, "alice")
    make_user(engine, "coord", role=Role.COORDINATOR)
    login(coop_client, "coord")
    page = coop_client.get("/timebank/coordination")
    assert page.status_code == 200
    token = form_token(page.text, "/timebank/coordination/transfer")
    missing = coop_client.post(
        "/timebank/coordination/transfer",
        data={"csrf_token": token, "direction": "grant", "username": "alice", "amount": "3", "reason": ""},
    )
    assert missing.status_code == 422
    made = coop_client.post(
        "/timebank/coordination/transfer",
        data={
            "csrf_token": token,
            "direction": "grant",
            "username": "alice",
            "amount": "3",
            "reason": "Atelier vélo",
        },
    )
    assert made.status_code == 303
    assert "5\u00a0h" in coop_client.get("/timebank/coordination").text  # 2 h of starting credit + 3
    assert "Atelier vélo" in coop_client.get("/timebank/coordination/transfers.csv").text
    page = coop_client.get("/timebank/coordination")
    grant_id = page.text.split("/timebank/coordination/transfers/")[1].split("/reverse")[0]
    no_reason = coop_client.post(
        f"/timebank/coordination/transfers/{grant_id}/reverse", data={"csrf_token": token, "reason": ""}
    )
    assert no_reason.status_code == 422
    undone = coop_client.post(
        f"/timebank/coordination/transfers/{grant_id}/reverse",
        data={"csrf_token": token, "reason": "Doublon"},
    )
    assert undone.status_code == 303
    assert "2\u00a0h" in coop_client.get("/timebank/coordination").text  # back to the starting credit


def test_the_api(coop_client: TestClient, engine: Engine) -> None:
    people(engine, "alice", "bob")
    make_user(engine, "coord", role=Role.COORDINATOR)
    tokens = {}
    with session_scope(engine) as session:
        for name in ("alice", "coord"):
            user = session.exec(select(User).where(User.username == name)).one()
            tokens[name] = credentials.create_api_token(user, "test", session=session)[1]
    alice = {"Authorization": f"Bearer {tokens['alice']}"}
    me = coop_client.get("/api/v1/timebank/me", headers=alice).json()
    assert me["balance"] == "2.00" and me["minimum"] == "-10.00"
    refused = coop_client.post(
        "/api/v1/timebank/gifts", headers=alice, json={"recipient": "bob", "amount": "1", "confirm": False}
    )
    assert refused.status_code == 422
    gift = coop_client.post(
        "/api/v1/timebank/gifts", headers=alice, json={"recipient": "bob", "amount": "1", "confirm": True}
    )
    assert gift.status_code == 201 and gift.json()["hours"] == "-1.00"
    forbidden = coop_client.get("/api/v1/timebank/figures", headers=alice)
    assert forbidden.status_code == 403
    coord = {"Authorization": f"Bearer {tokens['coord']}"}
    figures = coop_client.get("/api/v1/timebank/figures", headers=coord).json()
    assert figures["circulation"] == "4.00" and figures["accounts"] == 2
    assert "/api/v1/timebank/gifts" in coop_client.get("/api/v1/openapi.json").json()["paths"]


def test_a_market_node_says_it_keeps_no_time_bank(client: TestClient, engine: Engine) -> None:
    people(engine, "alice")
    login(client, "alice")
    assert client.get("/me/timebank").status_code == 404
    assert "/me/timebank" not in client.get("/").text
