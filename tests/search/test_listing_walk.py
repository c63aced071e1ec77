"""The plain listing with words (``GET /api/v1/proposals?q=``) looks for its page among windows of the
newest proposals when the database checks a window in one read of its text index (SQLite): its pages are
exactly those of the statement that reads every match (PostgreSQL always reads them that way)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from node.core.timeutil import utcnow
from node.market.proposals.records import ProposalFilters
from node.search import engine, listing
from node.settings import Settings
from tests.support.search import housework_corpus

LISTINGS = [
    ProposalFilters(query="ménage"),  # in two proposals in three: a window of the newest holds a page
    ProposalFilters(query="vitres"),  # one in three
    ProposalFilters(query="ménage", purpose="request"),
    ProposalFilters(query="tonte", commune="93048"),
    ProposalFilters(query="pelouse jardin"),
    ProposalFilters(query="piano"),  # nothing
]


def _every_page(session: Session, filters: ProposalFilters) -> list[tuple[list[int], bool]]:
    pages: list[tuple[list[int], bool]] = []
    page = 1
    while True:
        found = listing.page_of(filters, session=session, now=utcnow(), page=page, per_page=4)
        pages.append(([row.id or 0 for row in found.items], found.has_next))
        session.rollback()
        if not found.has_next:
            return pages
        page += 1


@pytest.mark.parametrize("filters", LISTINGS, ids=lambda f: f"{f.query}-{f.purpose}-{f.commune}")
def test_the_walked_listing_gives_the_pages_of_every_match(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch, filters: ProposalFilters
) -> None:
    housework_corpus(session, settings, 31, insee=lambda i: ("93048", "94080")[i % 2])
    walked = _every_page(session, filters)
    monkeypatch.setattr(engine, "WALK_WINDOWS", ())  # no window: every match is read
    assert walked == _every_page(session, filters)
    matching = {"ménage": 21, "vitres": 11, "tonte": 5, "pelouse jardin": 10, "piano": 0}[filters.query]
    if filters.purpose is None:
        assert sum(len(ids) for ids, _ in walked) == matching
