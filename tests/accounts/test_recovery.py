"""Password reset by e-mail, end to end through the pages and a real SMTP server on loopback: the same
answer for known and unknown addresses, a link that works once and expires, the old sessions ended,
the requests limited, nothing offered when the node sends no e-mail."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.accounts import service
from node.accounts.recovery import PasswordReset
from node.app import create_app
from node.core import db
from node.core.mail import MailJob
from node.settings import Settings
from tests.support.accounts import PASSWORD
from tests.support.pages import login, post_form
from tests.support.smtp import MailServer, mail_server

NEW_PASSWORD = "un tout autre secret 42"
LINK = re.compile(r"http://testserver/password/reset/[A-Za-z0-9_-]+")


@pytest.fixture
def server() -> Iterator[MailServer]:
    with mail_server() as running:
        yield running


@pytest.fixture
def mailing(settings: Settings, server: MailServer) -> Settings:
    return server.settings_for(settings)


@pytest.fixture
def web(mailing: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(mailing, engine=engine), follow_redirects=False) as client:
        yield client


def make_alice(engine: Engine) -> None:
    with db.session_scope(engine) as session:
        service.create_user(username="alice", password=PASSWORD, email="alice@example.org", session=session)


def send(settings: Settings, engine: Engine) -> None:
    asyncio.run(MailJob(settings, engine).run_once())


def test_a_forgotten_password_is_reset_through_the_link_once(
    mailing: Settings, engine: Engine, web: TestClient, server: MailServer
) -> None:
    make_alice(engine)
    with TestClient(web.app, follow_redirects=False) as other_device:
        login(other_device, "alice")
        assert "Mot de passe oublié" in web.get("/login").text
        asked = post_form(web, "/password/forgot", {"email": "Alice@Example.org"})
        assert asked.status_code == 200 and "Si un compte a cette adresse" in asked.text
        send(mailing, engine)
        [message] = server.received
        assert message["To"] == "alice@example.org"
        link = LINK.search(message.get_content())
        assert link is not None
        secret = link.group(0).rsplit("/", 1)[1]
        with db.session_scope(engine) as session:  # only a hash of the link is kept
            stored = session.exec(select(PasswordReset)).one()
            assert stored.token_hash != secret and secret not in stored.token_hash
        path = link.group(0).removeprefix("http://testserver")
        assert web.get(path).status_code == 200
        differ = post_form(web, path, {"password": NEW_PASSWORD, "password_confirm": "autre chose encore"})
        assert differ.status_code == 422
        weak = post_form(web, path, {"password": "court", "password_confirm": "court"})
        assert weak.status_code == 422
        done = post_form(web, path, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
        assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
        assert other_device.get("/settings/account").status_code == 303  # the other session ended
    assert web.get(path).status_code == 410  # used up
    refused = web.post("/login", data={"username": "alice", "password": PASSWORD})
    assert refused.status_code != 303
    login(web, "alice", NEW_PASSWORD)


def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    mailing: Settings, engine: Engine, web: TestClient, server: MailServer
) -> None:
    make_alice(engine)
    known = post_form(web, "/password/forgot", {"email": "alice@example.org"})
    unknown = post_form(web, "/password/forgot", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'name="csrf_token" value="[^"]*"')
    assert strip.sub("", known.text) == strip.sub("", unknown.text)
    send(mailing, engine)
    assert [m["To"] for m in server.received] == ["alice@example.org"]


def test_an_expired_link_does_not_work(
    mailing: Settings, engine: Engine, web: TestClient, server: MailServer
) -> None:
    make_alice(engine)
    post_form(web, "/password/forgot", {"email": "alice@example.org"})
    send(mailing, engine)
    link = LINK.search(server.received[0].get_content())
    assert link is not None
    with db.session_scope(engine) as session:
        reset = session.exec(select(PasswordReset)).one()
        reset.expires_at = reset.created_at - timedelta(seconds=1)
        session.add(reset)
    path = link.group(0).removeprefix("http://testserver")
    assert web.get(path).status_code == 410
    token = re.search(r'name="csrf_token" value="([^"]*)"', web.get("/login").text)
    assert token is not None
    answer = web.post(
        path, data={"csrf_token": token.group(1), "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    )
    assert answer.status_code == 410
    login(web, "alice")  # the old password still works


def test_reset_requests_are_limited_per_address(
    mailing: Settings, engine: Engine, server: MailServer
) -> None:
    make_alice(engine)
    limited = mailing.replace(limit_password_resets_per_address_hour=2)
    with TestClient(create_app(limited, engine=engine), follow_redirects=False) as web:
        for _ in range(2):
            assert post_form(web, "/password/forgot", {"email": "alice@example.org"}).status_code == 200
        refused = post_form(web, "/password/forgot", {"email": "alice@example.org"})
        assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_without_e_mail_the_page_says_to_ask_a_coordinator(client: TestClient) -> None:
    page = client.get("/password/forgot")
    assert (
        page.status_code == 200
        and "coordinateur" in page.text
        and 'action="/password/forgot"' not in page.text
    )
