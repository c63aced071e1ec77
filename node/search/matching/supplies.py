"""This node's providers as matching sees them, built from their rows: the profile's categories and bio,
their open offers (words, days, prices), their radius, reputation, completed agreements and last
activity. Built for every provider when :mod:`node.search.matching.profiles` refreshes its table, and
for one person when their own suggestions are shown."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func
from sqlmodel import Session, col, or_, select

from node.accounts.models import AccountStatus, User, UserCategory
from node.activitypub.actors import local
from node.market import availability
from node.market.evaluations.service import reputations_of
from node.market.lifecycles import AgreementState, ProposalState
from node.market.models import Agreement, Proposal
from node.places.gazetteer import default_gazetteer
from node.search.matching.models import MatchSettings
from node.search.matching.scoring import Price, Supply, price_of, text_terms
from node.settings import Settings

__all__ = ["Person", "is_open", "people_of_node", "radii", "radius_of", "slots_of"]


@dataclass(frozen=True)
class Person:
    """A person of this node as a provider: the account and what matching knows of them."""

    user: User
    uri: str
    supply: Supply
    alerts: bool = False  # opted in to match alerts


def slots_of(schedule_json: str | None) -> frozenset[int] | None:
    """The parts of the days of the week (:func:`~node.market.availability.slot`) a stored schedule
    takes place in; None without one."""
    return availability.slots(schedule_json)


def is_open(now: datetime) -> ColumnElement[bool]:
    """An open, unexpired proposal."""
    return and_(
        col(Proposal.state) == ProposalState.OPEN.value,
        or_(col(Proposal.expires_at).is_(None), col(Proposal.expires_at) > now),
    )


def radii(user_ids: Iterable[int], *, session: Session) -> dict[int, MatchSettings]:
    """The matching settings of several people at once."""
    ids = list(user_ids)
    if not ids:
        return {}
    found: dict[int, MatchSettings] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.exec(select(MatchSettings).where(col(MatchSettings.user_id).in_(chunk))).all()
        found.update({row.user_id: row for row in rows})
    return found


def radius_of(settings: Settings, row: MatchSettings | None) -> int:
    """A person's radius: their own, else the node's default."""
    return row.radius_km if row is not None and row.radius_km else settings.match_radius_km


def _cheapest(prices: list[Price]) -> Price | None:
    """The price matching compares with a budget: the lowest in euros per hour, else the lowest of the
    first currency and basis found."""
    if not prices:
        return None
    hourly = [p for p in prices if (p.currency, p.basis) == ("EUR", "per_hour")]
    chosen = hourly or [p for p in prices if (p.currency, p.basis) == (prices[0].currency, prices[0].basis)]
    return min(chosen, key=lambda p: p.amount)


def _agreements(ids: list[int], *, session: Session) -> tuple[dict[int, int], dict[int, int]]:
    """Per provider: agreements completed, and those finished (completed, or cancelled by the provider;
    a cancellation by the other party does not count against them)."""
    completed: dict[int, int] = {}
    finished: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(
            Agreement.local_provider_id, Agreement.state, Agreement.provider_uri, Agreement.cancelled_by_uri
        ).where(
            col(Agreement.local_provider_id).in_(chunk),
            col(Agreement.state).in_([AgreementState.COMPLETED.value, AgreementState.CANCELLED.value]),
        )
        for user_id, state, provider_uri, cancelled_by in session.exec(query).all():
            assert user_id is not None
            if state == AgreementState.COMPLETED.value:
                completed[user_id] = completed.get(user_id, 0) + 1
            elif cancelled_by != provider_uri:
                continue
            finished[user_id] = finished.get(user_id, 0) + 1
    return completed, finished


def _last_activity(ids: list[int], *, session: Session) -> dict[int, datetime]:
    """Per person: the latest change of their proposals or of an agreement they are a party to."""
    found: dict[int, datetime] = {}

    def keep(pairs: Iterable[tuple[int | None, datetime | None]]) -> None:
        for user_id, moment in pairs:
            if (
                user_id is not None
                and moment is not None
                and (user_id not in found or moment > found[user_id])
            ):
                found[user_id] = moment

    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        keep(
            session.exec(
                select(Proposal.local_author_id, func.max(Proposal.updated_at))
                .where(col(Proposal.local_author_id).in_(chunk))
                .group_by(col(Proposal.local_author_id))
            ).all()
        )
        for party in (Agreement.local_provider_id, Agreement.local_requester_id):
            keep(
                session.exec(
                    select(party, func.max(Agreement.updated_at))
                    .where(col(party).in_(chunk))
                    .group_by(col(party))
                ).all()
            )
    return found


def people_of_node(
    settings: Settings, now: datetime, *, session: Session, only: Iterable[int] | None = None
) -> list[Person]:
    """This node's active providers as supplies (only those of ``only`` when given)."""
    query = select(User).where(col(User.offers_services), col(User.status) == AccountStatus.ACTIVE.value)
    wanted = None if only is None else sorted(set(only))
    users: list[User] = []
    for start in range(0, len(wanted), 500) if wanted is not None else [0]:
        part = query if wanted is None else query.where(col(User.id).in_(wanted[start : start + 500]))
        users += session.exec(part.order_by(col(User.id))).all()
    if not users:
        return []
    ids = [u.pk for u in users]
    categories: dict[int, set[str]] = {i: set() for i in ids}
    texts: dict[int, list[str]] = {u.pk: [u.bio] for u in users}
    days: dict[int, set[int]] = {}
    prices: dict[int, list[Price]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in session.exec(select(UserCategory).where(col(UserCategory.user_id).in_(chunk))).all():
            categories[row.user_id].add(row.category)
        offers = session.exec(
            select(Proposal).where(
                col(Proposal.purpose) == "offer", col(Proposal.local_author_id).in_(chunk), is_open(now)
            )
        ).all()
        for offer in offers:
            owner = offer.local_author_id
            assert owner is not None
            texts[owner] += [offer.title, offer.description]
            if offer.category:
                categories[owner].add(offer.category)
            offered = slots_of(offer.schedule)
            if offered is not None:
                days.setdefault(owner, set()).update(offered)
            price = price_of(offer.price_amount, offer.price_currency, offer.price_basis)
            if price is not None:
                prices.setdefault(owner, []).append(price)
    own = radii(ids, session=session)
    uris = {u.pk: local.person(settings, u).uri for u in users}
    reputations = reputations_of(uris.values(), session=session)
    completed, finished = _agreements(ids, session=session)
    active = _last_activity(ids, session=session)
    gazetteer = default_gazetteer()
    found: list[Person] = []
    for user in users:
        commune = gazetteer.by_insee(user.commune_insee) if user.commune_insee else None
        reputation = reputations[uris[user.pk]]
        moments = [m for m in (user.updated_at, active.get(user.pk)) if m is not None]
        supply = Supply(
            uri=uris[user.pk],
            categories=frozenset(categories[user.pk]),
            terms=text_terms(*texts[user.pk]),
            lat=commune.lat if commune is not None else None,
            lon=commune.lon if commune is not None else None,
            radius_km=float(radius_of(settings, own.get(user.pk))),
            slots=frozenset(days[user.pk]) if user.pk in days else None,
            reputation_mean=reputation.mean,
            reputation_count=reputation.count,
            price=_cheapest(prices.get(user.pk, [])),
            completed=completed.get(user.pk, 0),
            finished=finished.get(user.pk, 0),
            last_active=max(moments) if moments else None,
        )
        settings_row = own.get(user.pk)
        alerts = settings_row is not None and settings_row.alerts
        found.append(Person(user=user, uri=uris[user.pk], supply=supply, alerts=alerts))
    return found
