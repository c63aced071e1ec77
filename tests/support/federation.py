"""Two or three nodes in one test process, each with its own database and settings, exchanging what
their outboxes hold: pending deliveries become inbox rows of the node they are addressed to (after the
inbox's own origin sanitising; signatures are the inbox tests' business), processed by the real
:class:`~node.activitypub.inbox.processing.InboxJob` and handlers. A handler's fetch of a document is answered
by the node that serves it, as that node's routes would answer a signed request from the fetching
node's actor."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from node import worker as background
from node.activitypub.actors import local
from node.activitypub.actors.remote import InvalidActor, RemoteActors
from node.activitypub.inbox import verify as inbox
from node.activitypub.inbox.processing import InboxJob
from node.activitypub.models import Delivery, DeliveryState, InboxActivity, InboxState, OutboxActivity
from node.core import db
from node.core.timeutil import utcnow
from node.market.agreements import contacts as agreement_contacts
from node.market.agreements import sync as agreement_sync
from node.settings import Settings
from tests.support.databases import DatabaseFactory


@dataclass
class Node:
    name: str
    settings: Settings
    engine: Engine

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def uri(self, username: str) -> str:
        return self.settings.url(f"/users/{username}")


def inbox_row(activity: dict[str, Any]) -> InboxActivity:
    """``activity`` as the inbox stores it once its signer (its ``actor``) is verified."""
    kept, _ = inbox.sanitise(activity, activity["actor"])
    return InboxActivity(
        activity_id=activity["id"],
        actor_uri=activity["actor"],
        type=activity["type"],
        payload=json.dumps(kept),
        key_id=activity["actor"] + "#main-key",
    )


def store(node: Node, activity: dict[str, Any]) -> None:
    """``activity`` received by ``node``'s inbox, waiting to be processed."""
    with db.session_scope(node.engine) as session:
        session.add(inbox_row(activity))


def serve(node: Node, uri: str, requester: str) -> dict[str, Any] | None:
    """What ``node`` answers to a signed GET of ``uri`` by ``requester``."""
    path = urlsplit(uri).path
    with db.session_scope(node.engine) as session:
        if path.startswith("/agreement-contacts/"):
            found = agreement_contacts.contact_document_for(
                node.settings, int(path.rsplit("/", 1)[1]), requester, session=session
            )
        elif path.startswith("/agreements/"):
            found = agreement_sync.agreement_document_for(node.settings, uri, requester, session=session)
        else:
            found = None
        return dict(found) if found is not None else None


class _Resolver(RemoteActors):
    """Fetches answered by the node owning the URI, for the fetching node's actor."""

    def __init__(self, node: Node, nodes: list[Node]) -> None:
        super().__init__(node.settings, node.engine)
        self.node = node
        self.nodes = nodes
        self.fetched: list[str] = []

    async def fetch_document(self, uri: str) -> dict[str, Any]:
        self.fetched.append(uri)
        owner = next((n for n in self.nodes if local.is_local(n.settings, uri)), None)
        found = serve(owner, uri, self.node.settings.url("/actor")) if owner else None
        if found is None:
            raise InvalidActor(f"{uri}: 404")
        return found


class Federation:
    """Nodes that deliver to each other when asked (:meth:`settle`)."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.fetched: list[str] = []

    def node_of(self, uri: str) -> Node | None:
        return next((n for n in self.nodes if local.is_local(n.settings, uri)), None)

    def deliver(self, source: Node) -> int:
        count = 0
        with db.session_scope(source.engine) as session:
            rows = session.exec(
                select(Delivery, OutboxActivity)
                .join(OutboxActivity, col(OutboxActivity.id) == col(Delivery.outbox_id))
                .where(Delivery.state == DeliveryState.PENDING.value)
                .order_by(col(Delivery.id))
            ).all()
            for delivery, activity in rows:
                target = self.node_of(delivery.target if delivery.inbox_url is None else delivery.inbox_url)
                delivery.state = DeliveryState.DELIVERED.value if target else DeliveryState.FAILED.value
                session.add(delivery)
                if target is None:
                    continue
                payload = json.loads(activity.payload)
                with db.session_scope(target.engine) as other:
                    known = other.exec(
                        select(InboxActivity.id).where(InboxActivity.activity_id == payload["id"])
                    ).first()
                    if known is None:
                        other.add(inbox_row(payload))
                        count += 1
        return count

    def process(self, node: Node) -> int:
        async def main() -> int:
            resolver = _Resolver(node, self.nodes)
            job = InboxJob(
                node.settings, node.engine, remote=resolver, dispatcher=background.inbox_dispatcher()
            )
            total = 0
            try:
                while handled := await job.run_once():
                    total += handled
            finally:
                await job.aclose()
                await resolver.aclose()
                self.fetched.extend(resolver.fetched)
            return total

        return asyncio.run(main())

    def _retry_now(self, node: Node) -> None:
        """Let rows waiting for a retry (an event before its Accept) be claimed at once."""
        with db.session_scope(node.engine) as session:
            session.execute(
                update(InboxActivity)
                .where(col(InboxActivity.state) == InboxState.PENDING.value)
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )

    def settle(self, rounds: int = 8) -> None:
        """Deliver and process until nothing moves."""
        for _ in range(rounds):
            moved = sum(self.deliver(node) for node in self.nodes)
            for node in self.nodes:
                self._retry_now(node)
                moved += self.process(node)
            if not moved:
                return
        raise AssertionError("the nodes did not settle")

    def outbox(self, node: Node) -> list[OutboxActivity]:
        """What ``node`` published, oldest first."""
        with node.session() as session:
            return list(session.exec(select(OutboxActivity).order_by(col(OutboxActivity.id))).all())

    def inbox_rows(self, node: Node) -> list[InboxActivity]:
        with node.session() as session:
            return list(session.exec(select(InboxActivity).order_by(col(InboxActivity.id))).all())


def _factory(database_url: str, factories: dict[str, DatabaseFactory]) -> DatabaseFactory:
    return factories["sqlite" if database_url.startswith("sqlite") else "postgresql"]


@pytest.fixture
def federation(
    settings: Settings, engine: Engine, database_url: str, database_factories: dict[str, DatabaseFactory]
) -> Iterator[Federation]:
    """Montreuil (A, the test's own database) and Bagnolet (B, a second database of the same backend)."""
    factory = _factory(database_url, database_factories)
    other_url = factory.create()
    other_engine = db.make_engine(other_url)
    a = Node("a", settings.replace(base_url="https://montreuil.example"), engine)
    b = Node(
        "b",
        settings.replace(base_url="https://bagnolet.example", database_url=other_url, node_name="Bagnolet"),
        other_engine,
    )
    try:
        yield Federation([a, b])
    finally:
        other_engine.dispose()
        factory.drop(other_url)
