"""API operations of replacement by providers applying (:mod:`node.telemanagement.applications`): a
provider lists the visits offered to them and applies (applying again answers the same application);
the coordinators, or the beneficiary with an account here, give the visit to one applicant."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.groups.colleagues import colleagues_of
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict
from node.http.api.v1.telemanagement import TAG, answer
from node.http.runtime import node_of, run
from node.telemanagement import applications


class OfferOut(BaseModel):
    visit_id: int
    category: str
    starts_at: datetime
    ends_at: datetime
    commune: str
    applied: bool


class ApplicationOut(BaseModel):
    visit_id: int
    user_id: int
    state: str


class ChoiceIn(Strict):
    applicant_id: int


class ChoiceOut(BaseModel):
    visit_id: int
    provider_id: int


@operation(
    "GET",
    "/replacement-offers",
    summary="The visits waiting for a replacement that are offered to the caller",
    tag=TAG,
    response=OfferOut,
    list_response=True,
)
async def list_offers(request: Request, caller: User, _body: None) -> list[OfferOut]:
    def load(s: Session) -> list[OfferOut]:
        return [
            OfferOut(
                visit_id=offer.line.visit.id or 0,
                category=offer.line.visit.category,
                starts_at=offer.line.visit.starts_at,
                ends_at=offer.line.visit.ends_at,
                commune=offer.line.commune,
                applied=offer.application is not None,
            )
            for offer in applications.offers(s, caller, colleagues_of)
        ]

    return await run(request, load)


@operation(
    "POST",
    "/visits/{visit_id:int}/applications",
    summary="Apply for a visit offered to the caller (again: the same application)",
    tag=TAG,
    response=ApplicationOut,
    errors=(403, 404, 409),
)
async def apply(request: Request, caller: User, _body: None) -> ApplicationOut:
    visit_id: int = request.path_params["visit_id"]

    def save(s: Session) -> ApplicationOut:
        row = applications.apply(s, caller, visit_id, colleagues_of)
        return answer(ApplicationOut, row)

    return await run(request, save)


@operation(
    "POST",
    "/visits/{visit_id:int}/choice",
    summary="Give a waiting visit to one of its applicants (coordinators, or the beneficiary)",
    tag=TAG,
    body=ChoiceIn,
    response=ChoiceOut,
    errors=(403, 404, 409),
)
async def choose(request: Request, caller: User, body: ChoiceIn) -> ChoiceOut:
    visit_id: int = request.path_params["visit_id"]
    settings = node_of(request).settings

    def save(s: Session) -> ChoiceOut:
        done = applications.choose(s, settings, caller, visit_id, body.applicant_id)
        return ChoiceOut(visit_id=visit_id, provider_id=done.provider.id or 0)

    return await run(request, save)


def operations() -> list[Operation]:
    return [list_offers, apply, choose]
