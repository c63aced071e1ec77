"""API operations on offers and demands: post, list and search (public), read, change, withdraw.

Amounts are exact decimals, written as JSON strings in answers (``"18.50"``) and accepted as strings
or numbers. Dates are RFC 3339; a date-time without an offset in a schedule is the commune's local
time. ``id`` is this node's id of a proposal, local or received from another node; ``ap_id`` its
ActivityPub id.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.core.errors import N_, NotFound, ValidationFailed
from node.core.timeutil import utcnow
from node.http.api.framework import Operation, operation
from node.http.api.schemas import CategorySlug, DecimalText, Strict, text
from node.http.runtime import language_of, node_of, run
from node.market import schedule as sched
from node.market.models import Proposal
from node.market.money import CENT, EUR_TOTAL_MAX, HOURS_MAX, HOURS_MIN
from node.market.proposals import photos as proposal_photos
from node.market.proposals import service as proposals
from node.market.proposals.input import LIFETIME_MAX_DAYS, TITLE_MAX, TITLE_MIN
from node.market.proposals.records import MAX_PAGE, parse_filters, price_of, schedule_of
from node.places.gazetteer import DEPARTEMENT_CODE, INSEE_CODE, POSTAL_CODE
from node.search import listing
from node.settings import Settings

Day = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
Hours = Annotated[Decimal, DecimalText.between(HOURS_MIN, HOURS_MAX, places=2)]
Amount = Annotated[Decimal, DecimalText.between(Decimal(0), EUR_TOTAL_MAX, places=2, above=True)]
"""At most 20,000 (the largest bound: those of a price per hour and of time tokens depend on the
proposal's basis and currency, the service's to check)."""


class ScheduleIn(Strict):
    """A time window (``start``, ``end``) or a weekly recurrence (the other fields)."""

    kind: Literal["window", "weekly"]
    start: str | None = Field(default=None, max_length=40, description="ISO 8601 date-time")
    end: str | None = Field(default=None, max_length=40, description="ISO 8601 date-time")
    weekdays: list[Day] | None = Field(default=None, max_length=7)
    start_time: str | None = Field(default=None, max_length=8, description="HH:MM, local time")
    end_time: str | None = Field(default=None, max_length=8, description="HH:MM; not after start: next day")
    first_day: str | None = Field(default=None, max_length=10, description="YYYY-MM-DD")
    last_day: str | None = Field(default=None, max_length=10, description="YYYY-MM-DD, at most 52 weeks on")


class ProposalChange(Strict):
    """Fields of a proposal; on PATCH, absent fields keep their value, and so does null for the fields a
    proposal cannot be without (title, category, postal code); ``schedule: null`` removes the schedule."""

    title: str | None = text(TITLE_MIN, TITLE_MAX, default=None, description="Plain text")
    description: str | None = Field(default=None, max_length=20_000, description="HTML, sanitised")
    category: CategorySlug | None = Field(default=None, description="a slug of /api/v1/categories")
    postal_code: str | None = Field(default=None, pattern=POSTAL_CODE)
    commune_name: str | None = Field(default=None, max_length=200)
    schedule: ScheduleIn | None = None
    quantity_hours: Hours | None = None
    price: Amount | None = Field(
        default=None,
        description="a price for offers, a budget for demands, at most two decimals: up to 500 € or 10 "
        "hours of tokens per hour, 20,000 € or 200 hours of tokens in total",
    )
    price_basis: Literal["per_hour", "total"] | None = None
    currency: Literal["EUR", "HOUR"] | None = Field(
        default=None, description="EUR on market nodes; HOUR (time tokens) or EUR on cooperative nodes"
    )
    free: bool | None = Field(default=None, description="a volunteer service, without payment")
    lifetime_days: int | None = Field(
        default=None, ge=1, le=LIFETIME_MAX_DAYS, description="Days from now (30 on creation)"
    )
    bidding_deadline: str | None = Field(
        default=None, max_length=40, description="demands on market nodes: bids until this date-time"
    )


class ProposalCreate(ProposalChange):
    """A new proposal: its purpose, title, category and postal code are required."""

    purpose: Literal["offer", "request"]
    title: str = text(TITLE_MIN, TITLE_MAX, description="Plain text")
    category: CategorySlug = Field(description="a slug of /api/v1/categories")
    postal_code: str = Field(pattern=POSTAL_CODE)


class CommuneOut(BaseModel):
    insee: str | None
    name: str
    postal_code: str
    departement: str


class ScheduleOut(BaseModel):
    kind: Literal["window", "weekly"]
    start: datetime | None = None
    end: datetime | None = None
    weekdays: list[str] | None = None
    start_time: str | None = None
    end_time: str | None = None
    first_day: date | None = None
    last_day: date | None = None
    timezone: str | None = None
    summary: str


class PriceOut(BaseModel):
    amount: Decimal | None = Field(description="None: left to the answers")
    currency: str
    basis: str


class PhotoOut(BaseModel):
    url: str = Field(description="the picture on this node (JPEG, under /photos/)")
    alt: str = Field(description="what the picture shows, for people who cannot see it")


class ProposalOut(BaseModel):
    id: int
    ap_id: str
    url: str = Field(description="the proposal's page on this node")
    local: bool
    origin: str = Field(description="the node the proposal comes from")
    author: str
    purpose: str
    title: str
    description: str
    category: str | None
    commune: CommuneOut | None
    schedule: ScheduleOut | None
    quantity_hours: Decimal | None
    price: PriceOut | None = Field(description="None: a free service")
    bidding_deadline: datetime | None
    expires_at: datetime | None
    state: str
    published_at: datetime
    updated_at: datetime
    photos: list[PhotoOut] = Field(
        description="its photos (at most 4), this node's own or, for another node's proposal, the copies "
        "this node made of them (a photo not copied yet is not listed)"
    )


class ProposalList(BaseModel):
    items: list[ProposalOut]
    page: int
    next_page: int | None


def _schedule_out(row: Proposal, lang: str) -> ScheduleOut | None:
    schedule = schedule_of(row)
    if isinstance(schedule, sched.TimeWindow):
        return ScheduleOut(
            kind="window", start=schedule.start, end=schedule.end, summary=sched.summary(schedule, lang)
        )
    if isinstance(schedule, sched.WeeklyRecurrence):
        return ScheduleOut(
            kind="weekly",
            weekdays=[sched.DAY_CODES[d] for d in schedule.weekdays],
            start_time=schedule.start_time.isoformat("minutes"),
            end_time=schedule.end_time.isoformat("minutes"),
            first_day=schedule.first_day,
            last_day=schedule.last_day,
            timezone=schedule.tz,
            summary=sched.summary(schedule, lang),
        )
    return None


def _cents(value: Decimal | None) -> Decimal | None:
    return value.quantize(CENT) if value is not None else None


def proposal_out(settings: Settings, row: Proposal, lang: str = "fr") -> ProposalOut:
    """The API shape of a proposal."""
    assert row.id is not None
    price = price_of(row)
    return ProposalOut(
        id=row.id,
        ap_id=row.ap_id,
        url=row.ap_id if row.origin == "" else settings.url(f"/proposals/remote/{row.id}"),
        local=row.origin == "",
        origin=row.origin or settings.domain,
        author=row.author_uri,
        purpose=row.purpose,
        title=row.title,
        description=row.description,
        category=row.category,
        commune=CommuneOut(
            insee=row.commune_insee,
            name=row.commune_name,
            postal_code=row.postal_code,
            departement=row.departement,
        )
        if row.commune_name
        else None,
        schedule=_schedule_out(row, lang),
        quantity_hours=_cents(row.quantity_hours),
        price=PriceOut(
            amount=_cents(price.amount) if price else None,
            currency=row.price_currency,
            basis=row.price_basis or "per_hour",
        )
        if row.price_currency
        else None,
        bidding_deadline=row.bidding_deadline,
        expires_at=row.expires_at,
        state=row.state,
        published_at=row.published_at,
        updated_at=row.updated_at,
        photos=[
            PhotoOut(url=settings.url(photo.path), alt=photo.name) for photo in proposal_photos.photos_of(row)
        ],
    )


def _text(value: object) -> str:
    return "" if value is None else format(value, "f") if isinstance(value, Decimal) else str(value)


def merge(data: proposals.ProposalInput, changes: dict[str, Any]) -> proposals.ProposalInput:
    """``data`` with the fields given in a request body (a dump with ``exclude_unset``)."""
    for name in ("purpose", "title", "description", "category", "postal_code", "commune_name"):
        if name in changes and (changes[name] is not None or name in ("description", "commune_name")):
            setattr(data, name, changes[name] or "")
    if changes.get("postal_code") is not None and "commune_name" not in changes:
        data.commune_name = ""
    if "schedule" in changes:
        schedule = changes["schedule"] or {"kind": "none"}
        data.schedule_kind = schedule["kind"]
        for name in ("start", "end", "start_time", "end_time", "first_day", "last_day"):
            setattr(data, name, schedule.get(name) or "")
        data.weekdays = list(schedule.get("weekdays") or [])
    if "quantity_hours" in changes:
        data.quantity = _text(changes["quantity_hours"])
    if "price" in changes:
        data.price = _text(changes["price"])
        if changes["price"] is not None and "free" not in changes:
            data.free = False
    for name in ("price_basis", "currency"):
        if name in changes:
            setattr(data, name, changes[name] or "")
    if "free" in changes:
        data.free = bool(changes["free"])
    if "lifetime_days" in changes:
        data.lifetime_days = _text(changes["lifetime_days"])
    if "bidding_deadline" in changes:
        data.bidding_deadline = changes["bidding_deadline"] or ""
    return data


def _visible_row(session: Session, proposal_id: int) -> Proposal:
    row = proposals.get_by_id(proposal_id, session=session)
    if row is None or not proposals.is_visible(row, session=session):
        raise NotFound(N_("No such proposal."))
    return row


@operation(
    "POST",
    "/proposals",
    summary="Post an offer or a demand",
    tag="proposals",
    body=ProposalCreate,
    response=ProposalOut,
    status=201,
    errors=(403,),
)
async def create_proposal(request: Request, caller: User, body: ProposalCreate) -> ProposalOut:
    settings = node_of(request).settings
    lang = language_of(request, caller)
    data = merge(proposals.ProposalInput(), body.model_dump(exclude_unset=True, mode="json"))

    def save(session: Session) -> ProposalOut:
        return proposal_out(settings, proposals.create(settings, caller, data, session=session), lang)

    return await run(request, save)


@operation(
    "GET",
    "/proposals",
    summary="Open offers and demands, local and from other nodes, newest first (20 a page)",
    tag="proposals",
    auth="none",
    response=ProposalList,
    errors=(422,),
    query={
        "purpose": {"schema": {"type": "string", "enum": ["offer", "request"]}},
        "category": {"schema": {"type": "string", "enum": [c.value for c in CategorySlug]}},
        "commune": {
            "description": "INSEE code of a commune",
            "schema": {"type": "string", "pattern": INSEE_CODE},
        },
        "departement": {
            "description": "Code of a département, e.g. 93",
            "schema": {"type": "string", "pattern": DEPARTEMENT_CODE},
        },
        "origin": {"schema": {"type": "string", "enum": ["local", "remote", "all"]}},
        "q": {
            "description": "Words, as /search reads them (French stems, accents ignored, synonyms of the "
            "sector, the last word a prefix), in the title, description, category, commune or author"
        },
        "page": {"schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
    },
)
async def list_proposals(request: Request, caller: User | None, _body: None) -> ProposalList:
    filters, page, errors = parse_filters(request.query_params)
    if errors:
        raise ValidationFailed(N_("Some fields need attention."), fields=errors)
    settings = node_of(request).settings
    lang = language_of(request, caller)

    def load(session: Session) -> ProposalList:
        if filters.query:  # through the full-text index, as /search does
            found = listing.page_of(filters, now=utcnow(), page=page, session=session)
        else:
            found = proposals.search(filters, now=utcnow(), page=page, session=session)
        return ProposalList(
            items=[proposal_out(settings, row, lang) for row in found.items],
            page=found.page,
            next_page=found.page + 1 if found.has_next else None,
        )

    return await run(request, load)


@operation(
    "GET",
    "/me/proposals",
    summary="The caller's own proposals, in every state",
    tag="proposals",
    response=ProposalOut,
    list_response=True,
)
async def my_proposals(request: Request, caller: User, _body: None) -> list[ProposalOut]:
    settings = node_of(request).settings
    lang = language_of(request, caller)

    def load(session: Session) -> list[ProposalOut]:
        return [proposal_out(settings, row, lang) for row in proposals.of_author(caller.pk, session=session)]

    return await run(request, load)


@operation(
    "GET",
    "/proposals/{proposal_id:int}",
    summary="One proposal, by its id on this node",
    tag="proposals",
    auth="none",
    response=ProposalOut,
    errors=(404,),
)
async def get_proposal(request: Request, caller: User | None, _body: None) -> ProposalOut:
    settings = node_of(request).settings
    lang = language_of(request, caller)
    proposal_id = int(request.path_params["proposal_id"])
    return await run(request, lambda s: proposal_out(settings, _visible_row(s, proposal_id), lang))


@operation(
    "PATCH",
    "/proposals/{proposal_id:int}",
    summary="Change one's open proposal (the deal is frozen once answers arrived)",
    tag="proposals",
    body=ProposalChange,
    response=ProposalOut,
    errors=(403, 404, 409),
)
async def update_proposal(request: Request, caller: User, body: ProposalChange) -> ProposalOut:
    settings = node_of(request).settings
    lang = language_of(request, caller)
    proposal_id = int(request.path_params["proposal_id"])

    def save(session: Session) -> ProposalOut:
        row = _visible_row(session, proposal_id)
        data = merge(proposals.input_of(row), body.model_dump(exclude_unset=True, mode="json"))
        return proposal_out(settings, proposals.update(settings, caller, row, data, session=session), lang)

    return await run(request, save)


@operation(
    "POST",
    "/proposals/{proposal_id:int}/withdraw",
    summary="Withdraw one's open proposal",
    tag="proposals",
    response=ProposalOut,
    errors=(403, 404, 409),
)
async def withdraw_proposal(request: Request, caller: User, _body: None) -> ProposalOut:
    settings = node_of(request).settings
    lang = language_of(request, caller)
    proposal_id = int(request.path_params["proposal_id"])

    def save(session: Session) -> ProposalOut:
        row = _visible_row(session, proposal_id)
        return proposal_out(settings, proposals.withdraw(settings, caller, row, session=session), lang)

    return await run(request, save)


def operations() -> list[Operation]:
    """The operations of this resource, in the order they are served."""
    return [create_proposal, list_proposals, my_proposals, get_proposal, update_proposal, withdraw_proposal]
