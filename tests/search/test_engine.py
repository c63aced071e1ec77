"""The search engine on SQLite and PostgreSQL: text with stems, accents, synonyms and prefixes, the
filters, the distance, the order, the count and the pages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session

from node.activitypub.models import DomainBlock
from node.core.timeutil import utcnow
from node.market.proposals.records import ProposalFilters
from node.search import engine, listing
from node.search.filters import parse_search
from node.settings import Settings
from tests.support.search import indexed

MONTREUIL, BAGNOLET, LYON, VINCENNES = "93048", "93006", "69123", "94080"


def titles(session: Session, home: str | None = None, **params: Any) -> list[str]:
    filters, errors = parse_search({k: str(v) for k, v in params.items()})
    assert errors == {}
    found = engine.search(filters, session=session, now=utcnow(), home=home)
    return [hit.proposal.title for hit in found.hits]


@pytest.fixture
def corpus(session: Session, settings: Settings) -> None:
    now = utcnow()
    indexed(session, settings, "Ménage et repassage", category="housework", published=now - timedelta(days=3))
    indexed(session, settings, "Tonte de pelouse", category="gardening", insee=BAGNOLET, price=Decimal(25))
    indexed(session, settings, "Taille de haies", insee=LYON, origin="b.example", price=Decimal(30))
    indexed(session, settings, "Aide informatique", description="<p>Installer un ordinateur</p>")
    indexed(session, settings, "Garde d'enfants le soir", category="childcare", insee=VINCENNES)
    indexed(
        session,
        settings,
        "Courses pour une personne âgée",
        purpose="request",
        author_name="Éloïse Dupont",
        price=Decimal(15),
    )


@pytest.mark.usefixtures("corpus")
def test_words_stems_accents_synonyms_and_prefixes(session: Session) -> None:
    assert titles(session, q="menage") == ["Ménage et repassage"]
    assert titles(session, q="repasser") == ["Ménage et repassage"]  # the last word is a prefix
    assert titles(session, q="repasser ") == []  # a whole word of another stem: unmatched on purpose
    assert titles(session, q="menaage ") == []  # typos are not corrected
    assert titles(session, q="AGEE") == ["Courses pour une personne âgée"]
    assert titles(session, q="personnes âgées") == ["Courses pour une personne âgée"]
    assert sorted(titles(session, q="jardinage")) == ["Taille de haies", "Tonte de pelouse"]
    assert titles(session, q="ordi") == ["Aide informatique"]
    assert titles(session, q="commissions") == ["Courses pour une personne âgée"]
    assert titles(session, q="eloise") == ["Courses pour une personne âgée"]  # the author's name
    assert titles(session, q="baby-sitting") == ["Garde d'enfants le soir"]
    assert titles(session, q="Vincennes") == ["Garde d'enfants le soir"]
    assert titles(session, q="Val-de-Marne") == ["Garde d'enfants le soir"]  # the département's name
    assert titles(session, q="housework") == ["Ménage et repassage"]  # the English label
    assert titles(session, q='"* NEAR OR - ) DROP TABLE proposals; --') == []
    assert len(titles(session, q="")) == 6


@pytest.mark.usefixtures("corpus")
def test_filters_distance_and_order(session: Session) -> None:
    assert titles(session, purpose="request") == ["Courses pour une personne âgée"]
    assert titles(session, origin="remote") == ["Taille de haies"]
    assert titles(session, q="pelouse", commune=LYON, radius=50) == []
    assert titles(session, commune=LYON, radius=50) == ["Taille de haies"]
    assert "Taille de haies" not in titles(session, home=MONTREUIL, radius=20)
    assert titles(session, price_min=20, sort="price") == ["Tonte de pelouse", "Taille de haies"]
    assert titles(session, price_max=20) == ["Courses pour une personne âgée"]
    assert titles(session, home=MONTREUIL, sort="distance")[-1] == "Taille de haies"
    assert titles(session, sort="date")[-1] == "Ménage et repassage"


@pytest.mark.usefixtures("corpus")
def test_a_blocked_domain_leaves_the_search_and_the_listing(session: Session, settings: Settings) -> None:
    """Its proposals stored before the block leave every search, with words or none, in every order, and
    the listing (the blocked domains are read with a search's first statement on PostgreSQL)."""
    indexed(session, settings, "Taille de haies et tonte", insee=LYON, origin="c.example")

    def listed(query: str) -> list[str]:
        page = listing.page_of(ProposalFilters(query=query), session=session, now=utcnow())
        session.rollback()
        return sorted(row.title for row in page.items)

    hedges = ["Taille de haies", "Taille de haies et tonte"]
    assert sorted(titles(session, q="haies")) == listed("haies") == hedges
    session.add(DomainBlock(domain="b.example"))
    session.commit()
    for params in (
        {"q": "haies"},
        {"q": "haies", "sort": "date"},
        {"q": "haies", "commune": LYON, "radius": 50},
    ):
        assert titles(session, **params) == ["Taille de haies et tonte"], params
    assert "Taille de haies" not in titles(session, commune=LYON, radius=50) + titles(
        session, origin="remote"
    )
    assert listed("haies") == ["Taille de haies et tonte"]
    assert "Taille de haies" not in listed("")
