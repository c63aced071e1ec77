"""Three nodes in one process (real inbox jobs and handlers, deliveries between them): Alice (A) and Bob
(B) talk about Alice's demand before Bob answers it; Carol (C) reports the demand, asking that it be
forwarded; the report reaches A from C's node actor as a ``Flag``; A's coordinator hides the demand."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from node.accounts.models import Role, User
from node.activitypub.models import RemoteActor
from node.conversations import messages, reports
from node.conversations.models import Report
from node.core import db
from node.market.models import Proposal
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.databases import DatabaseFactory
from tests.support.federation import Federation, Node
from tests.support.market import make_proposal

T = TypeVar("T")
DEMAND = "https://montreuil.example/proposals/0c8f6a1e-3333-4333-8333-333333333333"


@pytest.fixture
def three(
    settings: Settings, engine: Engine, database_url: str, database_factories: dict[str, DatabaseFactory]
) -> Iterator[Federation]:
    """Montreuil (A, the test's database), Bagnolet (B) and Vincennes (C), each on a database of its own."""
    factory = database_factories["sqlite" if database_url.startswith("sqlite") else "postgresql"]
    urls = [factory.create(), factory.create()]
    engines = [db.make_engine(url) for url in urls]
    nodes = [Node("a", settings.replace(base_url="https://montreuil.example"), engine)]
    for name, (domain, town), url, other in zip(
        "bc",
        (("bagnolet.example", "Bagnolet"), ("vincennes.example", "Vincennes")),
        urls,
        engines,
        strict=True,
    ):
        nodes.append(
            Node(
                name, settings.replace(base_url=f"https://{domain}", database_url=url, node_name=town), other
            )
        )
    try:
        yield Federation(nodes)
    finally:
        for other, url in zip(engines, urls, strict=True):
            other.dispose()
            factory.drop(url)


def on(node: Node, work: Callable[[Session], T]) -> T:
    with db.session_scope(node.engine) as session:
        return work(session)


def knows(node: Node, other: Node, username: str) -> None:
    """``node`` has ``username`` of ``other`` in its actor cache (someone there saw their profile)."""
    uri = other.uri(username)
    domain = other.settings.domain
    on(node, lambda s: s.add(RemoteActor(uri=uri, domain=domain, inbox=uri + "/inbox")))


def texts(node: Node, user: User) -> list[str]:
    def read(session: Session) -> list[str]:
        found: list[str] = []
        for summary in messages.conversations_of(user.pk, session=session):
            assert summary.conversation.id is not None
            _, _, shown = messages.thread(node.settings, user.pk, summary.conversation.id, session=session)
            found.extend(s.text for s in shown)
        return found

    return on(node, read)


def test_a_conversation_and_a_report_across_three_nodes(three: Federation) -> None:
    a, b, c = three.nodes
    alice, dora = make_user(a.engine, "alice"), make_user(a.engine, "dora", role=Role.COORDINATOR)
    bob, carol = make_user(b.engine, "bob"), make_user(c.engine, "carol")
    on(a, lambda s: make_proposal(s, a.settings, alice, ap_id=DEMAND))
    knows(b, a, "alice")
    knows(a, b, "bob")
    knows(c, a, "alice")
    on(c, lambda s: make_proposal(s, c.settings, author_uri=a.uri("alice"), ap_id=DEMAND))  # listed at C too

    # Bob asks about the demand before answering it; Alice replies.
    on(
        b,
        lambda s: messages.start(
            b.settings, bob, [a.uri("alice")], "Le jardin est-il grand ?", subject_uri=DEMAND, session=s
        ),
    )
    three.settle()
    assert texts(a, alice) == ["Le jardin est-il grand ?"]
    conversation_id = on(a, lambda s: messages.conversations_of(alice.pk, session=s)[0].conversation.id)
    assert conversation_id is not None
    on(a, lambda s: messages.reply(a.settings, alice, conversation_id, "Environ 200 m².", session=s))
    three.settle()
    assert texts(b, bob) == ["Le jardin est-il grand ?", "Environ 200 m²."]
    assert texts(c, carol) == []  # nothing of it reached the third node

    # Carol reports the demand and asks that it be forwarded: a Flag of C's node actor reaches A.
    on(
        c,
        lambda s: reports.file_report(
            c.settings, carol, [DEMAND], "spam", "Arnaque", forward=True, session=s
        ),
    )
    three.settle()
    report = on(a, lambda s: s.exec(select(Report)).one())
    assert report.origin == "vincennes.example" and report.reporter_uri == c.settings.url("/actor")
    assert reports.targets_of(report) == [a.uri("alice"), DEMAND] and "carol" not in json.dumps(
        report.model_dump(mode="json")
    )
    assert on(b, lambda s: s.exec(select(Report)).all()) == []
    report_id = report.id
    assert report_id is not None
    on(a, lambda s: reports.decide(a.settings, dora, report_id, "hide", DEMAND, "Arnaque avérée", session=s))
    assert on(a, lambda s: s.exec(select(Proposal.state)).one()) == "withdrawn"
