"""Who may answer what, as :mod:`~node.search.matching.scoring` sees them, read from the database: the
needs (open demands) and the supplies (this node's providers, open offers), and the rankings built on
them. Exclusions come first, scores after:

- never the author themselves;
- only active accounts (a suspended, pending or deleted person is neither suggested nor notified);
- no pair where either side blocked the other;
- a provider only for a category their declared status allows (:mod:`node.catalog.eligibility`); an offer
  from another node only for its own category, or for one that needs no agrément;
- only open proposals, not expired.

Candidates are always people of this node: proposals received from other nodes are matched here with our
people, and nothing about our people leaves the node.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sqlmodel import Session, col, select

from node.accounts.blocks import PersonBlock
from node.accounts.models import AccountStatus, User
from node.activitypub.actors import local
from node.catalog.categories import UnknownCategory, by_slug
from node.catalog.eligibility import may_provide
from node.market.evaluations.service import reputations_of
from node.market.models import Proposal
from node.search.matching import profiles, ranking
from node.search.matching.scoring import MIN_SCORE, Match, Need, Supply, price_of, score, text_terms
from node.search.matching.supplies import Person, is_open, people_of_node, radii, radius_of, slots_of
from node.settings import Settings

__all__ = [
    "Person",
    "CUT",
    "Ranked",
    "iter_providers",
    "need_of",
    "offer_supplies",
    "offers_for_demand",
    "people_of_node",
    "open_proposals",
    "person_supply",
    "providers_for_demand",
    "demands_for_offer",
    "eligible",
    "radius_of",
    "slots_of",
]


@dataclass(frozen=True)
class Ranked:
    """One candidate of a ranking: a local person (for a demand) or a proposal (for an offer or a
    person's suggestions), with its match."""

    match: Match
    user: User | None = None
    proposal: Proposal | None = None


def need_of(demand: Proposal) -> Need:
    """A demand as a need."""
    return Need(
        author_uri=demand.author_uri,
        category=demand.category,
        terms=text_terms(demand.title, demand.description),
        lat=demand.latitude,
        lon=demand.longitude,
        slots=slots_of(demand.schedule),
        budget=price_of(demand.price_amount, demand.price_currency, demand.price_basis),
    )


def open_proposals(
    purpose: str, now: datetime, *, session: Session, local_only: bool = False
) -> list[Proposal]:
    """The open offers or demands (``purpose``), of this node only when ``local_only``."""
    query = select(Proposal).where(col(Proposal.purpose) == purpose, is_open(now))
    if local_only:
        query = query.where(col(Proposal.local_author_id).is_not(None))
    return list(session.exec(query.order_by(col(Proposal.id))).all())


def person_supply(settings: Settings, user: User, now: datetime, *, session: Session) -> Person | None:
    """``user`` as a provider (None unless they offer services and are active)."""
    found = people_of_node(settings, now, session=session, only=[user.pk])
    return found[0] if found else None


def _blocks(*, session: Session, users: Iterable[int]) -> set[tuple[int, str]]:
    ids = list(users)
    if not ids:
        return set()
    rows = session.exec(select(PersonBlock).where(col(PersonBlock.user_id).in_(ids))).all()
    return {(row.user_id, row.blocked_uri) for row in rows}


def eligible(category: str | None, status: str) -> bool:
    try:
        return may_provide(category, status)
    except UnknownCategory:
        return False


def _remote_offer_eligible(offer: Proposal, category: str | None) -> bool:
    """An offer from another node was checked there for its own category; another category must need
    no agrément (we do not know the author's status)."""
    if category is None or category == offer.category:
        return True
    try:
        return by_slug(category).regime == "declaration"
    except UnknownCategory:
        return False


def _ordered(found: list[Ranked]) -> list[Ranked]:
    def key(r: Ranked) -> tuple[float, float, int]:
        distance = r.match.distance_km if r.match.distance_km is not None else 1e9
        row_id = r.user.pk if r.user is not None else (r.proposal.id if r.proposal is not None else 0) or 0
        return (-r.match.score, distance, row_id)

    return sorted((r for r in found if r.match.score >= MIN_SCORE), key=key)


CUT = 200
"""How many of the best candidates a ranking from the table reads the accounts of at a time."""


def providers_for_demand(
    settings: Settings,
    demand: Proposal,
    now: datetime,
    *,
    session: Session,
    people: Sequence[Person] | None = None,
    refreshed: bool = False,
    alerts_only: bool = False,
    limit: int | None = None,
) -> list[Ranked]:
    """This node's providers for ``demand``, best first (the first ``limit`` when given): read from
    ``match_profiles`` (refreshed first unless ``refreshed``: the job refreshes once per pass; only those
    who opted in to alerts when ``alerts_only``), or among ``people`` when given (a person's own
    suggestions)."""
    if people is None:
        found = iter_providers(
            settings,
            demand,
            now,
            session=session,
            refreshed=refreshed,
            alerts_only=alerts_only,
            first=limit or CUT,
        )
        return list(islice(found, limit)) if limit is not None else list(found)
    need = need_of(demand)
    author_id = demand.local_author_id
    blocks = _blocks(session=session, users=[p.user.pk for p in people] + ([author_id] if author_id else []))
    found_people: list[Ranked] = []
    for person in people:
        if person.uri == demand.author_uri or person.user.pk == author_id:
            continue
        if (person.user.pk, demand.author_uri) in blocks or (author_id, person.uri) in blocks:
            continue
        if alerts_only and not person.alerts:
            continue
        if not eligible(demand.category, person.user.provider_status):
            continue
        match = score(need, person.supply, now)
        if match is not None:
            found_people.append(Ranked(match=match, user=person.user))
    ordered = _ordered(found_people)
    return ordered[:limit] if limit is not None else ordered


def iter_providers(
    settings: Settings,
    demand: Proposal,
    now: datetime,
    *,
    session: Session,
    refreshed: bool = False,
    alerts_only: bool = False,
    first: int = CUT,
) -> Iterator[Ranked]:
    """This node's providers for ``demand`` from ``match_profiles``, best first, as the caller reads
    them: the candidates pre-filtered in SQL (:func:`profiles.nearby`) are all scored
    (:mod:`~node.search.matching.ranking`), then only the best ``first`` have their accounts read again
    (still active providers only) and blocks checked, and the next ones only if the caller reads that
    far. The same people in the same order as scoring everyone and excluding before."""
    if not refreshed:
        profiles.refresh(settings, now, session=session)
    need = need_of(demand)
    author_id = demand.local_author_id
    rows = profiles.nearby(need, session=session, alerts_only=alerts_only)
    ranking.load(rows, session=session)
    for part in ranking.ranked(need, rows, now, author_id=author_id, eligible=eligible, first=max(first, 1)):
        users = {u.pk: u for u in _active([e[2] for e in part], session=session) if u.offers_services}
        blocks = _blocks(session=session, users=list(users) + ([author_id] if author_id else []))
        for entry in part:
            user = users.get(entry[2])
            if user is None:
                continue
            uri = local.person(settings, user).uri
            if uri == demand.author_uri or (user.pk, demand.author_uri) in blocks:
                continue
            if (author_id, uri) in blocks:
                continue
            yield Ranked(match=ranking.match_of(need, entry, rows, now), user=user)


def offer_supplies(settings: Settings, offers: Sequence[Proposal], *, session: Session) -> list[Supply]:
    """Offers as supplies: each one's category, words, place and days, its author's radius (the node's
    default for another node's author) and reputation (read for all at once)."""
    own = radii([o.local_author_id for o in offers if o.local_author_id], session=session)
    reputations = reputations_of([o.author_uri for o in offers], session=session)
    found = []
    for offer in offers:
        reputation = reputations[offer.author_uri]
        found.append(
            Supply(
                uri=offer.author_uri,
                categories=frozenset({offer.category}) if offer.category else frozenset(),
                terms=text_terms(offer.title, offer.description),
                lat=offer.latitude,
                lon=offer.longitude,
                radius_km=float(radius_of(settings, own.get(offer.local_author_id or 0))),
                slots=slots_of(offer.schedule),
                reputation_mean=reputation.mean,
                reputation_count=reputation.count,
                price=price_of(offer.price_amount, offer.price_currency, offer.price_basis),
            )
        )
    return found


def _offer_may_answer(offer: Proposal, demand: Proposal, *, session: Session) -> bool:
    if offer.local_author_id is None:
        return _remote_offer_eligible(offer, demand.category)
    author = session.get(User, offer.local_author_id)
    return author is not None and eligible(demand.category, author.provider_status)


def demands_for_offer(
    settings: Settings, offer: Proposal, now: datetime, *, session: Session
) -> list[Ranked]:
    """Open demands of this node's active people that ``offer`` could answer, best first."""
    if offer.local_author_id is not None:
        author = session.get(User, offer.local_author_id)
        if author is None or author.status != AccountStatus.ACTIVE.value:
            return []
    (supply,) = offer_supplies(settings, [offer], session=session)
    demands = [d for d in open_proposals("request", now, session=session, local_only=True)]
    authors = {u.pk: u for u in _active([d.local_author_id for d in demands], session=session)}
    blocks = _blocks(
        session=session, users=list(authors) + ([offer.local_author_id] if offer.local_author_id else [])
    )
    found: list[Ranked] = []
    for demand in demands:
        author = authors.get(demand.local_author_id or 0)
        if author is None or demand.author_uri == offer.author_uri:
            continue
        if (author.pk, offer.author_uri) in blocks or (offer.local_author_id, demand.author_uri) in blocks:
            continue
        if not _offer_may_answer(offer, demand, session=session):
            continue
        match = score(need_of(demand), supply, now)
        if match is not None:
            found.append(Ranked(match=match, user=author, proposal=demand))
    return _ordered(found)


def _active(ids: Iterable[int | None], *, session: Session) -> list[User]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return []
    return list(
        session.exec(
            select(User).where(col(User.id).in_(wanted), col(User.status) == AccountStatus.ACTIVE.value)
        ).all()
    )


def offers_for_demand(
    settings: Settings, demand: Proposal, now: datetime, *, session: Session
) -> list[Ranked]:
    """Open offers, of this node and others, that answer ``demand``, best first."""
    need = need_of(demand)
    author_id = demand.local_author_id
    blocked = {uri for user, uri in _blocks(session=session, users=[author_id] if author_id else [])}
    found: list[Ranked] = []
    offers = open_proposals("offer", now, session=session)
    for offer, supply in zip(offers, offer_supplies(settings, offers, session=session), strict=True):
        if offer.author_uri == demand.author_uri or offer.author_uri in blocked:
            continue
        if not _offer_may_answer(offer, demand, session=session):
            continue
        match = score(need, supply, now)
        if match is not None:
            found.append(Ranked(match=match, proposal=offer))
    return _ordered(found)
