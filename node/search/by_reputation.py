"""A page of a search ordered by reputation, when more proposals match than the count's cap: read author
by author in the order of their standings rather than by sorting every match.

The order is the authors' rounded mean (the better first), then their number of evaluations, then
distance, then freshness; the authors without a standing come last. No index of proposals gives it (it
belongs to the authors, in the table ``standings``), and sorting every match cost 50 to 130 ms on 100,000
proposals. So the standings are read best first, a few authors at a time (every author of the last
standing read included, so that no tie is cut), the matches of those authors are read through the index
of authors and ordered here; when the page is not full yet, the next authors; then the proposals of the
authors without a standing, by distance or date, through the database's own order.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, and_, bindparam, null, or_, select
from sqlmodel import Session, col

from node.market.models import Proposal, Standing
from node.search.backends import Checker
from node.search.statements import NO_WORDS, TERMS, Shape, Words, matching, planar, run, sql_order, where

__all__ = ["FIRST_AUTHORS", "reputation_page"]

FIRST_AUTHORS = 8  # the authors read first; each next read takes four times as many, up to MOST_AUTHORS
MOST_AUTHORS = 4096
CHUNK = 4000  # authors named in one statement (SQLite takes at most 32,766 parameters)

_BEST = (col(Standing.hundredths).desc(), col(Standing.count).desc())
_FIRST = select(col(Standing.uri), col(Standing.hundredths), col(Standing.count)).order_by(*_BEST)
_AFTER = _FIRST.where(
    or_(
        col(Standing.hundredths) < bindparam("after_mean"),
        and_(
            col(Standing.hundredths) == bindparam("after_mean"),
            col(Standing.count) < bindparam("after_count"),
        ),
    )
)
_TIED = select(col(Standing.uri)).where(
    col(Standing.hundredths) == bindparam("mean"), col(Standing.count) == bindparam("count")
)
_FIRST_N = _FIRST.limit(bindparam("n", type_=Integer))
_AFTER_N = _AFTER.limit(bindparam("n", type_=Integer))


@lru_cache(maxsize=256)
def _matches_of_authors(shape: Shape, words: Words, centred: bool, terms: bool) -> Any:
    """The matches of the authors ``authors`` (an expanding parameter), with what orders them, and with
    ``terms`` their stored terms (checked here against the words rather than by the text index)."""
    conditions = [*where(shape, words), col(Proposal.author_uri).in_(bindparam("authors", expanding=True))]
    columns = [col(Proposal.id), col(Proposal.author_uri), planar() if centred else null()]
    return matching(conditions, [*columns, col(Proposal.published_at), *(TERMS if terms else ())])


def _authors(after: tuple[int, int] | None, limit: int, *, session: Session) -> list[tuple[str, int, int]]:
    """The next ``limit`` authors in the order of their standings (after the standing ``after``), and every
    other author of the last one's standing."""
    if after is None:
        found = list(run(session, _FIRST_N, {"n": limit}).all())
    else:
        found = list(run(session, _AFTER_N, {"n": limit, "after_mean": after[0], "after_count": after[1]}))
    if len(found) == limit:
        _, mean, count = found[-1]
        known = {uri for uri, _, _ in found}
        tied = run(session, _TIED, {"mean": mean, "count": count}).scalars().all()
        found += [(uri, mean, count) for uri in sorted(tied) if uri not in known]
    return [(str(uri), int(mean), int(count)) for uri, mean, count in found]


def reputation_page(
    shape: Shape,
    words: Words,
    values: dict[str, Any],
    offset: int,
    limit: int,
    *,
    session: Session,
    checker: Checker | None = None,
) -> list[int]:
    """The ids of the matches ``offset`` to ``offset + limit`` in the order by reputation. With a
    ``checker`` the authors' proposals are checked against the words one by one (SQLite's text index
    would otherwise collect every match of a common word for each read: 30 ms for "aide")."""
    centred = "clat" in values
    wanted = offset + limit
    rated: list[int] = []
    after: tuple[int, int] | None = None
    batch = FIRST_AUTHORS
    while len(rated) < wanted:
        authors = _authors(after, batch, session=session)
        if not authors:
            break
        standing = {uri: (mean, count) for uri, mean, count in authors}
        statement = _matches_of_authors(shape, words if checker is None else NO_WORDS, centred, bool(checker))
        named = list(standing)
        rows = [
            row
            for start in range(0, len(named), CHUNK)
            for row in run(session, statement, {**values, "authors": named[start : start + CHUNK]}).all()
            if checker is None or checker(row[0], *row[4:])[0]
        ]

        def order(row: Any, standing: dict[str, tuple[int, int]] = standing) -> tuple[Any, ...]:
            mean, count = standing[row[1]]
            return (-mean, -count, row[2] is None, row[2] or 0.0, -row[3].timestamp(), -row[0])

        rated += [int(row[0]) for row in sorted(rows, key=order)]
        if len(authors) < batch:
            break  # every author with a standing was read
        after = authors[-1][1], authors[-1][2]
        batch = min(batch * 4, MOST_AUTHORS)
    if len(rated) >= wanted or shape.reputation:  # a minimum reputation leaves out those without one
        return rated[offset:wanted]
    page = {**values, "offset": max(0, offset - len(rated)), "limit": wanted - max(len(rated), offset)}
    unrated = run(session, _unrated(shape, words, centred), page).scalars().all()
    return rated[offset:] + [int(i) for i in unrated]


@lru_cache(maxsize=256)
def _unrated(shape: Shape, words: Words, centred: bool) -> Any:
    """A page of the matches by authors without a standing, by distance (``centred``) or date."""
    return (
        matching(where(replace(shape, unrated=True), words), [col(Proposal.id)])
        .order_by(*sql_order("distance" if centred else "date", centred))
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
    )
