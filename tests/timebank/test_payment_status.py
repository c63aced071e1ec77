"""The payment of an agreement priced in time tokens, as its page and the API show it (upcoming, due,
waiting with its reason, paid), and what the people hear from the time bank (notifications, once each).
A payment between nodes (clearing, refused for good) is checked in test_exchange.py and on real nodes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.accounts.models import Role, User
from node.app import create_app
from node.core.db import session_scope
from node.core.timeutil import utcnow
from node.market.models import Agreement, Notification
from node.settings import Settings
from node.timebank import payments, transfers
from node.timebank.jobs import TimebankJob
from node.timebank.models import Transfer
from tests.support.accounts import make_user
from tests.support.pages import login
from tests.support.timebank import complete, people, token_agreement


def run_job(settings: Settings, engine: Engine) -> None:
    TimebankJob(settings, engine, interval=0).run_steps()


def told(engine: Engine, user: User, kind: str) -> list[Notification]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(Notification).where(Notification.user_id == user.pk, Notification.kind == kind)
            )
        )


def state_of(session: Session, settings: Settings, ap_id: str) -> payments.PaymentStatus | None:
    session.commit()  # a fresh read: the job wrote in its own transactions
    agreement = session.exec(select(Agreement).where(Agreement.ap_id == ap_id)).one()
    return payments.status_of(session, settings, agreement)


def test_a_payment_goes_from_upcoming_to_paid_and_the_provider_hears_of_it(
    coop: Settings, engine: Engine, session: Session
) -> None:
    alice, bob = people(engine, "alice", "bob")
    agreement = token_agreement(session, coop, alice, bob, amount="1.5", basis="per_hour", hours=Decimal(2))
    shown = state_of(session, coop, agreement.ap_id)
    assert shown is not None and (shown.state, shown.kind, shown.amount) == ("upcoming", "payment", 300)
    complete(session, coop, agreement, alice, bob)
    assert (status := state_of(session, coop, agreement.ap_id)) is not None and status.state == "due"
    run_job(coop, engine)
    run_job(coop, engine)
    paid = state_of(session, coop, agreement.ap_id)
    assert paid is not None and (paid.state, paid.reason) == ("paid", "") and paid.at is not None
    received = told(engine, bob, "timebank_received")
    assert len(received) == 1 and received[0].object_uri == agreement.ap_id
    assert (
        f'"href": "/me/agreements/{agreement.id}"' in received[0].data
        and '"hours": "3.00"' in received[0].data
    )
    assert told(engine, alice, "timebank_received") == []  # the starting credit is not news


def test_a_payment_a_limit_holds_back_shows_why_and_is_told_once(
    coop: Settings, engine: Engine, session: Session
) -> None:
    alice, bob = people(engine, "alice", "bob")
    coordinator = make_user(engine, "coord", role=Role.COORDINATOR)
    agreement = token_agreement(session, coop, alice, bob, amount="13", basis="total", hours=Decimal(13))
    complete(session, coop, agreement, alice, bob)
    for _ in range(3):  # the job tries again: nobody is told twice
        run_job(coop, engine)
        with Session(engine) as s:
            s.execute(update(Transfer).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
            s.commit()
    waiting = state_of(session, coop, agreement.ap_id)
    assert waiting is not None and (waiting.state, waiting.reason) == ("waiting", "minimum")
    assert "minimum" in waiting.reason_text
    assert (
        len(told(engine, alice, "timebank_waiting")) == 1 and len(told(engine, bob, "timebank_waiting")) == 1
    )
    transfers.grant(session, coop, coordinator, "alice", "1", "Aide ponctuelle")
    session.commit()
    assert len(told(engine, alice, "timebank_received")) == 1  # the grant
    run_job(coop, engine)
    paid = state_of(session, coop, agreement.ap_id)
    assert paid is not None and paid.state == "paid"
    assert len(told(engine, bob, "timebank_received")) == 1


def test_a_gift_is_told_to_its_recipient(coop: Settings, engine: Engine, session: Session) -> None:
    alice, bob = people(engine, "alice", "bob")
    transfers.give(session, coop, alice, "bob", "1", "Merci", confirm=True)
    session.commit()
    (gift,) = told(engine, bob, "timebank_received")
    assert gift.actor_uri is not None and gift.actor_uri.endswith("/users/alice")
    assert '"href": "/me/timebank"' in gift.data


def test_an_agreement_in_euros_has_no_payment_in_time(
    coop: Settings, engine: Engine, session: Session
) -> None:
    alice, bob = people(engine, "alice", "bob")
    agreement = token_agreement(session, coop, alice, bob)
    agreement.price_currency = "EUR"
    assert payments.status_of(session, coop, agreement) is None


@pytest.fixture
def coop_client(coop: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(
        create_app(coop, engine=engine), base_url="http://testserver", follow_redirects=False
    ) as c:
        yield c


def test_the_agreement_page_and_the_api_show_the_payment(
    coop: Settings, engine: Engine, session: Session, coop_client: TestClient
) -> None:
    alice, bob = people(engine, "alice", "bob")
    agreement = token_agreement(session, coop, alice, bob, amount="13", basis="total", hours=Decimal(13))
    with session_scope(engine) as s:
        user = s.exec(select(User).where(User.username == "alice")).one()
        token = credentials.create_api_token(user, "test", session=s)[1]
    headers = {"Authorization": f"Bearer {token}"}
    api = coop_client.get(f"/api/v1/agreements/{agreement.id}", headers=headers).json()
    assert api["payment"]["state"] == "upcoming" and api["payment"]["hours"] == "13.00"
    complete(session, coop, agreement, alice, bob)
    run_job(coop, engine)
    api = coop_client.get(f"/api/v1/agreements/{agreement.id}", headers=headers).json()
    assert api["payment"] == {
        "state": "waiting",
        "kind": "payment",
        "hours": "13.00",
        "transfer": api["payment"]["transfer"],
        "reason": "minimum",
        "reason_text": payments.REASONS["minimum"],
        "at": None,
    }
    login(coop_client, "alice")
    page = coop_client.get(f"/me/agreements/{agreement.id}", headers={"Accept-Language": "fr"}).text
    assert 'data-testid="payment" data-state="waiting"' in page
    assert "Paiement en temps" in page and "En attente : une limite est atteinte" in page
    assert "passerait sous le minimum" in page
