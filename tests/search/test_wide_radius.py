"""A radius whose box holds many proposals is checked by the database (the great-circle distance in SQL,
a count up to the cap, the page found without reading every candidate): its pages are exactly those of
the search that reads every candidate of the box and orders them here (the boxes are made "wide" here
by lowering the threshold)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, col, update

from node.core.timeutil import utcnow
from node.market.models import Proposal
from node.search import engine, statements
from node.search.filters import parse_search
from node.settings import Settings
from tests.support.search import every_page, housework_corpus, indexed

# Montreuil, Bagnolet, Vincennes, Paris, Boulogne-Billancourt, Saint-Denis, Lyon
COMMUNES = ("93048", "93006", "94080", "75056", "92012", "93066", "69123")
QUERIES: list[dict[str, str]] = [
    {"commune": "93048", "radius": "5"},
    {"commune": "93048", "radius": "9"},  # Saint-Denis (9.9 km) is in the box, not in the circle
    {"commune": "93048", "radius": "12", "sort": "distance"},
    {"q": "ménage", "commune": "93048", "radius": "12"},
    {"q": "ménage", "commune": "75056", "radius": "50", "sort": "date"},
    {"q": "vitres", "commune": "93048", "radius": "50", "sort": "distance"},
    {"q": "mena", "commune": "92012", "radius": "8"},
    {"q": "ménage", "commune": "93048", "radius": "50", "sort": "price"},
    {"q": "repassage", "commune": "93048", "radius": "1000", "purpose": "offer"},
]


@pytest.fixture
def corpus(session: Session, settings: Settings) -> None:
    housework_corpus(
        session,
        settings,
        42,
        insee=lambda i: COMMUNES[i % len(COMMUNES)],
        price=lambda i: Decimal(10 + (i * 5) % 13) if i % 4 else None,
    )
    # another node's proposal whose commune is not known here: no position, never within a radius
    unplaced = indexed(session, settings, "Ménage sans commune", origin="b.example")
    session.exec(
        update(Proposal).where(col(Proposal.id) == unplaced.id).values(latitude=None, longitude=None)
    )
    session.commit()


@pytest.mark.usefixtures("corpus")
@pytest.mark.parametrize("cap", [100, 5], ids=["count", "capped"])
@pytest.mark.parametrize("params", QUERIES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
def test_a_wide_radius_gives_the_pages_of_reading_every_candidate(
    session: Session, monkeypatch: pytest.MonkeyPatch, params: dict[str, Any], cap: int
) -> None:
    monkeypatch.setattr(engine, "PAGE_SIZE", 4)
    read_here = every_page(session, params)[0]  # every box here holds few proposals: read and ordered here
    monkeypatch.setattr(statements, "BOX_CHECKED", 0)  # every box is wide
    monkeypatch.setattr(engine, "COUNT_CAP", cap)
    ids, pages = every_page(session, params)
    assert ids == read_here
    if cap == 5 and len(ids) > 5:  # counted by the database, up to the cap (here every count is exact)
        assert [(p.total, p.exact) for p in pages] == [(5, False)] * len(pages)
    radius = float(params["radius"])
    assert all(hit.distance_km is not None and hit.distance_km <= radius for p in pages for hit in p.hits)
    if params["radius"] == "9":
        assert len(ids) == 24  # Montreuil, Bagnolet, Vincennes, Paris (7.8 km): four communes in seven


@pytest.mark.usefixtures("corpus")
def test_a_wide_radius_counts_up_to_the_cap(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statements, "BOX_CHECKED", 0)
    monkeypatch.setattr(engine, "COUNT_CAP", 5)
    filters, _ = parse_search({"commune": "93048", "radius": "1000"})
    found = engine.search(filters, session=session, now=utcnow())
    assert (found.total, found.exact) == (5, False) and len(found.hits) == 20
