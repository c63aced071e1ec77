"""The plain listing of proposals (``/api/v1/proposals``: filters, newest first, pages) with its words
looked up in the full-text index (:mod:`node.search.backends`) rather than as substrings: the same
stems, accents, synonyms and prefix of the last word as the search, and an indexed lookup instead of a
scan of every row."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlmodel import Session, and_, col, select

from node.accounts.models import User
from node.market.models import Proposal
from node.market.proposals.records import PAGE_SIZE, Page, ProposalFilters, listing_conditions
from node.search import query as text_query
from node.search.backends import backend_for

__all__ = ["page_of"]


def page_of(
    filters: ProposalFilters, *, session: Session, now: datetime, page: int = 1, per_page: int = PAGE_SIZE
) -> Page:
    """One page of the proposals matching ``filters``, newest first; ``filters.query`` is read as the
    search reads words (nothing searchable left, e.g. only stop words: no condition on the text)."""
    page = max(1, page)
    conditions = listing_conditions(replace(filters, query=""), now, session=session)
    parsed = text_query.parse(filters.query)
    values: dict[str, str] = {}
    if parsed:
        backend = backend_for(session)
        backend.prepare(session=session)
        conditions.append(backend.matches())
        values = backend.values(parsed)
    statement = (
        select(Proposal)
        .outerjoin(User, col(User.id) == col(Proposal.local_author_id))
        .where(and_(*conditions))
        .order_by(col(Proposal.published_at).desc(), col(Proposal.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    )
    rows = list(session.exec(statement, params=values).all())
    return Page(items=rows[:per_page], page=page, has_next=len(rows) > per_page)
