"""API operations on agreements: list one's agreements, read one (with its timeline, the actions
allowed now and the contact details the parties shared, for the parties only), confirm completion,
cancel, dispute, share contact details; coordinators settle disputes on the node that holds them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.activitypub.actors import local
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict
from node.http.api.v1.proposals import PriceOut
from node.http.runtime import node_of, run
from node.market import schedule as sched
from node.market.agreements import contacts as agreement_contacts
from node.market.agreements import parties as agreement_parties
from node.market.agreements import service as agreements
from node.market.agreements.documents import stored_schedule
from node.market.agreements.parties import agreement_for, agreements_of, is_holder, role_of, timeline
from node.market.bids import service as bids
from node.market.models import Agreement
from node.settings import Settings
from node.timebank import payments as timebank_payments
from node.timebank.policy import to_hours


class ReasonIn(Strict):
    reason: str = Field(default="", max_length=2000, description="Plain text, at most 500 characters")


class ContactIn(Strict):
    address: str = Field(default="", max_length=1200, description="At most 300 characters")
    phone: str = Field(default="", max_length=64)


class SettlementIn(Strict):
    outcome: Literal["completed", "cancelled"]
    note: str = Field(default="", max_length=2000)


class ContactOut(BaseModel):
    address: str
    phone: str


class EventOut(BaseModel):
    kind: str
    actor: str
    at: datetime
    note: str


PaymentStateOut = Literal["upcoming", "due", "awaited", "waiting", "clearing", "paid", "refused", "reversed"]


class PaymentOut(BaseModel):
    state: PaymentStateOut = Field(
        description="upcoming: paid on completion; due: starting; awaited: the requester's node pays; "
        "waiting: a limit holds it back; clearing: offered to the provider's node, no answer yet; "
        "paid; refused: refused for good by the provider's node; reversed: paid, then corrected"
    )
    kind: Literal["payment", "cancellation_fee"]
    hours: Decimal
    transfer: str | None = Field(description="The transfer's id, once it exists")
    reason: str = Field(description="Why it waits or was refused: minimum, maximum, peer-cap, a peer's code")
    reason_text: str = Field(description="The reason in words (English)")
    at: datetime | None = Field(description="When it was paid")


class AgreementOut(BaseModel):
    id: int
    ap_id: str
    held_here: bool = Field(description="False: mirrored from the node of the proposal's author")
    state: str
    role: Literal["provider", "requester"] | None = Field(description="The caller's role")
    proposal: str
    proposal_id: int | None
    title: str
    provider: str
    requester: str
    performer: str | None = Field(
        default=None, description="When the provider is a group: the member who carries the service out"
    )
    price: PriceOut | None
    hours: Decimal | None
    start: datetime | None
    end: datetime | None
    confirmed_by_provider: datetime | None
    confirmed_by_requester: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    late_cancellation: bool
    disputed_at: datetime | None
    receipt: str | None
    actions: list[str] = Field(description="What the caller may do now")
    contacts: dict[str, ContactOut] = Field(description="Shared details by role, for the parties only")
    timeline: list[EventOut]
    payment: PaymentOut | None = Field(
        default=None, description="On a cooperative node, the payment of an agreement priced in time tokens"
    )


def agreement_out(session: Session, settings: Settings, caller: User, agreement: Agreement) -> AgreementOut:
    assert agreement.id is not None
    proposal = agreement_parties.proposal_of(agreement, session=session)
    price = bids.price_of(agreement)
    schedule = stored_schedule(agreement.schedule)
    first = sched.first_window(schedule) if schedule is not None else None
    contacts = agreement_contacts.contacts_for(settings, caller, agreement, session=session)
    return AgreementOut(
        id=agreement.id,
        ap_id=agreement.ap_id,
        held_here=is_holder(agreement),
        state=agreement.state,
        role=role_of(agreement, local.person(settings, caller).uri),
        proposal=agreement.proposal_ap_id,
        proposal_id=agreement.proposal_id,
        title=proposal.title if proposal else "",
        provider=agreement.provider_uri,
        requester=agreement.requester_uri,
        performer=agreement.performer_uri,
        price=PriceOut(amount=price.amount, currency=price.currency, basis=price.basis) if price else None,
        hours=agreement.quantity_hours,
        start=first.start if first else agreement.starts_at,
        end=first.end if first else None,
        confirmed_by_provider=agreement.provider_confirmed_at,
        confirmed_by_requester=agreement.requester_confirmed_at,
        completed_at=agreement.completed_at,
        cancelled_at=agreement.cancelled_at,
        late_cancellation=agreement.late_cancellation,
        disputed_at=agreement.disputed_at,
        receipt=agreement.receipt_ap_id,
        actions=agreements.actions_for(settings, caller, agreement),
        contacts={role: ContactOut(address=c.address, phone=c.phone) for role, c in contacts.items()},
        timeline=[
            EventOut(kind=e.kind, actor=e.actor_uri, at=e.at, note=e.note)
            for e in timeline(agreement, session=session)
        ],
        payment=_payment_out(timebank_payments.status_of(session, settings, agreement)),
    )


def _payment_out(status: timebank_payments.PaymentStatus | None) -> PaymentOut | None:
    if status is None:
        return None
    return PaymentOut(
        state=status.state,  # type: ignore[arg-type]
        kind=status.kind,  # type: ignore[arg-type]
        hours=to_hours(status.amount),
        transfer=status.transfer,
        reason=status.reason,
        reason_text=status.reason_text,
        at=status.at,
    )


@operation(
    "GET",
    "/agreements",
    summary="The caller's agreements, newest first",
    tag="agreements",
    response=AgreementOut,
    list_response=True,
)
async def list_agreements(request: Request, caller: User, _body: None) -> list[AgreementOut]:
    settings = node_of(request).settings

    def load(session: Session) -> list[AgreementOut]:
        return [agreement_out(session, settings, caller, a) for a in agreements_of(caller, session=session)]

    return await run(request, load)


@operation(
    "GET",
    "/agreements/{agreement_id:int}",
    summary="One of the caller's agreements, with its timeline and the contact details shared",
    tag="agreements",
    response=AgreementOut,
    errors=(404,),
)
async def get_agreement(request: Request, caller: User, _body: None) -> AgreementOut:
    settings = node_of(request).settings
    agreement_id = int(request.path_params["agreement_id"])

    def load(session: Session) -> AgreementOut:
        return agreement_out(
            session, settings, caller, agreement_for(settings, caller, agreement_id, session=session)
        )

    return await run(request, load)


Change = Callable[[Session, Settings, Agreement], object]


async def _act(request: Request, caller: User, change: Change) -> AgreementOut:
    """Apply ``change`` to the caller's agreement (its row locked) and answer with the result."""
    settings = node_of(request).settings
    agreement_id = int(request.path_params["agreement_id"])

    def save(session: Session) -> AgreementOut:
        agreement = agreement_for(settings, caller, agreement_id, lock=True, session=session)
        change(session, settings, agreement)
        return agreement_out(session, settings, caller, agreement)

    return await run(request, save)


@operation(
    "POST",
    "/agreements/{agreement_id:int}/confirm",
    summary="Confirm that the service was done (completed when both confirm, or after 7 days of silence)",
    tag="agreements",
    response=AgreementOut,
    errors=(404, 409),
)
async def confirm_agreement(request: Request, caller: User, _body: None) -> AgreementOut:
    return await _act(
        request, caller, lambda s, st, a: agreements.confirm_completion(st, caller, a, session=s)
    )


@operation(
    "POST",
    "/agreements/{agreement_id:int}/cancel",
    summary="Cancel (free until 24 hours before the start, recorded as late after that)",
    tag="agreements",
    body=ReasonIn,
    response=AgreementOut,
    errors=(404, 409),
)
async def cancel_agreement(request: Request, caller: User, body: ReasonIn) -> AgreementOut:
    return await _act(
        request, caller, lambda s, st, a: agreements.cancel(st, caller, a, body.reason, session=s)
    )


@operation(
    "POST",
    "/agreements/{agreement_id:int}/dispute",
    summary="Dispute the agreement (a reason is required; the coordinators of both nodes are told)",
    tag="agreements",
    body=ReasonIn,
    response=AgreementOut,
    errors=(404, 409),
)
async def dispute_agreement(request: Request, caller: User, body: ReasonIn) -> AgreementOut:
    return await _act(
        request, caller, lambda s, st, a: agreements.dispute(st, caller, a, body.reason, session=s)
    )


@operation(
    "POST",
    "/agreements/{agreement_id:int}/contact",
    summary="Share an address and/or a phone number with the other party only",
    tag="agreements",
    body=ContactIn,
    response=AgreementOut,
    errors=(404, 409),
)
async def share_contact(request: Request, caller: User, body: ContactIn) -> AgreementOut:
    return await _act(
        request,
        caller,
        lambda s, st, a: agreement_contacts.share_contact(st, caller, a, body.address, body.phone, session=s),
    )


@operation(
    "POST",
    "/agreements/{agreement_id:int}/settle",
    summary="Settle a dispute as completed or cancelled (coordinators of the node holding the agreement)",
    tag="agreements",
    auth="coordinator",
    body=SettlementIn,
    response=AgreementOut,
    errors=(404, 409),
)
async def settle_agreement(request: Request, caller: User, body: SettlementIn) -> AgreementOut:
    return await _act(
        request,
        caller,
        lambda s, st, a: agreements.settle_dispute(st, caller, a, body.outcome, body.note, session=s),
    )


def operations() -> list[Operation]:
    """The operations of this resource, in the order they are served."""
    return [
        list_agreements,
        get_agreement,
        confirm_agreement,
        cancel_agreement,
        dispute_agreement,
        share_contact,
        settle_agreement,
    ]
