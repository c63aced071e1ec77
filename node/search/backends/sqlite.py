"""SQLite: the FTS5 table ``proposals_fts`` (tokenizer ``unicode61 remove_diacritics 2``) over the stems
that :mod:`node.core.textsearch` stores in ``proposals.title_terms`` and ``proposals.search_terms``,
kept in step by triggers (migration 0010). A query is stemmed the same way in Python and written as an
FTS5 expression of quoted stems: nothing typed reaches FTS5's syntax."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, String, bindparam, column, literal_column, select, table, text
from sqlmodel import Session, col

from node.market.models import Proposal
from node.search.backends.params import TITLE_WORDS, WORDS
from node.search.query import Group, TextQuery

__all__ = ["BACKEND", "expression", "refresh_statistics"]

_FTS = table("proposals_fts", column("rowid"))


def _group(group: Group) -> str:
    alternatives = [
        "(" + " AND ".join(f'"{term.stem}"' + ("*" if term.prefix else "") for term in alternative) + ")"
        for alternative in group.alternatives
    ]
    return "(" + " OR ".join(alternatives) + ")"


@lru_cache(maxsize=256)
def expression(query: TextQuery) -> str:
    """The FTS5 expression of ``query`` (stems contain only letters and digits)."""
    return " AND ".join(_group(g) for g in query.groups)


def _text_matches(words: str) -> Any:
    return literal_column("proposals_fts").op("MATCH")(bindparam(words, type_=String))


def _rows_matching(words: str, dense: bool) -> ColumnElement[bool]:
    found = select(_FTS.c.rowid).where(_text_matches(words))
    # ``id + 0`` is no longer the rowid to SQLite's planner: it cannot fetch the matches one by one and
    # sort them, so it walks the index of the asked order and keeps the rows found among the matches
    return (col(Proposal.id) + 0 if dense else col(Proposal.id)).in_(found)


def _title_expression(query: TextQuery) -> str:
    return "{title_terms} : (" + expression(query) + ")"


_AMONG = text("SELECT rowid FROM proposals_fts WHERE proposals_fts MATCH :q AND rowid BETWEEN :low AND :high")
_STREAMED = {
    title: select(_FTS.c.rowid).where(_text_matches(TITLE_WORDS if title else WORDS)).subquery("text_matches")
    for title in (False, True)
}


@dataclass(frozen=True)
class SQLiteFTS:
    hinted: bool = True

    def prepare(self, *, session: Session) -> None:
        """Nothing to bound: a query has at most eight groups of quoted stems."""

    def values(self, query: TextQuery) -> dict[str, str]:
        return {WORDS: expression(query), TITLE_WORDS: _title_expression(query)}

    def matches(
        self, *, title: bool = False, dense: bool = False, within: bool = False
    ) -> ColumnElement[bool]:
        # ``within`` a box: the same hint as ``dense``, the box's index is walked and each row checked
        return _rows_matching(TITLE_WORDS if title else WORDS, dense or within)

    def streamed(self, *, title: bool = False) -> Any | None:
        """The matches' ids straight from the index, in its order (the rowid's), as a subquery to read
        rows from: a query that stops (a bounded count) stops reading the index too, where a condition
        ``id IN (…)`` makes SQLite collect every match first."""
        return _STREAMED[title]

    def among(
        self, query: TextQuery, ids: Sequence[int], *, title: bool, session: Session
    ) -> set[int] | None:
        """Which of ``ids`` match, read from the index between the least and the greatest of them only
        (FTS5 seeks to a rowid): cheap for ids close together, such as the newest proposals'."""
        if not ids:
            return set()
        found = _title_expression(query) if title else expression(query)
        rows = session.connection().execute(_AMONG, {"q": found, "low": min(ids), "high": max(ids)}).scalars()
        return set(rows) & set(ids)


BACKEND = SQLiteFTS()


def refresh_statistics(*, session: Session) -> int:
    """Gather the planner's statistics (``ANALYZE``, every row: with ``analysis_limit`` SQLite samples the
    start of each index and takes ``state = 'open'`` for a narrow condition again). Without them, SQLite
    takes any equality on an indexed column for a narrow one: it reads every open proposal through the
    index of ``state`` and sorts them all, where walking the index of ``published_at`` stops at the
    page. 0 on other databases (PostgreSQL's autovacuum keeps its own statistics)."""
    if session.get_bind().dialect.name != "sqlite":
        return 0
    session.connection().exec_driver_sql("ANALYZE")
    return 1
