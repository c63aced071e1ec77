"""API operations of matching: the caller's suggestions (demands they could answer, offers that answer
their demands, each with its score and reasons) and their matching settings (radius, alerts)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.core.timeutil import utcnow
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict
from node.http.api.v1.proposals import ProposalOut, proposal_out
from node.http.runtime import language_of, node_of, run
from node.search.matching import suggestions
from node.search.matching.scoring import reasons


class MatchOut(BaseModel):
    proposal: ProposalOut
    score: float = Field(description="0 to 1, the weighted sum of docs/matching.md")
    reasons: list[str] = Field(description='why, in the caller\'s language: "3 km", "disponible le mardi"...')
    answers: int | None = Field(description="for an offer: the id of the caller's demand it answers")


class MatchesOut(BaseModel):
    demands: list[MatchOut] = Field(description="open demands the caller could answer, best first")
    offers: list[MatchOut] = Field(description="open offers that answer the caller's demands, best first")


class MatchSettingsIn(Strict):
    radius_km: int | None = Field(
        default=None,
        ge=1,
        le=suggestions.MAX_RADIUS_KM,
        description="how far the caller goes to provide a service; null: the node's default",
    )
    alerts: bool = Field(description="whether new matching proposals notify the caller")


class MatchSettingsOut(BaseModel):
    radius_km: int = Field(description="the caller's radius, or the node's default")
    own_radius: bool = Field(description="whether the radius is the caller's own")
    alerts: bool


@operation(
    "GET",
    "/matches",
    summary="Suggestions for the caller: demands they could answer, offers that answer their demands",
    tag="matching",
    response=MatchesOut,
)
async def list_matches(request: Request, caller: User, _body: None) -> MatchesOut:
    settings = node_of(request).settings
    lang = language_of(request, caller)

    def load(session: Session) -> MatchesOut:
        found = suggestions.for_person(settings, caller, utcnow(), session=session)

        def out(item: suggestions.Suggestion) -> MatchOut:
            return MatchOut(
                proposal=proposal_out(settings, item.proposal, lang),
                score=item.ranked.match.score,
                reasons=reasons(item.ranked.match, lang),
                answers=item.for_proposal.id if item.for_proposal is not None else None,
            )

        return MatchesOut(demands=[out(s) for s in found.demands], offers=[out(s) for s in found.offers])

    return await run(request, load)


def _settings_out(request: Request, caller: User, session: Session) -> MatchSettingsOut:
    radius, alerts, own = suggestions.settings_of(node_of(request).settings, caller, session=session)
    return MatchSettingsOut(radius_km=radius, own_radius=own, alerts=alerts)


@operation(
    "GET",
    "/matches/settings",
    summary="The caller's matching settings: radius and alerts",
    tag="matching",
    response=MatchSettingsOut,
)
async def get_match_settings(request: Request, caller: User, _body: None) -> MatchSettingsOut:
    return await run(request, lambda s: _settings_out(request, caller, s))


@operation(
    "PUT",
    "/matches/settings",
    summary="Set the caller's radius and whether new matches notify them",
    tag="matching",
    body=MatchSettingsIn,
    response=MatchSettingsOut,
)
async def set_match_settings(request: Request, caller: User, body: MatchSettingsIn) -> MatchSettingsOut:
    def save(session: Session) -> MatchSettingsOut:
        suggestions.update_settings(caller, radius_km=body.radius_km, alerts=body.alerts, session=session)
        return _settings_out(request, caller, session)

    return await run(request, save)


def operations() -> list[Operation]:
    return [list_matches, get_match_settings, set_match_settings]
