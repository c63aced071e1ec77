"""One full-text backend per database, behind one interface (:class:`TextBackend`): given a parsed
:class:`~node.search.query.TextQuery`, a condition that a proposal matches, and one that its title alone
matches (the first rank of relevance). Both backends find the same rows: they index the same folded text
with the same French stemmer and stop words (:mod:`node.core.textsearch`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import ColumnElement
from sqlmodel import Session

from node.search.backends import postgres, sqlite
from node.search.backends.params import TITLE_WORDS, WORDS, Checker
from node.search.query import TextQuery

__all__ = ["TITLE_WORDS", "WORDS", "Checker", "TextBackend", "backend_for", "backend_named"]


class TextBackend(Protocol):
    """The conditions are statements' parts with bound parameters (:data:`WORDS`, :data:`TITLE_WORDS`),
    the same for every query, so that a statement is built once and run with :meth:`values` of each."""

    @property
    def hinted(self) -> bool:
        """Whether :meth:`matches` reads its hints (``dense``, ``within``)."""

    def prepare(self, *, session: Session, alongside: Any = None) -> list[Any] | None:
        """Bound what one search may cost on this database (a statement timeout). ``alongside``, a
        statement of one column: its values, when read in the same round trip (None when this database
        has nothing to send first: the caller reads them)."""

    def values(self, query: TextQuery) -> dict[str, str]:
        """The parameters of :meth:`matches` and :meth:`streamed` for ``query``."""

    def matches(
        self, *, title: bool = False, dense: bool = False, within: bool = False
    ) -> ColumnElement[bool]:
        """The proposals whose indexed text (their title alone when ``title``: the first rank of relevance)
        matches every group of the query. ``dense``: more than a thousand do, so a query ordered by an
        index should walk that index and keep the matches it meets rather than read every match and sort
        them (a hint, for databases that need one). ``within``: another condition narrows the rows through
        its own index (the box of a radius, read through the index of positions), so each of its rows
        should be checked against the matches rather than every match fetched (a hint too; it wins over
        ``dense``). A title match also matches the whole text, the title being part of it."""

    def streamed(self, *, title: bool = False) -> Any | None:
        """A subquery of the matches' ids (column ``rowid``), read from the index as the query consuming
        it asks for them, for a bounded count to stop early; None when :meth:`matches` already does."""

    def newest_count(self, newest: Any) -> Any | None:
        """A statement counting, up to the parameter ``cap``, the matches among the rows of ``newest`` (a
        statement of proposals' ids, newest first, limited to a window of rows): how a database whose index
        cannot stop early (PostgreSQL's GIN bitmap reads every match of a word) finds cheaply that more
        than a page's worth match; None when its bounded count already stops early."""

    def checker(self, query: TextQuery, *, session: Session) -> Checker | None:
        """A check of one row against ``query`` from its stored terms, without the index, the same as
        :meth:`matches` (for a few rows already read, such as a small box's); None when the database
        checks rows better itself."""

    def among(
        self, query: TextQuery, ids: Sequence[int], *, title: bool, session: Session
    ) -> set[int] | None:
        """Which of ``ids`` match (their title alone when ``title``), without reading every match; None
        when the database's own order of rows does it (a page of a common word walks an index checking
        each row with :meth:`matches`)."""


def backend_for(session: Session) -> TextBackend:
    """The backend of the database ``session`` talks to."""
    return backend_named(session.get_bind().dialect.name)


def backend_named(name: str) -> TextBackend:
    """The backend of the database of dialect ``name``."""
    if name == "postgresql":
        return postgres.BACKEND
    if name == "sqlite":
        return sqlite.BACKEND
    raise RuntimeError(f"no full-text search for {name}")
