"""SQLite: the FTS5 table ``proposals_fts`` (tokenizer ``unicode61 remove_diacritics 2``) over the stems
that :mod:`node.core.textsearch` stores in ``proposals.title_terms`` and ``proposals.search_terms``,
kept in step by triggers (migration 0010). A query is stemmed the same way in Python and written as an
FTS5 expression of quoted stems: nothing typed reaches FTS5's syntax."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, String, bindparam, column, literal_column, select, table, text
from sqlmodel import Session, col

from node.market.models import Proposal
from node.search.backends.params import TITLE_WORDS, WORDS, Checker
from node.search.query import Group, TextQuery

__all__ = ["BACKEND", "expression", "refresh_statistics", "term_check"]

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
_ROW = text("SELECT rowid FROM proposals_fts WHERE proposals_fts MATCH :q AND rowid = :id")
_STREAMED = {
    title: select(_FTS.c.rowid).where(_text_matches(TITLE_WORDS if title else WORDS)).subquery("text_matches")
    for title in (False, True)
}


def term_check(query: TextQuery) -> Callable[[str, str], tuple[bool, bool] | None] | None:
    """A check of a row's stored terms (``title_terms``, ``search_terms``: the columns FTS5 indexes) that
    finds what the index's MATCH of :func:`expression` finds, with no read of the index: (the row matches,
    its title alone matches), or None for a row whose terms are not all ASCII. The stored terms are folded
    stems between single spaces; FTS5's ``unicode61`` tokenizer cuts them at the spaces and folds some
    letters further (``ł`` as ``l``, ``ø`` as ``o``), so a token is checked by equality (or as a prefix)
    only when it is ASCII, which the tokenizer leaves as it is; None (no check) for a query whose own
    terms are not all ASCII."""
    # each group: its alternatives, each the words it needs as they appear between spaces in the terms:
    # " word " for a whole word, " prefix" for the beginning of one
    groups = [
        [
            tuple(f" {term.stem}" + ("" if term.prefix else " ") for term in alternative)
            for alternative in group.alternatives
        ]
        for group in query.groups
    ]
    if not all(needle.isascii() for group in groups for alternative in group for needle in alternative):
        return None

    def holds(terms: str) -> bool:
        for group in groups:  # plain loops: this runs for every row of a box
            for alternative in group:
                for needle in alternative:
                    if needle not in terms:
                        break
                else:
                    break  # this alternative holds: the group does
            else:
                return False
        return True

    def check(title_terms: str, text_terms: str) -> tuple[bool, bool] | None:
        if not (title_terms.isascii() and text_terms.isascii()):
            return None
        title = f" {title_terms} "
        if not holds(f"{title}{text_terms} "):
            return False, False
        return True, holds(title)

    return check


@dataclass(frozen=True)
class SQLiteFTS:
    hinted: bool = True

    def prepare(self, *, session: Session, alongside: Any = None) -> list[Any] | None:
        """Nothing to bound: a query has at most eight groups of quoted stems."""
        return None

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

    def newest_count(self, newest: Any) -> Any | None:
        return None  # the bounded count reads the matches from FTS5 as they come (:meth:`streamed`)

    def checker(self, query: TextQuery, *, session: Session) -> Checker | None:
        """The check of :func:`term_check` (FTS5 reads every match of a word before it can check one row
        of a box: 10 ms for 28,000 matches, where a box of 600 rows is read in 0.2 ms); a row whose terms
        are not all ASCII is asked to the index, one row at a time."""
        check = term_check(query)
        if check is None:
            return None
        text_query, title_query = expression(query), _title_expression(query)

        def checked(row_id: int, title_terms: str, text_terms: str) -> tuple[bool, bool]:
            found = check(title_terms, text_terms)
            if found is not None:
                return found

            def asked(words: str) -> bool:
                return session.connection().execute(_ROW, {"q": words, "id": row_id}).first() is not None

            matched = asked(text_query)
            return matched, matched and asked(title_query)

        return checked

    def among(
        self, query: TextQuery, ids: Sequence[int], *, title: bool, session: Session
    ) -> set[int] | None:
        """Which of ``ids`` match, read from the index between the least and the greatest of them only
        (FTS5 seeks to a rowid): cheap for ids close together, such as the newest proposals'."""
        if not ids:
            return set()
        found = _title_expression(query) if title else expression(query)
        rows = (
            session.connection()
            .execute(_AMONG, {"q": found, "low": min(ids), "high": max(ids)})
            .scalars()
            .all()
        )
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
