"""The plain listing of proposals (``/api/v1/proposals``: filters, newest first, pages) with its words
looked up in the full-text index (:mod:`node.search.backends`) rather than as substrings: the same
stems, accents, synonyms and prefix of the last word as the search, and an indexed lookup instead of a
scan of every row."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam
from sqlmodel import Session, and_, col, select

from node.accounts.models import User
from node.market.models import Proposal
from node.market.proposals.records import DOMAIN_BLOCKS, PAGE_SIZE, Page, ProposalFilters, listing_conditions
from node.search import query as text_query
from node.search.backends import backend_for
from node.search.engine import walked_page

__all__ = ["page_of"]


def page_of(
    filters: ProposalFilters, *, session: Session, now: datetime, page: int = 1, per_page: int = PAGE_SIZE
) -> Page:
    """One page of the proposals matching ``filters``, newest first; ``filters.query`` is read as the
    search reads words (nothing searchable left, e.g. only stop words: no condition on the text). On a
    database that checks a window of rows in one read of its text index (SQLite), the page is looked for
    among the newest proposals satisfying the other filters (:func:`~node.search.engine.walked_page`)
    rather than among every match of the words (a common word matches a third of the proposals)."""
    page = max(1, page)
    parsed = text_query.parse(filters.query)
    backend = backend_for(session) if parsed else None
    blocks = backend.prepare(session=session, alongside=DOMAIN_BLOCKS) if backend is not None else None
    conditions = listing_conditions(replace(filters, query=""), now, session=session, blocks=blocks)
    values: dict[str, str] = {}
    offset, wanted = (page - 1) * per_page, per_page + 1  # one more tells whether a next page exists
    if backend is not None:
        if backend.among(parsed, [], title=False, session=session) is not None:
            newest = _newest(conditions).limit(bindparam("size", type_=Integer))

            def window(size: int) -> list[int]:
                return [int(i) for i in session.exec(newest, params={"size": size}).all()]

            def keep(rows: list[int]) -> set[int]:
                return backend.among(parsed, rows, title=False, session=session) or set()

            ids = walked_page(window, keep, offset, wanted)
            if ids is not None:
                loaded = {
                    row.id: row for row in session.exec(select(Proposal).where(col(Proposal.id).in_(ids)))
                }
                return _page([loaded[i] for i in ids if i in loaded], page, per_page)
        conditions.append(backend.matches())
        values = backend.values(parsed)
    statement = _newest(conditions, select(Proposal)).offset(offset).limit(wanted)
    return _page(list(session.exec(statement, params=values).all()), page, per_page)


def _newest(conditions: list[ColumnElement[bool]], chosen: Any = None) -> Any:
    """``chosen`` (the ids by default) of the proposals satisfying ``conditions``, newest first."""
    return (
        (chosen if chosen is not None else select(col(Proposal.id)))
        .outerjoin(User, col(User.id) == col(Proposal.local_author_id))
        .where(and_(*conditions))
        .order_by(col(Proposal.published_at).desc(), col(Proposal.id).desc())
    )


def _page(rows: list[Proposal], page: int, per_page: int) -> Page:
    return Page(items=rows[:per_page], page=page, has_next=len(rows) > per_page)
