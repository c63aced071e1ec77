"""Helpers for time-bank tests: cooperative settings, the ledger's check, agreements priced in time
tokens, and a network between in-process nodes that loses, repeats or reorders what it carries."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.activitypub.inbox import verify as inbox
from node.activitypub.models import Delivery, DeliveryState, InboxActivity, OutboxActivity
from node.core import db
from node.market.agreements import service as agreements
from node.market.bids import service as bids
from node.market.bids.service import BidInput
from node.market.models import Agreement
from node.settings import Mode, Settings
from node.timebank import ledger
from node.timebank.models import TimebankAccount
from node.timebank.policy import Policy
from tests.support.databases import DatabaseFactory
from tests.support.federation import Federation, Node
from tests.support.market import make_proposal, person


def cooperative(settings: Settings, **changes: Any) -> Settings:
    """``settings`` of a cooperative node with a small policy easy to reach in tests."""
    values: dict[str, Any] = {
        "mode": Mode.COOPERATIVE,
        "timebank_starting_credit": Decimal("2"),
        "timebank_min_balance": Decimal("-10"),
        "timebank_max_balance": Decimal("20"),
        "timebank_peer_cap": Decimal("15"),
        "timebank_retry_seconds": 1,
    }
    values.update(changes)
    return settings.replace(**values)


def assert_ledger_ok(engine: Engine, settings: Settings) -> None:
    """The zero-sum check and every balance within its limits (as ``asasap timebank verify``)."""
    with Session(engine) as session:
        report = ledger.verify(session, Policy.of(settings))
    assert report.ok, report.problems
    assert not report.warnings, report.warnings


def balance(engine: Engine, key: str) -> int:
    with Session(engine) as session:
        account = session.exec(select(TimebankAccount).where(TimebankAccount.key == key)).first()
        return account.balance if account is not None else 0


def person_balance(engine: Engine, user: User) -> int:
    return balance(engine, f"person:{user.pk}")


def token_agreement(
    session: Session,
    settings: Settings,
    requester: User,
    provider: User,
    *,
    amount: str = "3",
    basis: str = "total",
    hours: Decimal = Decimal("3"),
) -> Agreement:
    """``requester``'s demand priced in tokens, ``provider``'s bid accepted (both on this node)."""
    demand = make_proposal(
        session, settings, requester, amount=Decimal(amount), currency="HOUR", basis=basis, hours=hours
    )
    bid = bids.place_bid(settings, provider, demand, BidInput(amount=amount), session=session)
    agreement = bids.accept_bid(settings, requester, bid, session=session)
    session.commit()
    return agreement


def complete(session: Session, settings: Settings, agreement: Agreement, *parties: User) -> None:
    for party in parties:
        agreements.confirm_completion(settings, party, agreement, session=session)
    session.commit()


def people(engine: Engine, *names: str) -> list[User]:
    return [person(engine, name, status="volunteer") for name in names]


# --- an unreliable network between in-process nodes ------------------------------------------------


@dataclass
class Message:
    target: str
    payload: dict[str, Any]


@dataclass
class Network:
    """Carries what the nodes' outboxes hold; the test decides what is lost, repeated or late."""

    federation: Federation
    in_flight: list[Message] = field(default_factory=list)

    def collect(self) -> int:
        """Take every pending delivery of every node into the network (the senders think them sent)."""
        count = 0
        for node in self.federation.nodes:
            with db.session_scope(node.engine) as session:
                rows = session.exec(
                    select(Delivery, OutboxActivity)
                    .join(OutboxActivity, col(OutboxActivity.id) == col(Delivery.outbox_id))
                    .where(Delivery.state == DeliveryState.PENDING.value)
                    .order_by(col(Delivery.id))
                ).all()
                for delivery, activity in rows:
                    delivery.state = DeliveryState.DELIVERED.value
                    session.add(delivery)
                    self.in_flight.append(
                        Message(delivery.inbox_url or delivery.target, json.loads(activity.payload))
                    )
                    count += 1
        return count

    def deliver(self, message: Message) -> bool:
        """Store ``message`` in its target's inbox as the real inbox does (a repeated id is dropped)."""
        target = self.federation.node_of(message.target)
        if target is None:
            return False
        payload = message.payload
        stored, _ = inbox.sanitise(payload, payload["actor"])
        with db.session_scope(target.engine) as session:
            known = session.exec(
                select(InboxActivity.id).where(InboxActivity.activity_id == payload["id"])
            ).first()
            if known is not None:
                return False
            session.add(
                InboxActivity(
                    activity_id=payload["id"],
                    actor_uri=payload["actor"],
                    type=payload["type"],
                    payload=json.dumps(stored),
                    key_id=payload["actor"] + "#main-key",
                )
            )
        return True

    def shake(self, rng: random.Random, *, loss: float, repeat: float) -> None:
        """Deliver what is in flight in a random order, losing and repeating some."""
        batch, self.in_flight = self.in_flight, []
        rng.shuffle(batch)
        for message in batch:
            if rng.random() < loss:
                continue
            self.deliver(message)
            if rng.random() < repeat:
                self.in_flight.append(message)  # a copy arrives later

    def process_all(self) -> None:
        for node in self.federation.nodes:
            self.federation._retry_now(node)
            self.federation.process(node)


@pytest.fixture
def two_cooperatives(
    settings: Settings, engine: Engine, database_url: str, database_factories: dict[str, DatabaseFactory]
) -> Iterator[Federation]:
    """Cooperative nodes A (the test's database) and B (a second database of the same backend)."""
    factory = database_factories["sqlite" if database_url.startswith("sqlite") else "postgresql"]
    other_url = factory.create()
    other_engine = db.make_engine(other_url)
    a = Node("a", cooperative(settings, base_url="https://montreuil.example"), engine)
    b = Node(
        "b",
        cooperative(
            settings, base_url="https://bagnolet.example", database_url=other_url, node_name="Bagnolet"
        ),
        other_engine,
    )
    try:
        yield Federation([a, b])
        for node in (a, b):
            assert_ledger_ok(node.engine, node.settings)
    finally:
        other_engine.dispose()
        factory.drop(other_url)
