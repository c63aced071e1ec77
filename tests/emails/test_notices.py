"""Notifications by e-mail (node/emails) through a real SMTP server on loopback: at once, in a daily
digest or never, per topic; no message text in the e-mail; unsubscribe links that work without login and
cannot be forged."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.accounts import service
from node.accounts.models import User
from node.app import create_app
from node.core import db
from node.core.mail import MailJob
from node.emails import notices, preferences
from node.emails.preferences import Frequency, MailPreference
from node.market.notifications import Kind, notify
from node.settings import Settings
from tests.support.accounts import PASSWORD
from tests.support.pages import login, post_form
from tests.support.smtp import MailServer, mail_server


@pytest.fixture
def server() -> Iterator[MailServer]:
    with mail_server() as running:
        yield running


@pytest.fixture
def mailing(settings: Settings, server: MailServer) -> Settings:
    return server.settings_for(settings)


def person(engine: Engine, name: str, email: str | None = None) -> User:
    with db.session_scope(engine) as session:
        return service.create_user(
            username=name, password=PASSWORD, email=email or f"{name}@example.org", session=session
        )


def tell(engine: Engine, user: User, kind: Kind, **data: str) -> None:
    with db.session_scope(engine) as session:
        notify(user.pk, kind, session=session, data=dict(data))


def run_jobs(settings: Settings, engine: Engine) -> None:
    notices.NoticeMailJob(settings, engine, interval=0).run_steps()
    asyncio.run(MailJob(settings, engine).run_once())


def test_new_notifications_leave_at_once_one_mail_per_person_without_the_message_text(
    mailing: Settings, engine: Engine, server: MailServer
) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob")
    tell(engine, alice, Kind.MESSAGE, text="secret door code 4521")  # before the first pass: not mailed
    run_jobs(mailing, engine)
    assert server.received == []
    tell(engine, alice, Kind.MESSAGE, text="the door code is 1234")
    tell(engine, alice, Kind.BID_RECEIVED)
    tell(engine, bob, Kind.TIMEBANK_WAITING)  # not a mailed topic
    run_jobs(mailing, engine)
    [message] = server.received
    assert message["To"] == "alice@example.org"
    body = message.get_content()
    assert "Nouveau message" in body and "New message" in body and "Nouvelle réponse" in body
    assert "1234" not in body and "4521" not in body
    assert message["List-Unsubscribe"].strip().startswith("<http://testserver/mail/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    run_jobs(mailing, engine)
    assert len(server.received) == 1  # each notification once


def test_never_and_daily_digest(mailing: Settings, engine: Engine, server: MailServer) -> None:
    alice = person(engine, "alice")
    run_jobs(mailing, engine)  # the first pass marks where the mailing starts
    with db.session_scope(engine) as session:
        preferences.choose(
            service.reload(alice, session=session),
            {"messages": Frequency.NEVER.value, "answers": Frequency.DAILY.value},
            session=session,
        )
    tell(engine, alice, Kind.MESSAGE)
    tell(engine, alice, Kind.BID_RECEIVED)
    tell(engine, alice, Kind.AGREEMENT_CONFIRMED)  # still at once (the default)
    run_jobs(mailing, engine)
    [at_once] = server.received
    assert "Nouvelle réponse" not in at_once.get_content() and "Nouveau message" not in at_once.get_content()
    run_jobs(mailing, engine)
    assert len(server.received) == 1  # the digest waits for its day
    with db.session_scope(engine) as session:
        row = session.get(MailPreference, alice.pk)
        assert row is not None and row.digest_sent_at is not None
        row.digest_sent_at = row.digest_sent_at - timedelta(days=1, minutes=1)  # a day has passed
        session.add(row)
    run_jobs(mailing, engine)
    digest = server.received[1]
    assert digest["Subject"] == "Votre résumé quotidien · Your daily digest"
    assert "Nouvelle réponse" in digest.get_content() and "Nouveau message" not in digest.get_content()
    run_jobs(mailing, engine)
    assert len(server.received) == 2  # one digest a day


def test_unsubscribe_links_work_without_login_and_cannot_be_forged(
    mailing: Settings, engine: Engine, server: MailServer
) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob")
    run_jobs(mailing, engine)
    tell(engine, alice, Kind.MESSAGE)
    run_jobs(mailing, engine)
    link = re.search(r"<http://testserver(/mail/unsubscribe/[^>]+)>", server.received[0]["List-Unsubscribe"])
    assert link is not None
    path = link.group(1)
    assert path.startswith(f"/mail/unsubscribe/{alice.pk}/messages/")
    with TestClient(create_app(mailing, engine=engine), follow_redirects=False) as web:
        assert web.get(path).status_code == 200
        with db.session_scope(engine) as session:  # a GET changes nothing (link checkers)
            assert preferences.preferences_of(alice.pk, session=session).messages == Frequency.IMMEDIATELY
        forged = path.replace(f"/{alice.pk}/", f"/{bob.pk}/")
        assert web.post(forged).status_code == 404
        other_topic = path.replace("/messages/", "/answers/")
        assert web.post(other_topic).status_code == 404
        one_click = web.post(path, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 200
    with db.session_scope(engine) as session:
        chosen = preferences.preferences_of(alice.pk, session=session)
        assert chosen.messages == Frequency.NEVER and chosen.answers == Frequency.IMMEDIATELY
        assert preferences.preferences_of(bob.pk, session=session).messages == Frequency.IMMEDIATELY
    tell(engine, alice, Kind.MESSAGE)
    run_jobs(mailing, engine)
    assert len(server.received) == 1


def test_the_settings_page_saves_the_choices(mailing: Settings, engine: Engine) -> None:
    person(engine, "alice")
    with TestClient(create_app(mailing, engine=engine), follow_redirects=False) as web:
        login(web, "alice")
        page = web.get("/settings/notifications")
        assert page.status_code == 200 and "Notifications par courriel" in page.text
        saved = post_form(web, "/settings/notifications", {"messages": "daily", "agreements": "never"})
        assert saved.status_code == 303
        bad = post_form(web, "/settings/notifications", {"messages": "hourly"})
        assert bad.status_code == 422
    with db.session_scope(engine) as session:
        chosen = preferences.preferences_of(1, session=session)
        assert (chosen.messages, chosen.answers, chosen.agreements) == ("daily", "immediately", "never")
