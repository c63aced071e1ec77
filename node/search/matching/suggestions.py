""" "Suggestions pour vous": the open demands a person could answer (when they offer services) and the
open offers that answer their own open demands, best first, scored as matches are; and the person's
matching settings (their radius, whether new matches notify them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from node.accounts.models import User
from node.core.errors import N_, ValidationFailed
from node.core.timeutil import utcnow
from node.market.models import Proposal
from node.search.matching.candidates import (
    Ranked,
    offers_for_demand,
    open_proposals,
    person_supply,
    providers_for_demand,
    radius_of,
)
from node.search.matching.models import MatchSettings
from node.settings import Settings

__all__ = [
    "MAX_RADIUS_KM",
    "MAX_SUGGESTIONS",
    "Suggestion",
    "Suggestions",
    "for_person",
    "settings_of",
    "update_settings",
]

MAX_SUGGESTIONS = 20
MAX_RADIUS_KM = 200
MSG_FIX = N_("Some fields need attention.")
MSG_RADIUS = N_("A radius from 1 to 200 km.")


@dataclass(frozen=True)
class Suggestion:
    proposal: Proposal
    ranked: Ranked
    for_proposal: Proposal | None = None  # the person's demand an offer answers


@dataclass(frozen=True)
class Suggestions:
    demands: list[Suggestion]  # demands the person could answer
    offers: list[Suggestion]  # offers that answer the person's demands


def for_person(settings: Settings, user: User, now: datetime, *, session: Session) -> Suggestions:
    """The suggestions of ``user``, at most :data:`MAX_SUGGESTIONS` of each kind."""
    demands: list[Suggestion] = []
    me = person_supply(settings, user, now, session=session)
    if me is not None:
        for demand in open_proposals("request", now, session=session):
            ranked = providers_for_demand(settings, demand, now, session=session, people=[me])
            if ranked:
                demands.append(Suggestion(proposal=demand, ranked=ranked[0]))
        demands.sort(key=lambda s: (-s.ranked.match.score, s.proposal.id or 0))
    offers: dict[int, Suggestion] = {}
    for own in open_proposals("request", now, session=session, local_only=True):
        if own.local_author_id != user.pk:
            continue
        for found in offers_for_demand(settings, own, now, session=session)[:MAX_SUGGESTIONS]:
            offer = found.proposal
            assert offer is not None and offer.id is not None
            before = offers.get(offer.id)
            if before is None or before.ranked.match.score < found.match.score:
                offers[offer.id] = Suggestion(proposal=offer, ranked=found, for_proposal=own)
    ordered = sorted(offers.values(), key=lambda s: (-s.ranked.match.score, s.proposal.id or 0))
    return Suggestions(demands=demands[:MAX_SUGGESTIONS], offers=ordered[:MAX_SUGGESTIONS])


def settings_of(settings: Settings, user: User, *, session: Session) -> tuple[int, bool, bool]:
    """``user``'s radius (theirs or the node's default), whether alerts are on, whether the radius is
    their own."""
    row = session.get(MatchSettings, user.pk)
    return radius_of(settings, row), bool(row and row.alerts), bool(row and row.radius_km)


def update_settings(user: User, *, radius_km: int | None, alerts: bool, session: Session) -> MatchSettings:
    """Set ``user``'s radius (None: the node's default) and whether new matches notify them."""
    if radius_km is not None and not 1 <= radius_km <= MAX_RADIUS_KM:
        raise ValidationFailed(MSG_FIX, fields={"radius_km": MSG_RADIUS})
    row = session.get(MatchSettings, user.pk) or MatchSettings(user_id=user.pk)
    row.radius_km = radius_km
    row.alerts = alerts
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row
