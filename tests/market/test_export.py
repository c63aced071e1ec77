"""A person's account export carries their marketplace data, and nobody else's."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from node.accounts import gdpr, service
from node.core import db
from node.market import export as market_export
from node.settings import Settings
from tests.support.market import make_proposal, person


def test_export_lists_own_proposals_only(engine: Engine, session: Session, settings: Settings) -> None:
    alice = person(engine, "alice")
    bob = person(engine, "bob")
    make_proposal(session, settings, alice)
    make_proposal(session, settings, bob)
    with db.session_scope(engine) as s:
        data = gdpr.export_account(
            service.get_user("alice", session=s),
            node_url=settings.base_url,
            session=s,
            exporters=(market_export.sections,),
        )
    assert len(data["proposals"]) == 1
    assert data["proposals"][0]["id"].startswith(settings.url("/proposals/"))
    assert data["proposals"][0]["price"] == "20.00" and data["proposals"][0]["state"] == "open"
    for section in ("bids", "agreements", "evaluations_given", "evaluations_received", "notifications"):
        assert data[section] == []
