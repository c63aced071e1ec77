"""Telling people of new matches: each new demand (of this node or received from another) notifies the
best of this node's providers, each new offer the authors of the demands it answers best
(:func:`match_new_demands`, :func:`match_new_offers`, run by the worker's job :mod:`node.search.jobs`).

Rules: only people who opted in (``match_settings.alerts``); at most ``match_notify_top`` people per
proposal; never the same person twice for the same proposal (a row of ``match_notices``); at most
``match_alerts_per_day`` notices per person in 24 hours (the ones over the cap are dropped, not delayed:
old news is no news). A pass reads the proposals stored since the last one (``match_cursors``), at most
:data:`BATCH` at a time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from itertools import islice

from sqlalchemy import func
from sqlmodel import Session, col, select

from node.market.lifecycles import ProposalState
from node.market.models import Proposal
from node.market.notifications import Kind, notify
from node.search.matching import profiles, ranking
from node.search.matching.candidates import Ranked, demands_for_offer, iter_providers
from node.search.matching.models import MatchCursor, MatchNotice, MatchSettings
from node.search.matching.scoring import reasons
from node.settings import Settings

__all__ = ["BATCH", "match_new_demands", "match_new_offers", "page_of", "window"]

BATCH = 50
log = logging.getLogger("asasap.matching")
DAY = timedelta(hours=24)


def page_of(proposal: Proposal) -> str | None:
    """The path of a proposal's page here (None for ours: their address is their page)."""
    return f"/proposals/remote/{proposal.id}" if proposal.origin else None


def _cursor(name: str, *, session: Session) -> MatchCursor:
    row = session.get(MatchCursor, name)
    if row is None:
        row = MatchCursor(name=name, seen_up_to=0)
        session.add(row)
    return row


def _opted_in(user_ids: Iterable[int], *, session: Session) -> set[int]:
    ids = list(set(user_ids))
    if not ids:
        return set()
    query = select(MatchSettings.user_id).where(
        col(MatchSettings.user_id).in_(ids), col(MatchSettings.alerts)
    )
    return set(session.exec(query).all())


def _today(user_ids: Iterable[int], now: datetime, *, session: Session) -> dict[int, int]:
    ids = list(set(user_ids))
    if not ids:
        return {}
    query = (
        select(MatchNotice.user_id, func.count())
        .where(col(MatchNotice.user_id).in_(ids), col(MatchNotice.created_at) > now - DAY)
        .group_by(col(MatchNotice.user_id))
    )
    return {user_id: int(count) for user_id, count in session.exec(query).all()}


def _already(proposal_id: int, *, session: Session) -> set[int]:
    query = select(MatchNotice.user_id).where(col(MatchNotice.proposal_id) == proposal_id)
    return set(session.exec(query).all())


def notify_best(
    settings: Settings,
    proposal: Proposal,
    ranked: Iterable[Ranked],
    kind: Kind,
    now: datetime,
    *,
    session: Session,
) -> int:
    """Notify the first ``match_notify_top`` people of ``ranked`` who may be told of ``proposal``; how many
    were. ``ranked`` is read only as far as needed, :func:`window` at a time."""
    assert proposal.id is not None
    told = _already(proposal.id, session=session)
    willing: set[int] = set()
    counts: dict[int, int] = {}
    seen: set[int] = set()
    made = 0
    for batch in _batches(ranked, window(settings)):
        if made >= settings.match_notify_top:
            break
        people = {r.user.pk for r in batch if r.user is not None} - seen
        willing |= _opted_in(people, session=session)
        counts.update(_today(people, now, session=session))
        seen |= people
        room = settings.match_notify_top - made
        made += _notify_batch(settings, proposal, batch, kind, room, willing, counts, told, session=session)
    return made


def window(settings: Settings) -> int:
    """How many candidates a notice reads at a time: four times the people to tell, so that a few who
    reached their notices of the day or were told already leave enough (and at least 20)."""
    return max(4 * settings.match_notify_top, 20)


def _batches(ranked: Iterable[Ranked], size: int) -> Iterator[list[Ranked]]:
    found = iter(ranked)
    while batch := list(islice(found, size)):
        yield batch


def _notify_batch(
    settings: Settings,
    proposal: Proposal,
    batch: list[Ranked],
    kind: Kind,
    room: int,
    willing: set[int],
    counts: dict[int, int],
    told: set[int],
    *,
    session: Session,
) -> int:
    """Notify at most ``room`` people of ``batch`` who may be told of ``proposal``; how many were."""
    assert proposal.id is not None
    made = 0
    for candidate in batch:
        if made >= room:
            break
        user = candidate.user
        if user is None or user.pk not in willing or user.pk in told:
            continue
        if counts.get(user.pk, 0) >= settings.match_alerts_per_day:
            continue
        data: dict[str, object] = {
            "title": proposal.title,
            "proposal_id": proposal.id,
            "score": candidate.match.score,
            "reasons": reasons(candidate.match, user.language or settings.default_language),
        }
        if candidate.proposal is not None:
            data["your_proposal"] = candidate.proposal.title
        href = page_of(proposal)
        if href:
            data["href"] = href
        notify(
            user.pk,
            kind,
            session=session,
            object_uri=proposal.ap_id,
            actor_uri=proposal.author_uri,
            data=data,
        )
        session.add(MatchNotice(proposal_id=proposal.id, user_id=user.pk, score=candidate.match.score))
        told.add(user.pk)
        counts[user.pk] = counts.get(user.pk, 0) + 1
        made += 1
    return made


def _new(purpose: str, after: int, *, session: Session) -> list[Proposal]:
    query = (
        select(Proposal)
        .where(col(Proposal.purpose) == purpose, col(Proposal.id) > after)
        .order_by(col(Proposal.id))
        .limit(BATCH)
    )
    return list(session.exec(query).all())


def _pass(
    name: str,
    purpose: str,
    settings: Settings,
    now: datetime,
    rank: Callable[[Proposal], Iterable[Ranked]],
    kind: Kind,
    *,
    session: Session,
) -> int:
    cursor = _cursor(name, session=session)
    rows = _new(purpose, cursor.seen_up_to, session=session)
    made = 0
    for row in rows:
        assert row.id is not None
        cursor.seen_up_to = max(cursor.seen_up_to, row.id)
        if row.state != ProposalState.OPEN.value or (row.expires_at is not None and row.expires_at <= now):
            continue
        if not settings.match_notify_top:
            continue
        try:
            with session.begin_nested():  # one proposal that cannot be matched must not stop the others
                made += notify_best(settings, row, rank(row), kind, now, session=session)
        except Exception:
            log.exception("matching proposal %s failed; skipped", row.id)
    session.add(cursor)
    return made


def match_new_demands(settings: Settings, now: datetime, *, session: Session) -> int:
    """Notify this node's best providers of each demand stored since the last pass; how many notices."""
    profiles.refresh(settings, now, session=session)

    first = window(settings)

    def rank(demand: Proposal) -> Iterable[Ranked]:
        return iter_providers(
            settings, demand, now, session=session, refreshed=True, alerts_only=True, first=first
        )

    made = _pass("demands", "request", settings, now, rank, Kind.MATCH_DEMAND, session=session)
    ranking.settle()  # after the first pass: see there
    return made


def match_new_offers(settings: Settings, now: datetime, *, session: Session) -> int:
    """Notify the authors of the demands that each offer stored since the last pass answers best."""

    def rank(offer: Proposal) -> Iterable[Ranked]:
        return demands_for_offer(settings, offer, now, session=session)

    return _pass("offers", "offer", settings, now, rank, Kind.MATCH_OFFER, session=session)
