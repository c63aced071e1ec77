"""Filters beside the words: payment in euros or in time tokens, the author's provider status (known for
this node's people), and the order by reputation, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from node.core import db
from node.core.timeutil import utcnow
from node.market.evaluations import standings
from node.market.models import Proposal
from node.search import engine as search_engine
from node.search.filters import parse_search
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.evaluations import scored
from tests.support.search import indexed


def titles(session: Session, **params: Any) -> list[str]:
    filters, errors = parse_search({k: str(v) for k, v in params.items()})
    assert errors == {}, errors
    return [hit.proposal.title for hit in search_engine.search(filters, session=session, now=utcnow()).hits]


def evaluate(session: Session, uri: str, *scores: int) -> None:
    session.add_all(scored(uri, score) for score in scores)
    standings.restate([uri], session=session)  # as the services do when they publish one
    session.commit()


def paid_in_hours(row: Proposal, session: Session) -> None:
    row.price_amount, row.price_currency, row.price_basis = Decimal(2), "HOUR", "total"
    session.add(row)
    session.commit()


def test_payment_in_euros_or_time_tokens(session: Session, settings: Settings) -> None:
    indexed(session, settings, "Ménage payé", price=Decimal(20))
    paid_in_hours(indexed(session, settings, "Ménage en heures"), session)
    indexed(session, settings, "Ménage sans prix")
    assert titles(session, q="menage", payment="euros") == ["Ménage payé"]
    assert titles(session, q="menage", payment="tokens") == ["Ménage en heures"]
    assert titles(session, q="menage", payment="tokens", price_max="1") == []
    assert titles(session, q="menage", payment="tokens", price_max="3") == ["Ménage en heures"]
    assert parse_search({"payment": "bitcoin"})[1] == {"payment": "Unknown value."}


def test_provider_status_of_this_nodes_authors(session: Session, engine: Engine, settings: Settings) -> None:
    pro = make_user(engine, "pro")
    with db.session_scope(engine) as s:
        user = s.get(type(pro), pro.id)
        assert user is not None
        user.provider_status = "self_employed"
        s.add(user)
    row = indexed(session, settings, "Jardinage pro", category="gardening")
    row.local_author_id = pro.id
    session.add(row)
    session.commit()
    indexed(session, settings, "Jardinage voisin", category="gardening", origin="b.example")
    assert titles(session, q="jardin", provider_status="self_employed") == ["Jardinage pro"]
    assert titles(session, q="jardin", provider_status="volunteer") == []
    assert parse_search({"provider_status": "none"})[1] == {"provider_status": "Unknown value."}


def test_sort_by_reputation(session: Session, settings: Settings) -> None:
    good, fair = "https://b.example/users/good", "https://b.example/users/fair"
    indexed(session, settings, "Bricolage sans avis")
    indexed(session, settings, "Bricolage correct", author_uri=fair)
    indexed(session, settings, "Bricolage excellent", author_uri=good)
    evaluate(session, good, 5, 5)
    evaluate(session, fair, 3)
    assert titles(session, q="bricolage", sort="reputation") == [
        "Bricolage excellent",
        "Bricolage correct",
        "Bricolage sans avis",
    ]
    assert titles(session, q="bricolage", sort="reputation", min_reputation="4") == ["Bricolage excellent"]
