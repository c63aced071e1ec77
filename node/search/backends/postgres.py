"""PostgreSQL: the text-search vectors of each proposal's text and title, stored in the generated
columns ``search_vector`` and ``title_vector`` (``to_tsvector('asasap_french', …)``, migration 0036) with
a GIN index each, where ``asasap_french`` is the ``french`` configuration with ``unaccent`` before the
Snowball stemmer. The query is written for ``to_tsquery`` from folded words (PostgreSQL stems them itself,
as it stemmed the text)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, bindparam, func, literal_column, select, true
from sqlmodel import Session

from node.search.backends.params import TITLE_WORDS, WORDS, Checker
from node.search.query import Group, TextQuery

__all__ = ["BACKEND", "STATEMENT_TIMEOUT_MS", "tsquery"]

STATEMENT_TIMEOUT_MS = 3000
_CONFIG = "'asasap_french'"
# Both for this transaction only, in one round trip. A statement run often on one connection is prepared
# by the driver, and after five runs PostgreSQL may keep one generic plan for it, chosen without the
# words: the page of "repassage chemises" then took 16 ms where its own plan takes 0.4 ms.
_PREPARE = (
    func.set_config("statement_timeout", str(STATEMENT_TIMEOUT_MS), true()),
    func.set_config("plan_cache_mode", "force_custom_plan", true()),
)


@lru_cache(maxsize=8)
def _prologue(alongside: Any) -> Any:
    """The settings of :data:`_PREPARE` and, when ``alongside`` (a statement of one column), its values as
    an array (NULL when none), in one statement."""
    if alongside is None:
        return select(*_PREPARE)
    column = alongside.subquery().c[0]
    return select(*_PREPARE, select(func.array_agg(column)).scalar_subquery())


def _group(group: Group) -> str:
    alternatives = [
        "(" + " & ".join(term.word + (":*" if term.prefix else "") for term in alternative) + ")"
        for alternative in group.alternatives
    ]
    return "(" + " | ".join(alternatives) + ")"


@lru_cache(maxsize=256)
def tsquery(query: TextQuery) -> str:
    """The ``to_tsquery`` text of ``query`` (folded words contain only letters and digits)."""
    return " & ".join(_group(g) for g in query.groups)


def _matching(vector: str, words: str) -> ColumnElement[bool]:
    # The stored vector: checking a row reads it rather than computing ``to_tsvector`` (which the planner
    # underrated, walking another index and computing each row's vector at 0.3 ms a row); with the
    # columns' statistics, the planner chooses by the words' frequency between the GIN index's bitmap
    # (rare words) and walking the date index, or a radius's box, checking each row (common words).
    config: ColumnElement[str] = literal_column(_CONFIG)
    column: ColumnElement[Any] = literal_column(f"proposals.{vector}")
    return column.op("@@")(func.to_tsquery(config, bindparam(words, type_=String)))


_TEXT = _matching("search_vector", WORDS)
_TITLE = _matching("title_vector", TITLE_WORDS)


@dataclass(frozen=True)
class PostgresFTS:
    hinted: bool = False

    def prepare(self, *, session: Session, alongside: Any = None) -> list[Any] | None:
        """A search never runs longer than :data:`STATEMENT_TIMEOUT_MS`, and each of its statements is
        planned for its own words (for this transaction only); ``alongside`` is read in the same round
        trip."""
        row = session.connection().execute(_prologue(alongside)).one()
        return list(row[2] or []) if alongside is not None else None

    def values(self, query: TextQuery) -> dict[str, str]:
        words = tsquery(query)  # the title's query is the same, against the title's vector
        return {WORDS: words, TITLE_WORDS: words}

    def matches(
        self, *, title: bool = False, dense: bool = False, within: bool = False
    ) -> ColumnElement[bool]:
        # no hint needed: the planner has the stored vectors' statistics
        return _TITLE if title else _TEXT

    def streamed(self, *, title: bool = False) -> Any | None:
        return None

    def newest_count(self, newest: Any) -> Any | None:
        """The window's rows carry their stored vector, checked as they are read (no GIN index)."""
        window = newest.add_columns(literal_column("proposals.search_vector").label("vector")).subquery()
        query = func.to_tsquery(literal_column(_CONFIG), bindparam(WORDS, type_=String))
        found = (
            select(window.c.id).where(window.c.vector.op("@@")(query)).limit(bindparam("cap", type_=Integer))
        )
        return select(func.count()).select_from(found.subquery())

    def checker(self, query: TextQuery, *, session: Session) -> Checker | None:
        return None  # the planner ANDs the GIN index's bitmap with a box's, or reads each row's vector

    def among(
        self, query: TextQuery, ids: Sequence[int], *, title: bool, session: Session
    ) -> set[int] | None:
        return None


BACKEND = PostgresFTS()
