"""Password reset started by a coordinator, through the administration page: asked for confirmation,
the link sent by e-mail (a real SMTP server on loopback) or, without e-mail, shown once to give by
hand; the link works once; a coordinator cannot reset an administrator's password nor their own."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.accounts import service
from node.accounts.models import Role
from node.app import create_app
from node.core import db
from node.core.mail import MailJob
from node.settings import Settings
from tests.support.accounts import PASSWORD
from tests.support.pages import csrf, login, post_form
from tests.support.smtp import MailServer, mail_server

NEW_PASSWORD = "un tout autre secret 42"
LINK = re.compile(r"http://testserver/password/reset/[A-Za-z0-9_-]+")
SHOWN = re.compile(r'<code id="reset-link"[^>]*>(http://testserver/password/reset/[A-Za-z0-9_-]+)</code>')


def send(settings: Settings, engine: Engine) -> None:
    asyncio.run(MailJob(settings, engine).run_once())


def people(engine: Engine) -> None:
    with db.session_scope(engine) as session:
        service.create_user(username="carole", password=PASSWORD, role=Role.COORDINATOR, session=session)
        service.create_user(username="alice", password=PASSWORD, email="alice@example.org", session=session)
        service.create_user(username="bruno", password=PASSWORD, session=session)
        service.create_user(username="ada", password=PASSWORD, role=Role.ADMIN, session=session)


@pytest.fixture
def server() -> Iterator[MailServer]:
    with mail_server() as running:
        yield running


def test_without_e_mail_the_link_is_shown_once_and_works_once(settings: Settings, engine: Engine) -> None:
    people(engine)
    with TestClient(create_app(settings, engine=engine), follow_redirects=False) as web:
        login(web, "carole")
        assert web.get("/admin/users/bruno/reset").headers["location"] == "/admin"  # a reload acts on nothing
        asking = post_form(web, "/admin/users/bruno/reset", {}, token_from="/admin")
        assert asking.status_code == 200 and "Réinitialiser le mot de passe" in asking.text
        assert SHOWN.search(asking.text) is None  # nothing done before confirming
        shown = post_form(web, "/admin/users/bruno/reset", {"confirmed": "1"}, token_from="/admin")
        assert shown.status_code == 200
        found = SHOWN.search(shown.text)
        assert found is not None
        assert SHOWN.search(web.get("/admin").text) is None  # shown once only
        # No button for an administrator nor for oneself, and the address refuses them too.
        page = web.get("/admin").text
        assert "/admin/users/ada/reset" not in page and "/admin/users/carole/reset" not in page
        token = csrf(web, "/admin", "/admin/users/bruno/reset")
        refused = web.post("/admin/users/ada/reset", data={"csrf_token": token, "confirmed": "1"})
        assert refused.status_code == 403
        own = web.post("/admin/users/carole/reset", data={"csrf_token": token, "confirmed": "1"})
        assert own.status_code == 409
    path = found.group(1).removeprefix("http://testserver")
    with TestClient(create_app(settings, engine=engine), follow_redirects=False) as bruno:
        done = post_form(bruno, path, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
        assert done.status_code == 303
        login(bruno, "bruno", NEW_PASSWORD)
        assert bruno.get(path).status_code == 410


def test_with_e_mail_the_link_goes_to_the_member(
    settings: Settings, engine: Engine, server: MailServer
) -> None:
    mailing = server.settings_for(settings)
    people(engine)
    with TestClient(create_app(mailing, engine=engine), follow_redirects=False) as web:
        login(web, "carole")
        sent = post_form(web, "/admin/users/alice/reset", {"confirmed": "1"}, token_from="/admin")
        assert sent.status_code == 303 and sent.headers["location"] == "/admin?done=reset"
        assert SHOWN.search(web.get("/admin?done=reset").text) is None
        send(mailing, engine)
        [message] = server.received
        assert message["To"] == "alice@example.org"
        assert "coordination" in message.get_content() and LINK.search(message.get_content()) is not None
        # Without an address, the link is shown to the coordinator even though the node sends e-mail.
        shown = post_form(web, "/admin/users/bruno/reset", {"confirmed": "1"}, token_from="/admin")
        assert SHOWN.search(shown.text) is not None
