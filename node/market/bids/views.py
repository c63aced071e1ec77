"""What people see of bids: the bids on an author's proposal with each bidder's reputation and
distance, a bidder's own bids, and who may see a bid at all (its bidder and the proposal's author).

Reputation comes from the published evaluations this node holds about the bidder
(:func:`node.market.evaluations.service.reputations_of`: the same figures every node computes from the same
evaluations). Distance is between commune centres: the bidder's commune from their profile when they
are on this node, else from the ``location`` their bid carried or that of their cached actor (a
``Place`` with an ``inseeCode`` or coordinates), else unknown (and not shown).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.accounts.people import REMOTE_PROFILE_PATH
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.models import RemoteActor
from node.core.errors import NotFound
from node.market.bids.service import (
    ACTIVE,
    MSG_NO_SUCH_BID,
    MSG_NO_SUCH_PROPOSAL,
    active_bid,
    is_author,
    price_of,
    proposal_of,
)
from node.market.evaluations.reputation import Reputation
from node.market.evaluations.service import reputation_of, reputations_of
from node.market.models import Agreement, Bid, Proposal
from node.market.money import Price
from node.places.gazetteer import Commune, default_gazetteer, distance_km
from node.settings import Settings


@dataclass(frozen=True)
class Standing:
    reputation: Reputation
    distance_km: float | None


def _point(lat: float, lon: float) -> Commune:
    return Commune(
        insee="", name="", postal_codes=(), departement="", region="", population=None, lat=lat, lon=lon
    )


def proposal_place(proposal: Proposal) -> Commune | None:
    """Where a proposal is: its commune, else its (coarse) coordinates."""
    if proposal.commune_insee:
        found = default_gazetteer().by_insee(proposal.commune_insee)
        if found is not None and found.has_coordinates:
            return found
    if proposal.latitude is not None and proposal.longitude is not None:
        return _point(proposal.latitude, proposal.longitude)
    return None


def _place_from_actor(raw: str) -> Commune | None:
    try:
        data: Any = json.loads(raw or "{}")
    except ValueError:
        return None
    place = data.get("location") if isinstance(data, dict) else None
    if isinstance(place, list):
        place = next((p for p in place if isinstance(p, dict)), None)
    if not isinstance(place, dict):
        return None
    insee = place.get("inseeCode")
    if isinstance(insee, str):
        found = default_gazetteer().by_insee(insee)
        if found is not None and found.has_coordinates:
            return found
    lat, lon = place.get("latitude"), place.get("longitude")
    if isinstance(lat, bool) or isinstance(lon, bool):
        return None
    if (
        isinstance(lat, int | float)
        and isinstance(lon, int | float)
        and -90 <= lat <= 90
        and -180 <= lon <= 180
    ):
        return _point(round(float(lat), 2), round(float(lon), 2))
    return None


def bidder_place(
    actor_uri: str, *, session: Session, local_user_id: int | None, bid_raw: str | None = None
) -> Commune | None:
    """The commune of a bidder: their profile's here; else the ``location`` their bid carried (the
    ``Offer`` as received), else their actor's ``location``."""
    if local_user_id is not None:
        user = session.get(User, local_user_id)
        if user is None or not user.commune_insee:
            return None
        found = default_gazetteer().by_insee(user.commune_insee)
        return found if found is not None and found.has_coordinates else None
    from_bid = _place_from_actor(bid_raw) if bid_raw else None
    if from_bid is not None:
        return from_bid
    raw = session.exec(select(RemoteActor.raw).where(col(RemoteActor.uri) == actor_uri)).first()
    return _place_from_actor(raw) if raw else None


def standing_of(
    actor_uri: str,
    proposal: Proposal,
    *,
    session: Session,
    local_user_id: int | None,
    reputation: Reputation | None = None,
    bid_raw: str | None = None,
) -> Standing:
    """Reputation of ``actor_uri`` and their distance to ``proposal`` in km (None when unknown)."""
    here, there = (
        proposal_place(proposal),
        bidder_place(actor_uri, local_user_id=local_user_id, bid_raw=bid_raw, session=session),
    )
    distance = distance_km(here, there) if here is not None and there is not None else None
    return Standing(reputation=reputation or reputation_of(actor_uri, session=session), distance_km=distance)


@dataclass(frozen=True)
class BidView:
    """A bid as its proposal's author sees it: who, their reputation and how far they are."""

    bid: Bid
    bidder_uri: str
    bidder_name: str
    bidder_handle: str
    local: bool
    standing: Standing
    distance_km: float | None
    bidder_url: str = ""  # their profile on this node (``/people/<id>`` for someone of another server)

    @property
    def price(self) -> Price | None:
        return price_of(self.bid)


@dataclass(frozen=True)
class MyBid:
    """One of the caller's own bids with its proposal and, once accepted, its agreement."""

    bid: Bid
    proposal: Proposal
    agreement: Agreement | None


def visible_bid(user: User, bid_id: int, *, session: Session) -> tuple[Bid, Proposal]:
    """A bid seen by ``user``, its bidder or its proposal's author; :class:`NotFound` for anyone else."""
    bid = session.get(Bid, bid_id)
    if bid is not None:
        proposal = proposal_of(bid, session=session)
        if bid.local_bidder_id == user.id or is_author(proposal, user):
            return bid, proposal
    raise NotFound(MSG_NO_SUCH_BID)


def _bidder_names(bids: Sequence[Bid], *, session: Session) -> dict[str, tuple[str, str, str]]:
    """``uri -> (name, handle, profile path on this node)`` of the bidders."""
    names: dict[str, tuple[str, str, str]] = {}
    local_ids = [b.local_bidder_id for b in bids if b.local_bidder_id is not None]
    if local_ids:
        for user in session.exec(select(User).where(col(User.id).in_(local_ids))).all():
            for bid in bids:
                if bid.local_bidder_id == user.id:
                    names[bid.bidder_uri] = (user.name, "@" + user.username, f"/users/{user.username}")
    remote = [b.bidder_uri for b in bids if b.bidder_uri not in names]
    if remote:
        for actor in session.exec(select(RemoteActor).where(col(RemoteActor.uri).in_(remote))).all():
            names[actor.uri] = (actor.name or actor.handle, actor.handle, f"{REMOTE_PROFILE_PATH}/{actor.id}")
    return names


def bids_for(
    settings: Settings,
    author: User,
    proposal: Proposal,
    *,
    session: Session,
    on_behalf_of: LocalActor | None = None,
) -> list[BidView]:
    """The bids on ``author``'s proposal (or on the proposal of the group ``on_behalf_of``), active ones
    first (newest first), with each bidder's reputation and distance to the proposal's commune."""
    if not is_author(proposal, author, on_behalf_of):
        raise NotFound(MSG_NO_SUCH_PROPOSAL)
    bids = session.exec(
        select(Bid)
        .where(Bid.proposal_id == proposal.id)
        .order_by(col(Bid.created_at).desc(), col(Bid.id).desc())
    ).all()
    names = _bidder_names(bids, session=session)
    reputations = reputations_of([b.bidder_uri for b in bids], session=session)
    views = []
    for bid in sorted(bids, key=lambda b: b.state != ACTIVE):
        name, handle, url = names.get(bid.bidder_uri, (bid.bidder_uri, bid.bidder_uri, ""))
        standing = standing_of(
            bid.bidder_uri,
            proposal,
            local_user_id=bid.local_bidder_id,
            reputation=reputations[bid.bidder_uri],
            bid_raw=bid.raw,
            session=session,
        )
        views.append(
            BidView(
                bid=bid,
                bidder_uri=bid.bidder_uri,
                bidder_name=name,
                bidder_handle=handle,
                local=bid.local_bidder_id is not None,
                standing=standing,
                distance_km=standing.distance_km,
                bidder_url=url,
            )
        )
    return views


def my_bids(user: User, *, session: Session) -> list[MyBid]:
    """The bids ``user`` placed, newest first."""
    rows = session.exec(
        select(Bid, Proposal)
        .join(Proposal, col(Proposal.id) == col(Bid.proposal_id))
        .where(Bid.local_bidder_id == user.id)
        .order_by(col(Bid.created_at).desc(), col(Bid.id).desc())
    ).all()
    found = {
        a.bid_id: a
        for a in session.exec(
            select(Agreement).where(col(Agreement.bid_id).in_([b.id for b, _ in rows if b.id is not None]))
        ).all()
    }
    return [MyBid(bid, proposal, found.get(bid.id)) for bid, proposal in rows]


def own_bid(settings: Settings, user: User, proposal: Proposal, *, session: Session) -> Bid | None:
    """``user``'s active bid on ``proposal``, if any."""
    assert proposal.id is not None
    return active_bid(proposal.id, local.person(settings, user).uri, session=session)


def proposals_with_bids(author: User, *, session: Session) -> list[tuple[Proposal, int]]:
    """``author``'s proposals that received bids, with how many are active, newest bid first."""
    rows = session.exec(
        select(Proposal, Bid)
        .join(Bid, col(Bid.proposal_id) == col(Proposal.id))
        .where(Proposal.local_author_id == author.id, Proposal.origin == "")
        .order_by(col(Bid.created_at).desc())
    ).all()
    counts: dict[int, tuple[Proposal, int]] = {}
    for proposal, bid in rows:
        assert proposal.id is not None
        seen, active = counts.get(proposal.id, (proposal, 0))
        counts[proposal.id] = (seen, active + (bid.state == ACTIVE))
    return list(counts.values())
