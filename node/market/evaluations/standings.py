"""What each person's published evaluations add up to, kept in the table ``standings`` so that a search
can filter and order by reputation through an index instead of reading every evaluation.

A person's row holds the scores that count for them — published, overall from 1 to 5, as the person
evaluated or as the member who carried out a group's service (once when both) — as
:func:`~node.market.evaluations.service.reputations_of` counts them: their number, their sum, and the mean
as :func:`~node.market.evaluations.reputation.aggregate` rounds it (half up to two decimals), in
hundredths, computed on integers: ``(200 × sum + count) div (2 × count)`` = ⌊100 × mean + ½⌋.

**Kept up to date** by :func:`restate`, called in the transaction where an evaluation of someone is
published (revealed here, or received published from another node) or hidden by a moderator: the rows of
the people it counts for are computed again from their evaluations. On PostgreSQL each person's row is
computed under a transaction lock of its own, so two transactions changing the same person's evaluations
at once cannot write a sum that misses the other's (SQLite lets one writer in at a time).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, select, text, union_all
from sqlmodel import Session, col

from node.core import db
from node.core.sqlbase import table_of
from node.market.lifecycles import EvaluationState
from node.market.models import Evaluation, Standing

__all__ = ["kept", "restate"]


def _scores(uris: Any) -> Any:
    """The scores that count for the people ``uris`` (an expanding parameter): ``uri``, ``overall``."""
    counted = and_(
        col(Evaluation.state) == EvaluationState.PUBLISHED.value, col(Evaluation.overall).between(1, 5)
    )
    evaluated: Any = select(col(Evaluation.evaluated_uri).label("uri"), col(Evaluation.overall)).where(
        counted, col(Evaluation.evaluated_uri).in_(uris)
    )
    performers: Any = select(col(Evaluation.performer_uri).label("uri"), col(Evaluation.overall)).where(
        counted,
        col(Evaluation.performer_uri).in_(uris),
        col(Evaluation.performer_uri) != col(Evaluation.evaluated_uri),
    )
    return union_all(evaluated, performers).subquery("scores")


_URIS: Any = bindparam("uris", expanding=True)
_SCORES = _scores(_URIS)
_COUNT = func.count()
_TOTAL = func.sum(_SCORES.c.overall)
_ROWS = select(
    _SCORES.c.uri,
    _COUNT.label("count"),
    _TOTAL.label("total"),
    ((200 * _TOTAL + _COUNT) // (2 * _COUNT)).label("hundredths"),
).group_by(_SCORES.c.uri)
_TABLE = table_of(Standing)
_KEPT = select(col(Standing.uri), col(Standing.hundredths), col(Standing.count)).where(
    col(Standing.uri).in_(bindparam("uris", expanding=True))
)
_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:key))")


def _rows_of(uris: Iterable[str], *, session: Session) -> dict[str, tuple[int, int, int]]:
    """``(count, total, hundredths)`` of each of ``uris`` with a score that counts, from their
    evaluations."""
    wanted = sorted(set(uris))
    if not wanted:
        return {}
    found = session.connection().execute(_ROWS, {"uris": wanted}).all()
    return {str(uri): (int(count), int(total), int(hundredths)) for uri, count, total, hundredths in found}


def restate(uris: Iterable[str | None], *, session: Session) -> None:
    """Compute again the rows of ``uris`` (the people an evaluation that was published or hidden counts
    for), in the caller's transaction: written when a score counts for them, removed otherwise."""
    wanted = sorted({uri for uri in uris if uri})
    if not wanted:
        return
    session.flush()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        for uri in wanted:  # in one order: two transactions never wait for each other in a circle
            connection.execute(_LOCK, {"key": "standing:" + uri})
    found = _rows_of(wanted, session=session)
    for uri, (count, total, hundredths) in found.items():
        changes = {"count": count, "total": total, "hundredths": hundredths}
        connection.execute(db.insert_or_update(session, _TABLE, {"uri": uri, **changes}, ["uri"], changes))
    gone = [uri for uri in wanted if uri not in found]
    if gone:
        connection.execute(delete(Standing).where(col(Standing.uri).in_(gone)))


def kept(uris: Iterable[str], *, session: Session) -> dict[str, tuple[int, int]]:
    """``(hundredths, count)`` of each of ``uris`` with a standing, as the table keeps it."""
    wanted = sorted(set(uris))
    found: dict[str, tuple[int, int]] = {}
    for start in range(0, len(wanted), 500):
        rows = session.connection().execute(_KEPT, {"uris": wanted[start : start + 500]}).all()
        found.update((str(uri), (int(mean), int(count))) for uri, mean, count in rows)
    return found
