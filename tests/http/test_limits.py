"""Abuse limits as people and API clients meet them: 429 with Retry-After and a message in their
language, on pages and in the API, and nothing stored by the refused request."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from node.accounts import credentials, service
from node.accounts.models import ApiToken, User
from node.app import create_app
from node.core import db
from node.market.models import Proposal
from node.settings import Settings
from tests.support.accounts import PASSWORD, make_user
from tests.support.market import PROPOSAL_FORM
from tests.support.pages import login, post_form


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


@pytest.fixture
def limited(settings: Settings, engine: Engine) -> Starlette:
    return create_app(
        settings.replace(
            limit_registrations_per_address_hour=2,
            limit_proposals_per_person_day=1,
            limit_tokens_per_person_hour=1,
            limit_api_requests_per_token_minute=3,
        ),
        engine=engine,
    )


def test_registrations_per_address(limited: Starlette, engine: Engine) -> None:
    with TestClient(limited, base_url="http://testserver", follow_redirects=False) as client:
        for index in range(2):
            client.cookies.clear()
            done = post_form(
                client,
                "/register",
                {"username": f"voisin{index}", "password": PASSWORD, "password_confirm": PASSWORD},
            )
            assert done.status_code == 303, done.text
        client.cookies.clear()
        refused = post_form(
            client, "/register", {"username": "voisin9", "password": PASSWORD, "password_confirm": PASSWORD}
        )
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 3601
    assert "Trop de comptes" in refused.text  # French first
    assert count(engine, User) == 2


def test_proposals_per_person_on_the_pages(limited: Starlette, engine: Engine) -> None:
    make_user(engine, "alice")
    with TestClient(limited, base_url="http://testserver", follow_redirects=False) as client:
        login(client, "alice")
        assert post_form(client, "/proposals/new", PROPOSAL_FORM).status_code == 303
        refused = post_form(client, "/proposals/new", PROPOSAL_FORM)
        client.cookies.set("asasap_lang", "en")
        in_english = post_form(client, "/proposals/new", PROPOSAL_FORM)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "aujourd&#39;hui" in refused.text or "aujourd'hui" in refused.text
    assert in_english.status_code == 429 and "too many offers and demands today" in in_english.text
    assert count(engine, Proposal) == 1


def test_tokens_and_requests_per_token_in_the_api(limited: Starlette, engine: Engine) -> None:
    user = make_user(engine, "bob")
    with db.session_scope(engine) as session:
        _, secret = credentials.create_api_token(user, "first", session=session)
    bearer = {"Authorization": f"Bearer {secret}"}
    with TestClient(limited, base_url="http://testserver") as client:
        created = client.post("/api/v1/tokens", json={"name": "second"}, headers=bearer)
        refused = client.post(
            "/api/v1/tokens", json={"name": "third"}, headers={**bearer, "Accept-Language": "fr"}
        )
        assert created.status_code == 201 and refused.status_code == 429
        assert refused.json()["error"]["code"] == "throttled"
        assert "clés d'API" in refused.json()["error"]["message"]
        assert int(refused.headers["retry-after"]) > 0
        assert count(engine, ApiToken) == 2
        # Three requests per minute for this token: the two above counted, one more passes.
        assert client.get("/api/v1/me", headers=bearer).status_code == 200
        slowed = client.get("/api/v1/me", headers=bearer)
    assert slowed.status_code == 429 and 0 < int(slowed.headers["retry-after"]) <= 61
    assert slowed.json()["error"]["message"].startswith("Too many requests with this token")


def test_the_service_refuses_without_storing(engine: Engine, settings: Settings) -> None:
    settings = settings.replace(limit_tokens_per_person_hour=1)
    user = make_user(engine, "carole")
    with db.session_scope(engine) as session:
        service.create_token(settings, user, "one", session=session)
    with pytest.raises(Exception, match="too many API tokens"), db.session_scope(engine) as session:
        service.create_token(settings, user, "two", session=session)
    assert count(engine, ApiToken) == 1
