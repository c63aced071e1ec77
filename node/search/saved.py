"""Saved searches: a person keeps a search (its query string) and is notified of each new local or
federated proposal that matches it (:func:`alert`, run by the worker's job :mod:`node.search.jobs`).

A proposal alerts a saved search once: the search remembers the highest proposal row id it has checked.
Only proposals stored after the search was saved count, never the person's own, and at most
:data:`MAX_ALERTS_PER_RUN` notifications per search and run (a flood of matches is one reason to narrow
the search, not a reason to flood the person)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import parse_qsl

from sqlalchemy import func
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.activitypub.actors import local
from node.core.errors import N_, Conflict, NotFound, ValidationFailed
from node.market.models import Proposal
from node.market.notifications import Kind, notify
from node.search.engine import newer_matches
from node.search.filters import parse_search
from node.search.models import SavedSearch
from node.settings import Settings

__all__ = ["MAX_ALERTS_PER_RUN", "MAX_PER_PERSON", "SavedSearch", "alert", "create", "delete", "of_user"]

MAX_PER_PERSON = 20
MAX_ALERTS_PER_RUN = 10
MSG_TOO_MANY = N_("You already keep 20 searches: delete one first.")
MSG_FIX = N_("Some fields need attention.")
MSG_EMPTY = N_("Give a name.")
MSG_NO_SUCH = N_("No such saved search.")
_KEPT = frozenset(
    {
        "q",
        "purpose",
        "category",
        "departement",
        "origin",
        "commune",
        "radius",
        "date_from",
        "date_to",
        "price_min",
        "price_max",
        "min_reputation",
    }
)


def _params(query: str) -> dict[str, str]:
    return {k: v for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=False) if k in _KEPT}


def of_user(user_id: int, *, session: Session) -> Sequence[SavedSearch]:
    """The saved searches of a person, oldest first."""
    return session.exec(
        select(SavedSearch).where(col(SavedSearch.user_id) == user_id).order_by(col(SavedSearch.id))
    ).all()


def _last_proposal_id(*, session: Session) -> int:
    return int(session.exec(select(func.max(Proposal.id))).one() or 0)


def create(settings: Settings, user: User, name: str, query: str, *, session: Session) -> SavedSearch:
    """Keep the search of ``query`` (a query string) under ``name``; proposals stored from now on that
    match it will notify ``user``. Refuses a query with a bad value."""
    name = " ".join(name.split())[:120]
    if not name:
        raise ValidationFailed(MSG_FIX, fields={"name": MSG_EMPTY})
    params = _params(query)
    filters, errors = parse_search(params)
    if errors:
        raise ValidationFailed(MSG_FIX, fields=errors)
    if len(of_user(user.pk, session=session)) >= MAX_PER_PERSON:
        raise Conflict(MSG_TOO_MANY)
    row = SavedSearch(
        user_id=user.pk,
        name=name,
        params=filters.query_string(sort="relevance", page=1),
        seen_up_to=_last_proposal_id(session=session),
    )
    session.add(row)
    session.flush()
    return row


def delete(user: User, saved_id: int, *, session: Session) -> None:
    """Forget one of ``user``'s saved searches (404 for anyone else's)."""
    row = session.get(SavedSearch, saved_id)
    if row is None or row.user_id != user.pk:
        raise NotFound(MSG_NO_SUCH)
    session.delete(row)


def alert(settings: Settings, now: datetime, *, session: Session) -> int:
    """Notify the owners of saved searches of the proposals that match them and that they have not been
    told of yet; how many notifications were made."""
    last = _last_proposal_id(session=session)
    made = 0
    for row in session.exec(select(SavedSearch).where(col(SavedSearch.seen_up_to) < last)).all():
        owner = session.get(User, row.user_id)
        if owner is None or owner.status != AccountStatus.ACTIVE.value:
            row.seen_up_to = last
            continue
        filters, errors = parse_search(_params(row.params))
        matches = (
            []
            if errors
            else newer_matches(
                filters, session=session, now=now, after_id=row.seen_up_to, home=owner.commune_insee or None
            )
        )
        own = local.person(settings, owner).uri
        for proposal in [p for p in matches if p.author_uri != own][:MAX_ALERTS_PER_RUN]:
            notify(
                owner.pk,
                Kind.SAVED_SEARCH_MATCH,
                session=session,
                object_uri=proposal.ap_id,
                actor_uri=proposal.author_uri,
                data={"search": row.name, "title": proposal.title, "proposal_id": proposal.id},
            )
            made += 1
        row.seen_up_to = last
        session.add(row)
    return made
