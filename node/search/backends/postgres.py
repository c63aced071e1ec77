"""PostgreSQL: ``to_tsvector('asasap_french', search_text)`` with a GIN index (migration 0010), where
``asasap_french`` is the ``french`` configuration with ``unaccent`` before the Snowball stemmer. The query
is written for ``to_tsquery`` from folded words (PostgreSQL stems them itself, as it stemmed the text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, literal, literal_column, text
from sqlmodel import Session, col, select

from node.market.models import Proposal
from node.search.query import Group, TextQuery

__all__ = ["BACKEND", "STATEMENT_TIMEOUT_MS", "tsquery"]

STATEMENT_TIMEOUT_MS = 3000
_CONFIG = "'asasap_french'"


def _group(group: Group) -> str:
    alternatives = [
        "(" + " & ".join(term.word + (":*" if term.prefix else "") for term in alternative) + ")"
        for alternative in group.alternatives
    ]
    return "(" + " | ".join(alternatives) + ")"


def tsquery(query: TextQuery) -> str:
    """The ``to_tsquery`` text of ``query`` (folded words contain only letters and digits)."""
    return " & ".join(_group(g) for g in query.groups)


def _matching(document: Any, query: TextQuery) -> ColumnElement[bool]:
    config: ColumnElement[str] = literal_column(_CONFIG)
    return func.to_tsvector(config, document).op("@@")(func.to_tsquery(config, literal(tsquery(query))))


def _ids_matching(document: Any, query: TextQuery) -> Any:
    # ``OFFSET 0`` keeps the subquery whole: planned alone, it is the GIN index's bitmap scan, then hashed.
    # Pulled up into the outer query, a ``LIMIT`` there (a page, a bounded count) makes the planner walk
    # another index and compute ``to_tsvector`` for each row it meets (0.3 ms each on a loaded machine),
    # which it underrates.
    return select(col(Proposal.id)).where(_matching(document, query)).offset(0).correlate(None)


@dataclass(frozen=True)
class PostgresFTS:
    def prepare(self, *, session: Session) -> None:
        """A search never runs longer than :data:`STATEMENT_TIMEOUT_MS` (for this transaction only).
        Nested loops are left out for the same transaction: the planner underrates ``to_tsvector`` and
        would walk the date index computing each row's vector (1.2 s for 10,000 proposals) rather than
        hash-join the GIN index's matches (25 ms); see bench/README.md."""
        session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
        session.execute(text("SET LOCAL enable_nestloop = off"))

    def matches(self, query: TextQuery, *, dense: bool = False, within: bool = False) -> ColumnElement[bool]:
        # Few matches: a subquery of ids, so that the planner reads the GIN index (a bitmap scan) rather
        # than walking another index in the asked order and computing each row's tsvector. Many matches
        # (``dense``): the row's own condition, so that a page walks the order's index and stops early.
        # ``within`` a box: the subquery of ids too (hashed once, then each row of the box looked up in
        # it; a box can hold every proposal, and computing each one's tsvector costs more than the GIN).
        if dense and not within:
            return _matching(col(Proposal.search_text), query)
        return col(Proposal.id).in_(_ids_matching(col(Proposal.search_text), query))

    def title_matches(
        self, query: TextQuery, *, dense: bool = False, within: bool = False
    ) -> ColumnElement[bool]:
        # the same through the titles' GIN index (migration 0030)
        if dense and not within:
            return _matching(col(Proposal.title), query)
        return col(Proposal.id).in_(_ids_matching(col(Proposal.title), query))


BACKEND = PostgresFTS()
