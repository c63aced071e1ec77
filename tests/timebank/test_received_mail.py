"""Hours received (a gift, a grant, the payment of an agreement) leave by e-mail through a real SMTP
server on loopback, as the person chose for their time account: at once, in the daily digest, or never.
The e-mail reads the notification the transfer already wrote (nothing more on the transfer's path), after
its commit, and tells how many hours, never the giver's message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from node.accounts import service
from node.accounts.models import Role, User
from node.core import db
from node.core.mail import MailJob
from node.emails import notices, preferences
from node.emails.preferences import Frequency, MailPreference
from node.settings import Settings
from node.timebank import transfers
from node.timebank.jobs import TimebankJob
from tests.support.accounts import make_user
from tests.support.smtp import MailServer, mail_server
from tests.support.timebank import complete, people, token_agreement


@pytest.fixture
def server() -> Iterator[MailServer]:
    with mail_server() as running:
        yield running


def with_email(engine: Engine, *users: User) -> None:
    with db.session_scope(engine) as session:
        for user in users:
            row = session.get(User, user.pk)
            assert row is not None
            row.email = f"{row.username}@example.org"
            session.add(row)


def mail_jobs(settings: Settings, engine: Engine) -> None:
    notices.NoticeMailJob(settings, engine, interval=0).run_steps()
    asyncio.run(MailJob(settings, engine).run_once())


def choose(engine: Engine, user: User, **choices: Frequency) -> None:
    with db.session_scope(engine) as session:
        preferences.choose(
            service.reload(user, session=session), {k: v.value for k, v in choices.items()}, session=session
        )


def test_hours_received_are_mailed_as_the_person_chose(
    coop: Settings, engine: Engine, session: Session, server: MailServer
) -> None:
    mailing = server.settings_for(coop)
    alice, bob = people(engine, "alice", "bob")
    coordinator = make_user(engine, "coord", role=Role.COORDINATOR)
    with_email(engine, alice, bob, coordinator)
    mail_jobs(mailing, engine)  # the first pass marks where the mailing starts
    TimebankJob(coop, engine, interval=0).run_steps()  # starting credits: not told
    mail_jobs(mailing, engine)
    assert server.received == []

    # At once (the default): one e-mail to the payee, the hours in it, not the giver's message.
    transfers.give(session, coop, alice, "bob", "1,5", "Merci pour la porte du 12", confirm=True)
    session.commit()
    mail_jobs(mailing, engine)
    [gift] = server.received
    assert gift["To"] == "bob@example.org"
    assert gift["Subject"] == "Vous avez reçu du temps · You received time"
    body = gift.get_content()
    assert "Vous avez reçu du temps\u00a0: 1.50\u00a0h" in body and "You received time: 1.50 h" in body
    assert "porte" not in body and "Merci" not in body
    assert f"/mail/unsubscribe/{bob.pk}/timebank/" in gift["List-Unsubscribe"]
    mail_jobs(mailing, engine)
    assert len(server.received) == 1  # each notification once

    # Never: a grant is still told on the site, not by e-mail.
    choose(engine, bob, timebank=Frequency.NEVER)
    transfers.grant(session, coop, coordinator, "bob", "2", "Animation de l'atelier")
    session.commit()
    mail_jobs(mailing, engine)
    assert len(server.received) == 1

    # The daily digest: the payment of an agreement waits for it (the agreement's own news never).
    choose(engine, bob, timebank=Frequency.DAILY, answers=Frequency.NEVER, agreements=Frequency.NEVER)
    choose(engine, alice, answers=Frequency.NEVER, agreements=Frequency.NEVER)
    agreement = token_agreement(session, coop, alice, bob, amount="3")
    complete(session, coop, agreement, alice, bob)
    TimebankJob(coop, engine, interval=0).run_steps()
    mail_jobs(mailing, engine)
    assert len(server.received) == 1
    with db.session_scope(engine) as check:
        row = check.get(MailPreference, bob.pk)
        assert row is not None and row.digest_sent_at is not None
        row.digest_sent_at = row.digest_sent_at - timedelta(days=1, minutes=1)  # a day has passed
        check.add(row)
    mail_jobs(mailing, engine)
    digest = server.received[-1]
    assert digest["To"] == "bob@example.org"
    assert digest["Subject"] == "Votre résumé quotidien · Your daily digest"
    assert "You received time: 3.00 h" in digest.get_content()


def test_a_payment_is_mailed_to_the_provider_at_once(
    coop: Settings, engine: Engine, session: Session, server: MailServer
) -> None:
    mailing = server.settings_for(coop)
    alice, bob = people(engine, "alice", "bob")
    with_email(engine, alice, bob)
    agreement = token_agreement(session, coop, alice, bob, amount="1.5", basis="per_hour", hours=Decimal(2))
    mail_jobs(mailing, engine)
    for user in (alice, bob):
        choose(engine, user, messages=Frequency.NEVER, answers=Frequency.NEVER, agreements=Frequency.NEVER)
    complete(session, coop, agreement, alice, bob)
    TimebankJob(coop, engine, interval=0).run_steps()
    mail_jobs(mailing, engine)
    [paid] = server.received
    assert paid["To"] == "bob@example.org"
    assert "You received time: 3.00 h" in paid.get_content()
