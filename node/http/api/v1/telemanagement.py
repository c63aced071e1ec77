"""API operations of telemanagement: funders, beneficiaries and care plans (coordinators), visits
(coordinators plan, assign and cancel; a provider reads their own), clock events (the provider of the
visit, with the home's QR token or a manual reason; ``at`` carries the phone's time of an event kept
offline), anomalies of a month (coordinators).

A beneficiary's address, door code and health details go in and are sealed; they never come out of
the API (the coordinators' pages show them, the provider's day page shows the address and door code)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.core.errors import N_, PermissionDenied, ValidationFailed
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict
from node.http.runtime import node_of, run
from node.telemanagement import checks, clocking, given, plans, visits
from node.telemanagement.models import CarePlan, Visit

TAG = "telemanagement"
MONTH = {
    "schema": {"type": "string", "pattern": r"^(20\d\d|2100)-(0[1-9]|1[0-2])$"},
    "description": "YYYY-MM",
}


class FunderIn(Strict):
    name: str = Field(max_length=120)
    kind: Literal["apa", "pch", "pension", "mutual", "insurer", "private"]
    billing: Literal["direct", "beneficiary"]
    reference: str = Field(default="", max_length=60)
    siret: str = Field(default="", max_length=17)


class FunderOut(BaseModel):
    id: int
    name: str
    kind: str
    billing: str
    reference: str
    siret: str


class BeneficiaryIn(Strict):
    name: str = Field(max_length=120)
    commune: str = Field(default="", max_length=80)
    address: str = Field(default="", max_length=300, description="Sealed at rest, never returned")
    door_code: str = Field(default="", max_length=60, description="Sealed at rest, never returned")
    health: str = Field(default="", max_length=4000, description="Sealed at rest, never returned")


class BeneficiaryOut(BaseModel):
    id: int
    name: str
    commune: str


class TermsIn(Strict):
    valid_from: str = Field(max_length=10, description="YYYY-MM-DD")
    valid_until: str = Field(default="", max_length=10, description="YYYY-MM-DD, empty: open")
    hourly_rate: str = Field(max_length=12, description='Euros, at most two decimals ("24.58")')
    participation: str = Field(max_length=6, description="The beneficiary's share, percent, 0 to 100")
    hours: dict[str, str] = Field(
        max_length=26, description="Hours per month per activity (category slug), above 0 and at most 744"
    )


class PlanIn(TermsIn):
    beneficiary_id: int = Field(ge=0, le=2**63 - 1)
    funder_id: int = Field(ge=0, le=2**63 - 1)
    folder_number: str = Field(max_length=60)


class VersionOut(BaseModel):
    number: int
    valid_from: date
    valid_until: date | None
    hourly_rate_cents: int
    participation_percent_hundredths: int
    minutes_per_month: dict[str, int]


class PlanOut(BaseModel):
    id: int
    beneficiary_id: int
    funder_id: int
    folder_number: str
    versions: list[VersionOut]


class VisitIn(Strict):
    plan_id: int = Field(ge=0, le=2**63 - 1)
    category: str = Field(max_length=64)
    start: str = Field(max_length=32, description="Paris wall-clock time, YYYY-MM-DDTHH:MM")
    minutes: int = Field(ge=0, le=100_000)
    provider: str = Field(default="", max_length=30, description="Username, empty: not assigned")
    rule: str = Field(default="", max_length=300, description="RFC 5545 RRULE; empty: one visit")
    excluded: str = Field(default="", max_length=2000, description="Days without a visit, YYYY-MM-DD, commas")
    skip_holidays: bool = Field(default=False, description="A series: no visit on a French public holiday")


class VisitOut(BaseModel):
    id: int
    plan_id: int
    series_id: int | None
    category: str
    starts_at: datetime
    ends_at: datetime
    provider_id: int | None
    state: Literal["planned", "in_progress", "done", "cancelled"]
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    cancel_reason: str


class AssignIn(Strict):
    provider: str = Field(
        max_length=2048,
        description="A username here, or the address of a provider's actor on another node; empty: no one",
    )


class CancelIn(Strict):
    reason: Literal[
        "beneficiary_absent",
        "beneficiary_hospitalised",
        "beneficiary_cancelled",
        "provider_absent",
        "funder_stopped",
        "other",
    ]
    note: str = Field(default="", max_length=500, description="Required with reason other")


class ClockIn(Strict):
    visit_id: int = Field(ge=0, le=2**63 - 1)
    kind: Literal["in", "out"]
    token: str = Field(default="", max_length=100, description="The home's QR token (the end of its URL)")
    manual_reason: Literal["", "qr_missing", "qr_damaged", "camera_broken", "no_network", "other"] = ""
    at: datetime | None = Field(default=None, description="The phone's time of the event; default: now")
    pin: str = Field(default="", max_length=6, description="The home's PIN, given by the beneficiary")
    client_id: str | None = Field(
        default=None,
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The phone's id of the event: sent again, it is recorded once",
    )
    offline: bool = Field(default=False, description="Kept on the phone and sent when the network returned")
    latitude: float | None = Field(default=None, ge=-90, le=90, description="Only with the position check")
    longitude: float | None = Field(default=None, ge=-180, le=180, description="Never stored")


class ClockOut(BaseModel):
    visit_id: int
    kind: str
    at: datetime
    received_at: datetime
    method: str = Field(description="qr, pin or manual")
    offline: bool = Field(default=False, description="Recorded offline, at the phone's time")


class AnomalyOut(BaseModel):
    visit: VisitOut
    kinds: list[
        Literal[
            "late",
            "missing_check_in",
            "missing_check_out",
            "too_short",
            "outside_slot",
            "manual",
            "out_of_area",
        ]
    ]


Shape = TypeVar("Shape", bound=BaseModel)


def answer(shape: type[Shape], row: object, **given: object) -> Shape:
    """The answer ``shape`` made of ``row``'s attributes of the same names, and of the fields ``given``."""
    return shape.model_validate(
        {name: getattr(row, name) for name in shape.model_fields if name not in given} | given
    )


def _plan(session: Session, plan: CarePlan) -> PlanOut:
    versions = [
        answer(
            VersionOut,
            v,
            participation_percent_hundredths=v.participation_bp,
            minutes_per_month=plans.hours_of(session, v.id or 0),
        )
        for v in plans.versions(session, plan.id or 0)
    ]
    return answer(PlanOut, plan, versions=versions)


def _visit(row: Visit) -> VisitOut:
    return answer(VisitOut, row)


def offset_given(at: datetime | None) -> None:
    """Refuse a phone's time without its offset (422 naming ``at``): it could be any time zone's."""
    if at is not None and at.tzinfo is None:
        raise ValidationFailed(clocking.MSG_TIME, fields={"at": N_("Give the time with its offset.")})


def _terms(body: TermsIn) -> plans.Terms:
    return plans.parse_terms(
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        hourly_rate=body.hourly_rate,
        participation=body.participation,
        hours=body.hours,
    )


@operation(
    "GET",
    "/funders",
    summary="The funders (coordinators)",
    tag=TAG,
    auth="coordinator",
    response=FunderOut,
    list_response=True,
)
async def list_funders(request: Request, caller: User, _body: None) -> list[FunderOut]:
    return await run(request, lambda s: [answer(FunderOut, f) for f in plans.funders(s)])


@operation(
    "POST",
    "/funders",
    summary="Add a funder (coordinators)",
    tag=TAG,
    auth="coordinator",
    body=FunderIn,
    response=FunderOut,
    status=201,
)
async def add_funder(request: Request, caller: User, body: FunderIn) -> FunderOut:
    return await run(
        request, lambda s: answer(FunderOut, plans.create_funder(s, caller, **body.model_dump()))
    )


@operation(
    "POST",
    "/beneficiaries",
    summary="Add a beneficiary; address, door code and health sealed at rest (coordinators)",
    tag=TAG,
    auth="coordinator",
    body=BeneficiaryIn,
    response=BeneficiaryOut,
    status=201,
)
async def add_beneficiary(request: Request, caller: User, body: BeneficiaryIn) -> BeneficiaryOut:
    settings = node_of(request).settings
    return await run(
        request,
        lambda s: answer(BeneficiaryOut, plans.create_beneficiary(s, settings, caller, **body.model_dump())),
    )


@operation(
    "GET",
    "/plans",
    summary="The care plans and their versions (coordinators)",
    tag=TAG,
    auth="coordinator",
    response=PlanOut,
    list_response=True,
)
async def list_plans(request: Request, caller: User, _body: None) -> list[PlanOut]:
    return await run(request, lambda s: [_plan(s, p) for p in plans.plans(s)])


@operation(
    "POST",
    "/plans",
    summary="Create a care plan with its first version (coordinators)",
    tag=TAG,
    auth="coordinator",
    body=PlanIn,
    response=PlanOut,
    status=201,
    errors=(404, 409),
)
async def add_plan(request: Request, caller: User, body: PlanIn) -> PlanOut:
    def save(s: Session) -> PlanOut:
        plan = plans.create_plan(
            s,
            caller,
            beneficiary_id=body.beneficiary_id,
            funder_id=body.funder_id,
            folder_number=body.folder_number,
            terms=_terms(body),
        )
        return _plan(s, plan)

    return await run(request, save)


@operation(
    "POST",
    "/plans/{plan_id:int}/versions",
    summary="A new version of a plan from a later day; the current one ends the day before (coordinators)",
    tag=TAG,
    auth="coordinator",
    body=TermsIn,
    response=PlanOut,
    status=201,
)
async def add_version(request: Request, caller: User, body: TermsIn) -> PlanOut:
    plan_id: int = request.path_params["plan_id"]

    def save(s: Session) -> PlanOut:
        plans.add_version(s, caller, plan_id, _terms(body))
        return _plan(s, plans.plan_of(s, plan_id))

    return await run(request, save)


@operation(
    "GET",
    "/visits",
    summary="Visits of a month: all for coordinators, the caller's own otherwise",
    tag=TAG,
    response=VisitOut,
    list_response=True,
    query={"month": MONTH},
)
async def list_visits(request: Request, caller: User, _body: None) -> list[VisitOut]:
    month = request.query_params.get("month") or checks.current_month()
    _first, start, end = checks.month_bounds(month)
    own = None if caller.is_coordinator else caller.id
    return await run(
        request, lambda s: [_visit(line.visit) for line in visits.between(s, start, end, provider_id=own)]
    )


@operation(
    "POST",
    "/visits",
    summary="Plan a visit, or a series with an RFC 5545 rule (coordinators)",
    tag=TAG,
    auth="coordinator",
    body=VisitIn,
    response=VisitOut,
    list_response=True,
    status=201,
    errors=(404,),
)
async def add_visits(request: Request, caller: User, body: VisitIn) -> list[VisitOut]:
    def save(s: Session) -> list[VisitOut]:
        if body.rule:
            _series, made = visits.plan_series(
                s,
                caller,
                plan_id=body.plan_id,
                category=body.category,
                start=body.start,
                minutes=body.minutes,
                provider=body.provider,
                rule=body.rule,
                excluded=body.excluded,
                skip_holidays=body.skip_holidays,
            )
            return [_visit(v) for v in made]
        one = visits.plan_visit(
            s,
            caller,
            plan_id=body.plan_id,
            category=body.category,
            start=body.start,
            minutes=body.minutes,
            provider=body.provider,
        )
        return [_visit(one)]

    return await run(request, save)


@operation(
    "POST",
    "/visits/{visit_id:int}/assign",
    summary="Assign a planned visit (coordinators)",
    tag=TAG,
    auth="coordinator",
    body=AssignIn,
    response=VisitOut,
)
async def assign(request: Request, caller: User, body: AssignIn) -> VisitOut:
    visit_id: int = request.path_params["visit_id"]
    settings = node_of(request).settings
    return await run(request, lambda s: _visit(given.assign(s, settings, caller, visit_id, body.provider)))


@operation(
    "POST",
    "/visits/{visit_id:int}/cancel",
    summary="Cancel a planned visit with a reason code (coordinators)",
    tag=TAG,
    auth="coordinator",
    body=CancelIn,
    response=VisitOut,
)
async def cancel(request: Request, caller: User, body: CancelIn) -> VisitOut:
    visit_id: int = request.path_params["visit_id"]
    settings = node_of(request).settings
    return await run(
        request, lambda s: _visit(given.cancel(s, settings, caller, visit_id, body.reason, body.note))
    )


@operation(
    "POST",
    "/clock-events",
    summary="Check in or out of one's visit, with the home's QR token or a manual reason",
    tag=TAG,
    body=ClockIn,
    response=ClockOut,
    status=201,
    errors=(403, 404, 409),
)
async def clock(request: Request, caller: User, body: ClockIn) -> ClockOut:
    settings = node_of(request).settings
    offset_given(body.at)

    def save(s: Session) -> ClockOut:
        event = clocking.clock(
            s,
            settings,
            caller,
            body.visit_id,
            body.kind,
            token=body.token,
            manual_reason=body.manual_reason,
            at=body.at,
            pin=body.pin,
            offline=body.offline,
            client_id=body.client_id,
            position=(body.latitude, body.longitude)
            if body.latitude is not None and body.longitude is not None
            else None,
        )
        return answer(ClockOut, event)

    return await run(request, save)


@operation(
    "GET",
    "/anomalies",
    summary="The visits of a month with an anomaly (coordinators)",
    tag=TAG,
    auth="coordinator",
    response=AnomalyOut,
    list_response=True,
    query={"month": MONTH},
)
async def list_anomalies(request: Request, caller: User, _body: None) -> list[AnomalyOut]:
    if not caller.is_coordinator:
        raise PermissionDenied(N_("This requires a coordinator account."))
    settings = node_of(request).settings
    _first, start, end = checks.month_bounds(request.query_params.get("month") or checks.current_month())
    found = await run(request, lambda s: checks.anomalies(s, settings, start, end))
    return [AnomalyOut(visit=_visit(a.line.visit), kinds=a.kinds) for a in found]  # type: ignore[arg-type]


def operations() -> list[Operation]:
    return [
        list_funders,
        add_funder,
        add_beneficiary,
        list_plans,
        add_plan,
        add_version,
        list_visits,
        add_visits,
        assign,
        cancel,
        clock,
        list_anomalies,
    ]
