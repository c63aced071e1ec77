"""Outgoing e-mail (node/core/mail.py) against a real SMTP server on loopback: letters in French then
English, sealed while they wait, sent by the job, retried after a transient refusal, abandoned after a
permanent one, nothing stored when e-mail is off."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from node.core import db, mail
from node.core.errors import N_
from node.core.mail import MailJob, MailState, OutgoingMail
from node.core.timeutil import utcnow
from node.settings import Settings
from tests.support.smtp import mail_server, trusting


def queue_one(settings: Settings, engine: Engine, to: str = "alice@example.org") -> int:
    message = mail.letter(
        settings,
        to=to,
        subject=N_("Reset your password"),
        paragraphs=[(N_("Hello {name},"), {"name": "Alice"}), "https://example.org/secret-link"],
    )
    with db.session_scope(engine) as session:
        row = mail.enqueue(settings, message, session=session)
        assert row is not None and row.id is not None
        return row.id


def row(engine: Engine, mail_id: int) -> OutgoingMail:
    with db.session_scope(engine) as session:
        found = session.get(OutgoingMail, mail_id)
        assert found is not None
        return found


def test_a_letter_is_french_then_english_sealed_while_waiting_then_sent(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mail_server(users={"node": "s3cret-pass"}, folder=tmp_path) as server:
        trusting(server, monkeypatch)  # STARTTLS, then a login
        settings = server.settings_for(settings.replace(mail_from="Montreuil <noreply@montreuil.example>"))
        mail_id = queue_one(settings, engine)
        stored = row(engine, mail_id)
        assert stored.state == MailState.WAITING
        assert "secret-link" not in stored.message and "alice@" not in stored.message  # sealed at rest
        assert asyncio.run(MailJob(settings, engine).run_once()) == 1
    [received] = server.received
    assert received["To"] == "alice@example.org"
    assert received["From"] == "Montreuil <noreply@montreuil.example>"
    assert received["Subject"] == "Réinitialiser votre mot de passe · Reset your password"
    body = received.get_content()
    assert body.index("Bonjour Alice,") < body.index("Hello Alice,")
    assert "https://example.org/secret-link" in body
    sent = row(engine, mail_id)
    assert sent.state == MailState.SENT and sent.message == "" and sent.sent_at is not None


def test_a_transient_refusal_is_tried_again_later_and_then_sent(settings: Settings, engine: Engine) -> None:
    with mail_server() as server:
        settings = server.settings_for(settings)
        mail_id = queue_one(settings, engine)
        server.refuse = "451 4.3.0 try again later"
        now = utcnow()
        job = MailJob(settings, engine, clock=lambda: now)
        assert asyncio.run(job.run_once()) == 1
        waiting = row(engine, mail_id)
        assert waiting.state == MailState.WAITING and waiting.attempts == 1
        assert "451" in waiting.last_error and waiting.message  # kept, to be tried again
        assert asyncio.run(job.run_once()) == 0  # not due yet
        server.refuse = None
        later = MailJob(settings, engine, clock=lambda: now + timedelta(hours=1))
        assert asyncio.run(later.run_once()) == 1
    assert len(server.received) == 1
    assert row(engine, mail_id).state == MailState.SENT


def test_a_permanent_refusal_is_abandoned_at_once(settings: Settings, engine: Engine) -> None:
    with mail_server() as server:
        settings = server.settings_for(settings)
        mail_id = queue_one(settings, engine)
        server.refuse = "550 5.1.1 no such mailbox"
        assert asyncio.run(MailJob(settings, engine).run_once()) == 1
    failed = row(engine, mail_id)
    assert failed.state == MailState.FAILED and failed.message == "" and "550" in failed.last_error


def test_an_unreachable_server_keeps_the_mail_waiting(settings: Settings, engine: Engine) -> None:
    with mail_server() as server:
        settings = server.settings_for(settings)
    mail_id = queue_one(settings, engine)  # the server is gone: nothing listens on its port
    assert asyncio.run(MailJob(settings, engine).run_once()) == 1
    waiting = row(engine, mail_id)
    assert waiting.state == MailState.WAITING and "unreachable" in waiting.last_error


def test_a_wrong_login_keeps_the_mail_waiting(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mail_server(users={"node": "right-password"}, folder=tmp_path) as server:
        trusting(server, monkeypatch)
        settings = server.settings_for(settings).replace(smtp_password="wrong-password")
        mail_id = queue_one(settings, engine)
        assert asyncio.run(MailJob(settings, engine).run_once()) == 1
    assert server.received == []
    assert row(engine, mail_id).state == MailState.WAITING


def test_mail_off_stores_nothing_and_says_so(
    settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    assert not mail.enabled(settings)
    with caplog.at_level(logging.INFO, logger="asasap.mail"):
        assert mail.jobs(settings, engine) == []
        message = mail.letter(
            settings, to="bob@example.org", subject=N_("Reset your password"), paragraphs=[]
        )
        with db.session_scope(engine) as session:
            assert mail.enqueue(settings, message, session=session) is None
    with db.session_scope(engine) as session:
        assert session.exec(select(OutgoingMail)).all() == []
    assert "ASASAP_SMTP_HOST" in caplog.text


def test_the_default_sender_is_the_node_at_its_domain(settings: Settings) -> None:
    assert mail.sender(settings) == "Montreuil Services <noreply@testserver>"


def test_an_untrusted_certificate_keeps_the_mail_waiting(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    with mail_server(users={"node": "s3cret-pass"}, folder=tmp_path) as server:
        settings = server.settings_for(settings)  # the certificate is not trusted: no login in clear
        mail_id = queue_one(settings, engine)
        assert asyncio.run(MailJob(settings, engine).run_once()) == 1
    assert server.received == []
    assert "unreachable" in row(engine, mail_id).last_error
