"""API operations on bids: answer a proposal (given by its ActivityPub id, on this node or another),
list one's bids or the bids on one's proposal, withdraw, accept, reject. Bids are sealed: a bid is
visible to its bidder and to the proposal's author only (404 for anyone else)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.core.errors import N_, ValidationFailed
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict, text
from node.http.api.v1.agreements import AgreementOut, agreement_out
from node.http.api.v1.evaluations import ReputationOut
from node.http.api.v1.proposals import Amount, Hours, PriceOut
from node.http.runtime import node_of, run
from node.market import schedule as sched
from node.market.agreements.documents import stored_schedule
from node.market.bids import service as bids
from node.market.bids import views as bid_views
from node.market.models import Bid, Proposal
from node.settings import Settings

MSG_WINDOW = N_("Give both the start and the end, or neither.")


class BidCreate(Strict):
    proposal: str = text(8, 2048, description="The proposal's ActivityPub id")
    amount: Amount | None = Field(
        default=None, description="Your price in the proposal's currency; empty: the proposal's own price"
    )
    basis: Literal["per_hour", "total"] | None = Field(default=None, description="Default: the proposal's")
    hours: Hours | None = Field(default=None, description="Hours of service; default: the proposal's")
    start: datetime | None = Field(
        default=None, description="Proposed start (with end); default: the proposal's"
    )
    end: datetime | None = None
    message: str = Field(default="", max_length=4000, description="Plain text, at most 1,000 characters")


class BidReason(Strict):
    reason: str = Field(default="", max_length=2000, description="Told to the bidder; at most 500 characters")


class BidOut(BaseModel):
    id: int
    offer: str = Field(description="The ActivityPub id of the Offer")
    proposal: str = Field(description="The proposal's ActivityPub id")
    proposal_id: int
    proposal_title: str
    bidder: str = Field(description="The bidder's actor URI")
    bidder_name: str | None = None
    state: str
    price: PriceOut | None
    hours: Decimal | None
    start: datetime | None
    end: datetime | None
    message: str
    reject_reason: str
    created_at: datetime
    agreement_id: int | None = None
    reputation: ReputationOut | None = Field(default=None, description="For the proposal's author")
    distance_km: float | None = Field(default=None, description="For the proposal's author, between communes")


def _window(schedule_text: str | None) -> tuple[datetime | None, datetime | None]:
    schedule = stored_schedule(schedule_text)
    first = sched.first_window(schedule) if schedule is not None else None
    return (first.start, first.end) if first is not None else (None, None)


def bid_out(
    bid: Bid,
    proposal: Proposal,
    *,
    agreement_id: int | None = None,
    view: bid_views.BidView | None = None,
) -> BidOut:
    price = bids.price_of(bid)
    start, end = _window(bid.schedule)
    assert bid.id is not None and proposal.id is not None
    return BidOut(
        id=bid.id,
        offer=bid.ap_id,
        proposal=proposal.ap_id,
        proposal_id=proposal.id,
        proposal_title=proposal.title,
        bidder=bid.bidder_uri,
        bidder_name=view.bidder_name if view else None,
        state=bid.state,
        price=PriceOut(amount=price.amount, currency=price.currency, basis=price.basis) if price else None,
        hours=bid.quantity_hours,
        start=start,
        end=end,
        message=bid.message,
        reject_reason=bid.reject_reason,
        created_at=bid.created_at,
        agreement_id=agreement_id,
        reputation=ReputationOut.of(bid.bidder_uri, view.standing.reputation) if view else None,
        distance_km=round(view.distance_km, 1) if view and view.distance_km is not None else None,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def bid_input(body: BidCreate) -> bids.BidInput:
    """The service's input from the API body (a proposed window needs both ends)."""
    schedule: sched.Schedule | None = None
    if (body.start is None) != (body.end is None):
        raise ValidationFailed(MSG_WINDOW, fields={"end" if body.end is None else "start": MSG_WINDOW})
    if body.start is not None and body.end is not None:
        schedule = sched.TimeWindow(_aware(body.start), _aware(body.end))
    return bids.BidInput(
        amount=body.amount, basis=body.basis, hours=body.hours, schedule=schedule, message=body.message
    )


@operation(
    "POST",
    "/bids",
    summary="Answer a proposal (a bid, seen by its author only)",
    tag="bids",
    body=BidCreate,
    response=BidOut,
    status=201,
    errors=(403, 404, 409),
)
async def create_bid(request: Request, caller: User, body: BidCreate) -> BidOut:
    settings = node_of(request).settings
    data = bid_input(body)

    def save(session: Session) -> BidOut:
        proposal = bids.proposal_by_ap_id(body.proposal, session=session)
        return bid_out(bids.place_bid(settings, caller, proposal, data, session=session), proposal)

    return await run(request, save)


def _list(session: Session, settings: Settings, caller: User, proposal_ap_id: str | None) -> list[BidOut]:
    if proposal_ap_id:
        proposal = bids.proposal_by_ap_id(proposal_ap_id, session=session)
        views = bid_views.bids_for(settings, caller, proposal, session=session)
        return [bid_out(v.bid, proposal, view=v) for v in views]
    return [
        bid_out(line.bid, line.proposal, agreement_id=line.agreement.id if line.agreement else None)
        for line in bid_views.my_bids(caller, session=session)
    ]


@operation(
    "GET",
    "/bids",
    summary="The caller's bids, or the bids on one of the caller's proposals",
    tag="bids",
    response=BidOut,
    list_response=True,
    errors=(404,),
    query={
        "proposal": {"description": "ActivityPub id of one of the caller's proposals: the bids it received"}
    },
)
async def list_bids(request: Request, caller: User, _body: None) -> list[BidOut]:
    settings = node_of(request).settings
    proposal = request.query_params.get("proposal")
    return await run(request, _list, settings, caller, proposal)


def _one(session: Session, settings: Settings, caller: User, bid_id: int) -> BidOut:
    bid, proposal = bid_views.visible_bid(caller, bid_id, session=session)
    if bids.is_author(proposal, caller):
        view = next(
            v for v in bid_views.bids_for(settings, caller, proposal, session=session) if v.bid.id == bid.id
        )
        return bid_out(bid, proposal, view=view)
    mine = next((line for line in bid_views.my_bids(caller, session=session) if line.bid.id == bid.id), None)
    agreement_id = mine.agreement.id if mine and mine.agreement else None
    return bid_out(bid, proposal, agreement_id=agreement_id)


@operation(
    "GET",
    "/bids/{bid_id:int}",
    summary="One bid (its bidder and the proposal's author only)",
    tag="bids",
    response=BidOut,
    errors=(404,),
)
async def get_bid(request: Request, caller: User, _body: None) -> BidOut:
    settings = node_of(request).settings
    return await run(request, _one, settings, caller, int(request.path_params["bid_id"]))


@operation(
    "POST",
    "/bids/{bid_id:int}/withdraw",
    summary="Withdraw one's active bid",
    tag="bids",
    response=BidOut,
    errors=(404, 409),
)
async def withdraw_bid(request: Request, caller: User, _body: None) -> BidOut:
    settings = node_of(request).settings
    bid_id = int(request.path_params["bid_id"])

    def save(session: Session) -> BidOut:
        bid, proposal = bid_views.visible_bid(caller, bid_id, session=session)
        return bid_out(bids.withdraw_bid(settings, caller, bid, session=session), proposal)

    return await run(request, save)


@operation(
    "POST",
    "/bids/{bid_id:int}/accept",
    summary="Choose a bid on one's proposal: the agreement is made (a demand closes, other bids declined)",
    tag="bids",
    response=AgreementOut,
    status=201,
    errors=(404, 409),
)
async def accept_bid(request: Request, caller: User, _body: None) -> AgreementOut:
    settings = node_of(request).settings
    bid_id = int(request.path_params["bid_id"])

    def save(session: Session) -> AgreementOut:
        bid, _ = bid_views.visible_bid(caller, bid_id, session=session)
        agreement = bids.accept_bid(settings, caller, bid, session=session)
        return agreement_out(session, settings, caller, agreement)

    return await run(request, save)


@operation(
    "POST",
    "/bids/{bid_id:int}/reject",
    summary="Decline a bid on one's proposal, with a reason told to the bidder",
    tag="bids",
    body=BidReason,
    response=BidOut,
    errors=(404, 409),
)
async def reject_bid(request: Request, caller: User, body: BidReason) -> BidOut:
    settings = node_of(request).settings
    bid_id = int(request.path_params["bid_id"])

    def save(session: Session) -> BidOut:
        bid, proposal = bid_views.visible_bid(caller, bid_id, session=session)
        return bid_out(bids.reject_bid(settings, caller, bid, body.reason, session=session), proposal)

    return await run(request, save)


def operations() -> list[Operation]:
    """The operations of this resource, in the order they are served."""
    return [create_bid, list_bids, get_bid, withdraw_bid, accept_bid, reject_bid]
