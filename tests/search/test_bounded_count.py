"""A search counts its matches up to :data:`~node.search.engine.COUNT_CAP` ("more than 100"), and past
it lets the database walk its date index rather than sort every match: the order and the pages stay
exactly those of a search that counts and sorts everything (the cap is made small here)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session

from node.core.timeutil import utcnow
from node.search import engine
from node.search.filters import parse_search
from node.settings import Settings
from tests.support.search import every_page, housework_corpus

COMMUNES = ("93048", "93006", "94080", "75056", "92012")
QUERIES: list[dict[str, str]] = [
    {"q": "ménage"},
    {"q": "ménage", "commune": "93048"},
    {"q": "ménage", "sort": "date"},
    {"q": "ménage", "sort": "distance", "commune": "94080"},
    {"q": "ménage", "sort": "price"},
    {"q": "vitres"},
    {"q": "mena"},
    {"q": "repassage", "purpose": "request"},
    {"sort": "date"},
    {},
]


@pytest.fixture
def corpus(session: Session, settings: Settings) -> None:
    """31 proposals: "ménage" in some titles, in other descriptions only, published in an order that is
    not the order they were stored in (so the date index, not the ids, gives the order)."""
    housework_corpus(
        session,
        settings,
        31,
        insee=lambda i: COMMUNES[i % len(COMMUNES)],
        price=lambda i: Decimal(10 + (i * 5) % 13) if i % 5 else None,
    )


@pytest.mark.usefixtures("corpus")
@pytest.mark.parametrize("params", QUERIES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "all")
def test_a_capped_count_keeps_the_order_and_pages(
    session: Session, monkeypatch: pytest.MonkeyPatch, params: dict[str, Any]
) -> None:
    monkeypatch.setattr(engine, "PAGE_SIZE", 4)
    exact_ids, exact_pages = every_page(session, params)
    assert all(p.exact for p in exact_pages)
    assert len(set(exact_ids)) == len(exact_ids) == exact_pages[0].total
    assert len(exact_pages) == exact_pages[0].pages
    monkeypatch.setattr(engine, "COUNT_CAP", 5)
    capped_ids, capped_pages = every_page(session, params)
    assert capped_ids == exact_ids
    if len(exact_ids) > 5:
        assert [(p.total, p.exact) for p in capped_pages] == [(5, False)] * len(capped_pages)
        assert [p.page for p in capped_pages] == list(range(1, len(capped_pages) + 1))
    else:
        assert [(p.total, p.exact) for p in capped_pages] == [(len(exact_ids), True)] * len(capped_pages)


@pytest.mark.usefixtures("corpus")
def test_past_the_last_page_of_a_capped_count_shows_the_last_page(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "PAGE_SIZE", 4)
    monkeypatch.setattr(engine, "COUNT_CAP", 5)
    filters, _ = parse_search({"q": "ménage", "page": "40"})
    found = engine.search(filters, session=session, now=utcnow())
    matching = 21  # two proposals in three mention "ménage"
    assert (found.page, found.total, found.exact) == (6, matching, True)
    assert len(found.hits) == 1 and not found.has_next
