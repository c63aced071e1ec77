"""The full-text index stays in step with the proposals: SQLite's triggers exist at the head revision,
and what changes a proposal (ours, or another node's Update and Delete) changes what finds it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text
from sqlmodel import Session

from node.core.timeutil import isoformat, utcnow
from node.market.proposals import federation
from node.market.vocab import proposal_from_json
from node.search.engine import search
from node.search.filters import parse_search
from node.settings import Settings
from tests.support.market import proposal_document


def titles(session: Session, q: str) -> list[str]:
    filters, _ = parse_search({"q": q})
    return [h.proposal.title for h in search(filters, session=session, now=utcnow()).hits]


def test_the_index_and_its_triggers_exist(engine: Engine) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            names = set(connection.execute(text("SELECT name FROM sqlite_master")).scalars())
            assert {
                "proposals_fts",
                "proposals_fts_insert",
                "proposals_fts_update",
                "proposals_fts_delete",
            } <= names
        else:
            index = connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_proposals_fts'")
            ).scalar_one()
            assert "gin" in index and "asasap_french" in index
            stems = connection.execute(
                text("SELECT to_tsvector('asasap_french', 'Ménagères âgées')")
            ).scalar()
            assert stems == "'age':2 'menager':1"


def test_another_nodes_updates_change_the_index(session: Session, settings: Settings) -> None:
    actor = "https://b.example/users/bob"
    pid = "https://b.example/proposals/1"

    def receive(**changes: object) -> None:
        doc = proposal_from_json(proposal_document(actor, pid, **changes))
        federation.store_remote(settings, doc, session=session, signer=actor)
        session.commit()

    receive()
    assert titles(session, "haie") == ["Jardinage à Bagnolet"]
    receive(name="Tonte de gazon", content="<p>Une pelouse.</p>", updated=isoformat(utcnow()))
    assert titles(session, "haie ") == [] and titles(session, "gazon") == ["Tonte de gazon"]
    receive(proposalState="closed", updated=isoformat(utcnow() + timedelta(seconds=1)))
    assert titles(session, "gazon") == []
