"""API operations on a group at work: offers and answers in its name, its agreements and the member
assigned to each, confirmation, cancellation, dispute and evaluation for the group, its calendar and
month summary, and notices to its members. Who may act: coordinators (members read the agreements and
the calendar)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.core.errors import NotFound
from node.groups import calendar, records, service
from node.groups import work as group_work
from node.http.api import schemas
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict
from node.http.api.v1.agreements import AgreementOut, ReasonIn, agreement_out
from node.http.api.v1.bids import BidCreate, BidOut, bid_input, bid_out
from node.http.api.v1.evaluations import EvaluationCreate, EvaluationOut
from node.http.api.v1.groups import TAG, member_of, name_of
from node.http.api.v1.proposals import ProposalCreate, ProposalOut, merge, proposal_out
from node.http.runtime import language_of, node_of, run
from node.market.bids import service as bids
from node.market.evaluations.service import EvaluationInput
from node.market.proposals import service as proposals


class AssignIn(Strict):
    member: str | None = Field(default=None, description="The member's actor id; none: the group's rule")


class NoticeIn(Strict):
    text: str = schemas.text(1, 2000)


class EntryOut(BaseModel):
    start: datetime
    end: datetime
    member: str | None
    kind: str
    title: str
    state: str
    agreement_id: int | None


class MonthLineOut(BaseModel):
    member: str | None
    name: str
    agreements: int
    hours: Decimal
    amounts: dict[str, Decimal]
    contributions: dict[str, Decimal]


class CalendarOut(BaseModel):
    week: date
    entries: list[EntryOut]
    month: str
    lines: list[MonthLineOut]


@operation(
    "POST",
    "/groups/{name}/offers",
    summary="Publish an offer or a demand in the group's name (coordinators)",
    tag=TAG,
    body=ProposalCreate,
    response=ProposalOut,
    status=201,
    errors=(403, 422),
)
async def create_offer(request: Request, caller: User, body: ProposalCreate) -> ProposalOut:
    settings = node_of(request).settings
    lang = language_of(request, caller)
    data = merge(proposals.ProposalInput(), body.model_dump(exclude_unset=True, mode="json"))

    def save(session: Session) -> ProposalOut:
        group = service.group_named(name_of(request), session=session)
        return proposal_out(
            settings, group_work.publish_offer(settings, caller, group, data, session=session), lang
        )

    return await run(request, save)


@operation(
    "POST",
    "/groups/{name}/offers/{proposal_id:int}/withdraw",
    summary="Withdraw one of the group's open offers or demands (coordinators)",
    tag=TAG,
    response=ProposalOut,
    errors=(403, 404, 409),
)
async def withdraw_offer(request: Request, caller: User, _body: None) -> ProposalOut:
    settings = node_of(request).settings
    lang = language_of(request, caller)
    proposal_id = int(request.path_params["proposal_id"])

    def save(session: Session) -> ProposalOut:
        group = service.group_named(name_of(request), session=session)
        row = group_work.withdraw_offer(settings, caller, group, proposal_id, session=session)
        return proposal_out(settings, row, lang)

    return await run(request, save)


@operation(
    "POST",
    "/groups/{name}/bids",
    summary="Answer a proposal in the group's name (coordinators)",
    tag=TAG,
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
        group = service.group_named(name_of(request), session=session)
        return bid_out(group_work.answer(settings, caller, group, proposal, data, session=session), proposal)

    return await run(request, save)


@operation(
    "GET",
    "/groups/{name}/agreements",
    summary="The group's agreements (members only)",
    tag=TAG,
    response=AgreementOut,
    list_response=True,
    errors=(403, 404),
)
async def list_agreements(request: Request, caller: User, _body: None) -> list[AgreementOut]:
    settings = node_of(request).settings

    def load(session: Session) -> list[AgreementOut]:
        group = service.group_named(name_of(request), session=session)
        member_of(group, caller, session=session)
        return [
            agreement_out(session, settings, caller, a)
            for a in group_work.agreements_of(settings, group, session=session)
        ]

    return await run(request, load)


@operation(
    "POST",
    "/groups/{name}/agreements/{agreement_id:int}/assign",
    summary="Assign (or replace) the member who carries out an agreement (coordinators)",
    tag=TAG,
    body=AssignIn,
    errors=(403, 404, 409, 422),
)
async def assign(request: Request, caller: User, body: AssignIn) -> dict[str, Any]:
    settings = node_of(request).settings
    agreement_id = int(request.path_params["agreement_id"])

    def save(session: Session) -> dict[str, Any]:
        group = service.group_named(name_of(request), session=session)
        member_id = None
        if body.member is not None:
            row = records.member_by_uri(group, body.member, session=session)
            if row is None:
                raise NotFound(service.MSG_NO_MEMBER)
            member_id = row.id
        done = group_work.assign(settings, caller, group, agreement_id, member_id, session=session)
        return {
            "agreement": done.agreement_ap_id,
            "member": done.member_uri,
            "rule": done.rule,
            "commitment": done.commitment_ap_id,
        }

    return await run(request, save)


@operation(
    "POST",
    "/groups/{name}/agreements/{agreement_id:int}/confirm",
    summary="Confirm, for the group, that the service was done (coordinators)",
    tag=TAG,
    response=AgreementOut,
    errors=(403, 404, 409),
)
async def confirm(request: Request, caller: User, _body: None) -> AgreementOut:
    return await _on_agreement(
        request, lambda st, g, item, s: group_work.confirm(st, caller, g, item, session=s), caller
    )


async def _on_agreement(request: Request, act: Any, caller: User) -> AgreementOut:
    """Run ``act(settings, group, agreement_id, session)`` on one of the group's agreements; the
    agreement as it is then."""
    settings = node_of(request).settings
    agreement_id = int(request.path_params["agreement_id"])

    def save(session: Session) -> AgreementOut:
        group = service.group_named(name_of(request), session=session)
        return agreement_out(session, settings, caller, act(settings, group, agreement_id, session))

    return await run(request, save)


@operation(
    "POST",
    "/groups/{name}/agreements/{agreement_id:int}/cancel",
    summary="Cancel, for the group, one of its agreements (free until 24 hours before the start; "
    "coordinators)",
    tag=TAG,
    body=ReasonIn,
    response=AgreementOut,
    errors=(403, 404, 409, 422),
)
async def cancel(request: Request, caller: User, body: ReasonIn) -> AgreementOut:
    return await _on_agreement(
        request, lambda st, g, item, s: group_work.cancel(st, caller, g, item, body.reason, session=s), caller
    )


@operation(
    "POST",
    "/groups/{name}/agreements/{agreement_id:int}/dispute",
    summary="Dispute, for the group, one of its agreements (a reason is required; coordinators)",
    tag=TAG,
    body=ReasonIn,
    response=AgreementOut,
    errors=(403, 404, 409, 422),
)
async def dispute(request: Request, caller: User, body: ReasonIn) -> AgreementOut:
    return await _on_agreement(
        request,
        lambda st, g, item, s: group_work.dispute(st, caller, g, item, body.reason, session=s),
        caller,
    )


@operation(
    "POST",
    "/groups/{name}/agreements/{agreement_id:int}/evaluation",
    summary="Evaluate, for the group, the other party of a completed agreement (coordinators)",
    tag=TAG,
    body=EvaluationCreate,
    response=EvaluationOut,
    status=201,
    errors=(403, 404, 409, 422),
)
async def evaluate(request: Request, caller: User, body: EvaluationCreate) -> EvaluationOut:
    settings = node_of(request).settings
    agreement_id = int(request.path_params["agreement_id"])
    data = EvaluationInput(overall=body.overall, criteria=dict(body.criteria), comment=body.comment)

    def save(session: Session) -> EvaluationOut:
        group = service.group_named(name_of(request), session=session)
        row = group_work.evaluate(settings, caller, group, agreement_id, data, session=session)
        return EvaluationOut.of(row)

    return await run(request, save)


@operation(
    "GET",
    "/groups/{name}/calendar",
    summary="The week of the group's work and each member's month (members)",
    tag=TAG,
    response=CalendarOut,
    errors=(403, 404),
    query={
        "week": {"type": "string", "format": "date"},
        "month": {"type": "string", "description": "YYYY-MM"},
    },
)
async def get_calendar(request: Request, caller: User, _body: None) -> CalendarOut:
    settings = node_of(request).settings
    monday = calendar.monday_of(calendar.parse_day(request.query_params.get("week", "")))
    year, month = calendar.parse_month(request.query_params.get("month", ""))

    def load(session: Session) -> CalendarOut:
        group = service.group_named(name_of(request), session=session)
        member = member_of(group, caller, session=session)
        only = (
            member.member_uri
            if group.members_see == "own" and member.role not in records.COORDINATING
            else None
        )
        week = calendar.week(settings, group, monday, session=session, only=only)
        lines = [
            line
            for line in calendar.month(settings, group, year, month, session=session)
            if only is None or line.member_uri == only
        ]
        return CalendarOut(
            week=monday,
            entries=[
                EntryOut(
                    start=e.start,
                    end=e.end,
                    member=e.member_uri or None,
                    kind=e.kind,
                    title=e.title,
                    state=e.state,
                    agreement_id=e.agreement_id,
                )
                for d in week.days
                for e in d.entries
            ],
            month=f"{year:04d}-{month:02d}",
            lines=[
                MonthLineOut(
                    member=line.member_uri or None,
                    name=line.name,
                    agreements=line.agreements,
                    hours=line.hours,
                    amounts=line.amounts,
                    contributions=line.contributions,
                )
                for line in lines
            ],
        )

    return await run(request, load)


@operation(
    "POST",
    "/groups/{name}/notices",
    summary="Send a notice to the members only (coordinators)",
    tag=TAG,
    body=NoticeIn,
    status=201,
    errors=(403, 422),
)
async def post_notice(request: Request, caller: User, body: NoticeIn) -> dict[str, Any]:
    settings = node_of(request).settings

    def save(session: Session) -> dict[str, Any]:
        row = service.post_notice(
            settings,
            caller,
            service.group_named(name_of(request), session=session),
            body.text,
            session=session,
        )
        return {"id": row.ap_id, "content": row.content}

    return await run(request, save)


def operations() -> list[Operation]:
    return [
        create_offer,
        withdraw_offer,
        create_bid,
        list_agreements,
        assign,
        confirm,
        cancel,
        dispute,
        evaluate,
        get_calendar,
        post_notice,
    ]
