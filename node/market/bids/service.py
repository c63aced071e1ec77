"""Bids and answers: a person answers a proposal with a price, a time and a message; the proposal's
author chooses one (not necessarily the cheapest) and the others are declined.

Bids are sealed: a bid is seen by its bidder and by the proposal's author, nobody else. On the wire
a bid is ``Offer(Agreement)`` addressed to the author only, withdrawn with ``Undo``, decided with
``Accept`` (carrying the final agreement, :mod:`node.market.agreements.service`) or ``Reject`` (with a
reason). Nothing is sent when the other person is on this node: they are told by a notification.

Rules (:data:`~node.market.lifecycles.BID_LIFECYCLE`): one active bid per person per proposal (the
partial unique index ``uq_bids_active_per_bidder`` backs the check up); no bid on a proposal that is
not open or whose bidding deadline has passed, nor by its author, nor on a demand of a category the
bidder's provider status does not allow (:func:`node.catalog.eligibility.may_answer`). Accepting a bid
on a demand closes the demand and rejects every other active bid; an offer stays open. Active bids
expire when their proposal is withdrawn or expires (:func:`expire_bids`); the bidding deadline only
stops new bids, and the author may still choose after it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, cast

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from node.accounts import blocks
from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.catalog import eligibility
from node.core import limits
from node.core.errors import N_, Conflict, NotFound, PermissionDenied, ValidationFailed
from node.core.statemachine import TransitionRefused
from node.core.text import plain_text
from node.core.timeutil import utcnow
from node.market import schedule as sched
from node.market import vocab
from node.market.agreements import service as agreements
from node.market.agreements.documents import accept_activity, stored_schedule
from node.market.agreements.parties import send_private
from node.market.lifecycles import (
    BID_LIFECYCLE,
    BidState,
    ProposalState,
    accepts_bids,
)
from node.market.models import Agreement, Bid, Proposal
from node.market.money import Basis, Price, check_hours, check_price, check_total, parse_amount, parse_hours
from node.market.notifications import Kind, notify
from node.market.proposals import service as proposals
from node.settings import Settings

log = logging.getLogger("asasap.market")

MESSAGE_MAX = 1000
REASON_MAX = 500

MSG_OWN_PROPOSAL = N_("You cannot answer your own proposal.")
MSG_NOT_OPEN = N_("This proposal no longer takes answers.")
MSG_DEADLINE_PASSED = N_("The deadline for answers has passed.")
MSG_NOT_ELIGIBLE = N_("Your provider status does not allow you to provide this service.")
MSG_ALREADY_ANSWERED = N_("You already answered this proposal; withdraw your answer to send another.")
MSG_PRICE_REQUIRED = N_("Enter your price.")
MSG_FREE_SERVICE = N_("This service is free: leave the price empty.")
MSG_MESSAGE_TOO_LONG = N_("At most 1,000 characters.")
MSG_REASON_TOO_LONG = N_("At most 500 characters.")
MSG_SOME_FIELDS = N_("Some fields need attention.")
MSG_NO_SUCH_BID = N_("No such answer.")
MSG_NO_SUCH_PROPOSAL = N_("No such proposal.")
MSG_BLOCKED = N_("The author of this proposal does not take your answers.")
MSG_DECIDED = N_("This answer was already decided or withdrawn.")
MSG_OTHER_CHOSEN = N_("Another answer was chosen.")

ACTIVE = BidState.ACTIVE.value


@dataclass(frozen=True)
class BidInput:
    """What a bidder proposes. Empty fields take the proposal's own values (its price, hours and
    schedule); ``amount`` and ``hours`` may be typed text ("18,50 €") or decimals."""

    amount: Decimal | str | None = None
    basis: Basis | None = None
    hours: Decimal | str | None = None
    schedule: sched.Schedule | None = None
    message: str = ""


def price_of(row: Bid | Proposal | Agreement) -> Price | None:
    """The price of a bid, proposal or agreement row, or None (free, or left to the answers)."""
    if row.price_amount is None or row.price_currency not in ("EUR", "HOUR"):
        return None
    basis: Basis = "per_hour" if row.price_basis == "per_hour" else "total"
    return Price(row.price_amount, cast(Literal["EUR", "HOUR"], row.price_currency), basis)


def _actor_uri(settings: Settings, user: User) -> str:
    return local.person(settings, user).uri


def intent_ids(proposal: Proposal) -> tuple[str, str | None]:
    """The proposal's primary and reciprocal intent ids: from the document received for a remote one
    (other software may name them otherwise), else ours."""
    primary, reciprocal = proposal.ap_id + "#primary", proposal.ap_id + "#reciprocal"
    if proposal.raw:
        try:
            raw = json.loads(proposal.raw)
        except ValueError:
            raw = {}
        if isinstance(raw, dict) and raw.get("type") in ("Create", "Update"):
            raw = raw.get("object")
        for name in ("publishes", "reciprocal"):
            value = raw.get(name) if isinstance(raw, dict) else None
            if isinstance(value, dict) and isinstance(value.get("id"), str):
                if name == "publishes":
                    primary = value["id"]
                else:
                    reciprocal = value["id"]
    return primary, reciprocal if proposal.price_currency else None


# --- reading ----------------------------------------------------------------------------------------


def active_bid(proposal_id: int, bidder_uri: str, *, session: Session) -> Bid | None:
    return session.exec(
        select(Bid).where(Bid.proposal_id == proposal_id, Bid.bidder_uri == bidder_uri, Bid.state == ACTIVE)
    ).first()


def bid_by_ap_id(ap_id: str, *, session: Session) -> Bid | None:
    """The bid whose ``Offer`` is ``ap_id``."""
    return session.exec(select(Bid).where(Bid.ap_id == ap_id)).first()


def proposal_by_ap_id(ap_id: str, *, session: Session) -> Proposal:
    found = session.exec(select(Proposal).where(Proposal.ap_id == ap_id)).first()
    if found is None:
        raise NotFound(MSG_NO_SUCH_PROPOSAL, fields={"proposal": MSG_NO_SUCH_PROPOSAL})
    return found


def proposal_of(bid: Bid, *, session: Session, lock: bool = False) -> Proposal:
    query = select(Proposal).where(Proposal.id == bid.proposal_id)
    if lock:
        query = query.with_for_update()
    proposal = session.exec(query).first()
    assert proposal is not None, "a bid always has its proposal"
    return proposal


def is_author(proposal: Proposal, user: User, on_behalf_of: LocalActor | None = None) -> bool:
    """Whether ``user`` wrote ``proposal`` (or, with ``on_behalf_of``, whether that group of ours did)."""
    if on_behalf_of is not None:
        return proposal.origin == "" and proposal.author_uri == on_behalf_of.uri
    return proposal.origin == "" and proposal.local_author_id == user.id


# --- placing ----------------------------------------------------------------------------------------


def _amount(value: Decimal | str, field: str) -> Decimal:
    return parse_amount(value, field=field) if isinstance(value, str) else value


def _terms(
    proposal: Proposal, data: BidInput, now: datetime
) -> tuple[Price | None, Decimal | None, sched.Schedule | None, str]:
    """Price, hours, schedule and message of a bid, with the proposal's values where left empty."""
    errors: dict[str, str] = {}
    currency = proposal.price_currency if proposal.price_currency in ("EUR", "HOUR") else None
    price: Price | None = None
    hours: Decimal | None = proposal.quantity_hours
    schedule = stored_schedule(proposal.schedule)
    typed = data.amount.strip() if isinstance(data.amount, str) else data.amount
    try:
        if typed is None or typed == "":
            if currency is not None:
                price = price_of(proposal)
                if price is None:
                    errors["amount"] = MSG_PRICE_REQUIRED
        elif currency is None:
            errors["amount"] = MSG_FREE_SERVICE
        else:
            basis: Basis = data.basis or ("total" if proposal.price_basis == "total" else "per_hour")
            price = check_price(
                Price(_amount(typed, "amount"), cast(Literal["EUR", "HOUR"], currency), basis), field="amount"
            )
    except ValidationFailed as exc:
        errors.update(exc.fields)
    typed_hours = data.hours.strip() if isinstance(data.hours, str) else data.hours
    try:
        if typed_hours is not None and typed_hours != "":
            hours = (
                parse_hours(typed_hours, field="hours")
                if isinstance(typed_hours, str)
                else check_hours(typed_hours, field="hours")
            )
        if price is not None and hours is not None and "amount" not in errors:
            check_total(price, hours, field="amount")
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if data.schedule is not None:
        try:
            schedule = sched.validate(data.schedule, now=now)
        except ValidationFailed as exc:
            errors.update(exc.fields)
    message = plain_text(data.message, MESSAGE_MAX + 1, multiline=True)
    if len(message) > MESSAGE_MAX:
        errors["message"] = MSG_MESSAGE_TOO_LONG
    if errors:
        raise ValidationFailed(
            next(iter(errors.values())) if len(errors) == 1 else MSG_SOME_FIELDS, fields=errors
        )
    return price, hours, schedule, message


def eligible(proposal: Proposal, bidder: User, provider_status: str | None = None) -> bool:
    """Whether ``bidder``'s provider status (or the ``provider_status`` they answer under, a group's)
    lets them answer ``proposal`` (pages say so before the form)."""
    status = provider_status or bidder.provider_status
    purpose: Literal["offer", "request"] = "offer" if proposal.purpose == "offer" else "request"
    try:
        return eligibility.may_answer(proposal.category, status, purpose=purpose)
    except ValueError:  # a category this node does not know
        return False


def insert(bid: Bid, *, session: Session) -> None:
    """Store a new active bid; the unique index refuses a second active one by the same person."""
    try:
        with session.begin_nested():
            session.add(bid)
            session.flush()
    except IntegrityError:
        raise Conflict(MSG_ALREADY_ANSWERED) from None


def check_not_blocked(proposal: Proposal, bidder_uri: str, *, session: Session) -> None:
    """The author of the proposal blocked the bidder: no answer from them."""
    if proposal.local_author_id is not None and blocks.is_blocked(
        proposal.local_author_id, bidder_uri, session=session
    ):
        raise PermissionDenied(MSG_BLOCKED)


def check_may_bid(
    settings: Settings,
    bidder: User,
    proposal: Proposal,
    now: datetime,
    *,
    session: Session,
    on_behalf_of: LocalActor | None = None,
    provider_status: str | None = None,
) -> None:
    """Refuse (:class:`PermissionDenied`, :class:`Conflict`) a bid ``bidder`` (or the group
    ``on_behalf_of`` through its coordinator ``bidder``, under the group's ``provider_status``) may not
    place now."""
    uri = on_behalf_of.uri if on_behalf_of is not None else _actor_uri(settings, bidder)
    if uri == proposal.author_uri:
        raise PermissionDenied(MSG_OWN_PROPOSAL)
    check_not_blocked(proposal, uri, session=session)
    if proposal.state != ProposalState.OPEN.value:
        raise Conflict(MSG_NOT_OPEN)
    if not accepts_bids(proposal.state, proposal.bidding_deadline, now):
        raise Conflict(MSG_DEADLINE_PASSED)
    if not eligible(proposal, bidder, provider_status):
        raise PermissionDenied(MSG_NOT_ELIGIBLE)
    assert proposal.id is not None
    if active_bid(proposal.id, uri, session=session) is not None:
        raise Conflict(MSG_ALREADY_ANSWERED)


def place_bid(
    settings: Settings,
    bidder: User,
    proposal: Proposal,
    data: BidInput,
    *,
    session: Session,
    now: datetime | None = None,
    on_behalf_of: LocalActor | None = None,
    provider_status: str | None = None,
) -> Bid:
    """Answer ``proposal``: store the bid and send ``Offer(Agreement)`` to its author only (or notify
    the author when on this node). With ``on_behalf_of`` (a group of this node), the group answers,
    under its ``provider_status``."""
    now = now or utcnow()
    check_may_bid(
        settings,
        bidder,
        proposal,
        now,
        session=session,
        on_behalf_of=on_behalf_of,
        provider_status=provider_status,
    )
    price, hours, schedule, message = _terms(proposal, data, now)
    limits.hit(settings, "bids per person per day", bidder.pk, session=session, now=now)
    limits.hit(settings, "bids per proposal per day", proposal.ap_id, session=session, now=now)
    actor = on_behalf_of or local.person(settings, bidder)
    assert proposal.id is not None
    bid = Bid(
        ap_id=local.new_activity_id(settings),
        proposal_id=proposal.id,
        bidder_uri=actor.uri,
        local_bidder_id=bidder.id if on_behalf_of is None else None,
        origin="",
        price_amount=price.amount if price else None,
        price_currency=price.currency if price else None,
        price_basis=price.basis if price else None,
        quantity_hours=hours,
        schedule=json.dumps(sched.to_json(schedule)) if schedule else None,
        message=message,
        state=ACTIVE,
        created_at=now,
        updated_at=now,
    )
    insert(bid, session=session)
    if proposal.origin == "":
        notify_author(proposal, Kind.BID_RECEIVED, bid, session=session)
        return bid
    primary, reciprocal = intent_ids(proposal)
    terms = vocab.AgreementDoc(
        primary_intent=primary,
        reciprocal_intent=reciprocal if price is not None else None,
        quantity=hours,
        price=price,
        schedule=schedule,
        message=message,
    )
    offer = vocab.offer_to_json(actor.uri, terms, [proposal.author_uri], activity_id=bid.ap_id, published=now)
    if on_behalf_of is None and bidder.commune_insee:  # for the author's distance, told to them only
        place = {"type": "Place", "name": bidder.commune_name, "inseeCode": bidder.commune_insee}
        offer["location"] = {key: value for key, value in place.items() if value}
    send_private(settings, actor, offer, proposal.author_uri, session=session)
    return bid


def notify_author(proposal: Proposal, kind: Kind, bid: Bid, *, session: Session) -> None:
    if proposal.local_author_id is not None:
        notify(
            proposal.local_author_id,
            kind,
            object_uri=proposal.ap_id,
            actor_uri=bid.bidder_uri,
            data={
                "title": proposal.title,
                "bid": bid.id,
                "href": f"/me/bids/received?proposal={proposal.id}",
            },
            session=session,
        )


def notify_bidder(proposal: Proposal, kind: Kind, bid: Bid, *, session: Session, **extra: object) -> None:
    if bid.local_bidder_id is not None:
        notify(
            bid.local_bidder_id,
            kind,
            object_uri=proposal.ap_id,
            actor_uri=proposal.author_uri,
            data={"title": proposal.title, "bid": bid.id, "href": "/me/bids", **extra},
            session=session,
        )


def move(bid: Bid, target: BidState, now: datetime) -> None:
    """Change a bid's state along its declared lifecycle; :class:`Conflict` when it is not allowed."""
    try:
        bid.state = BID_LIFECYCLE.check(bid.state, target).value
    except TransitionRefused:
        raise Conflict(MSG_DECIDED) from None
    bid.updated_at = now
    if target is not BidState.WITHDRAWN:
        bid.decided_at = now


# --- deciding ---------------------------------------------------------------------------------------


def withdraw_bid(settings: Settings, bidder: User, bid: Bid, *, session: Session) -> Bid:
    """The bidder withdraws an active bid: ``Undo`` of the ``Offer`` to the author (or a notification)."""
    if bid.local_bidder_id != bidder.id:
        raise NotFound(MSG_NO_SUCH_BID)
    proposal = proposal_of(bid, session=session)
    session.refresh(bid, with_for_update=True)
    now = utcnow()
    move(bid, BidState.WITHDRAWN, now)
    session.add(bid)
    if proposal.origin == "":
        notify_author(proposal, Kind.BID_WITHDRAWN, bid, session=session)
    else:
        actor = local.person(settings, bidder)
        undo = vocab.withdrawal_to_json(
            actor.uri,
            bid.ap_id,
            [proposal.author_uri],
            activity_id=local.new_activity_id(settings),
            published=now,
        )
        send_private(settings, actor, undo, proposal.author_uri, session=session)
    return bid


def _author_bid(
    author: User, bid: Bid, *, session: Session, on_behalf_of: LocalActor | None = None
) -> Proposal:
    """The proposal of ``bid`` if ``author`` (or the group ``on_behalf_of``) wrote it; both rows locked
    (proposal first, then bid)."""
    proposal = proposal_of(bid, lock=True, session=session)
    if not is_author(proposal, author, on_behalf_of):
        raise NotFound(MSG_NO_SUCH_BID)
    session.refresh(bid, with_for_update=True)
    return proposal


def _reason(reason: str) -> str:
    cleaned = plain_text(reason, REASON_MAX + 1, multiline=True)
    if len(cleaned) > REASON_MAX:
        raise ValidationFailed(MSG_REASON_TOO_LONG, fields={"reason": MSG_REASON_TOO_LONG})
    return cleaned


def _reject(
    settings: Settings,
    author: User,
    proposal: Proposal,
    bid: Bid,
    reason: str,
    now: datetime,
    *,
    session: Session,
    on_behalf_of: LocalActor | None = None,
) -> None:
    move(bid, BidState.REJECTED, now)
    bid.reject_reason = reason
    session.add(bid)
    if bid.origin == "":
        notify_bidder(proposal, Kind.BID_REJECTED, bid, reason=reason, session=session)
        return
    actor = on_behalf_of or local.person(settings, author)
    activity = vocab.reject_to_json(
        actor.uri,
        bid.ap_id,
        [bid.bidder_uri],
        activity_id=local.new_activity_id(settings),
        reason=reason,
        published=now,
    )
    send_private(settings, actor, activity, bid.bidder_uri, session=session)


def reject_bid(
    settings: Settings,
    author: User,
    bid: Bid,
    reason: str = "",
    *,
    session: Session,
    on_behalf_of: LocalActor | None = None,
) -> Bid:
    """The author (or a coordinator of the group ``on_behalf_of``) declines a bid, with an optional
    reason sent to the bidder."""
    cleaned = _reason(reason)
    proposal = _author_bid(author, bid, session=session, on_behalf_of=on_behalf_of)
    _reject(settings, author, proposal, bid, cleaned, utcnow(), session=session, on_behalf_of=on_behalf_of)
    return bid


def accept_bid(
    settings: Settings,
    author: User,
    bid: Bid,
    *,
    session: Session,
    others_reason: str = "",
    on_behalf_of: LocalActor | None = None,
) -> Agreement:
    """The author (or a coordinator of the group ``on_behalf_of``) chooses ``bid``: the agreement is
    made (held here), ``Accept`` carrying it goes to the bidder, and on a demand the proposal closes and
    every other active bid is rejected."""
    reason = _reason(others_reason) or MSG_OTHER_CHOSEN
    proposal = _author_bid(author, bid, session=session, on_behalf_of=on_behalf_of)
    if proposal.state != ProposalState.OPEN.value:
        raise Conflict(MSG_NOT_OPEN)
    now = utcnow()
    move(bid, BidState.ACCEPTED, now)
    session.add(bid)
    agreement = agreements.open_agreement(settings, proposal, bid, now=now, session=session)
    if bid.origin == "":
        notify_bidder(proposal, Kind.BID_ACCEPTED, bid, agreement=agreement.id, session=session)
    else:
        actor = on_behalf_of or local.person(settings, author)
        activity = accept_activity(
            agreement,
            author_uri=actor.uri,
            offer_id=bid.ap_id,
            to=bid.bidder_uri,
            activity_id=local.new_activity_id(settings),
        )
        send_private(settings, actor, activity, bid.bidder_uri, session=session)
    if proposals.close(settings, proposal, session=session):
        others = session.exec(
            select(Bid)
            .where(Bid.proposal_id == proposal.id, Bid.state == ACTIVE, Bid.id != bid.id)
            .with_for_update()
        ).all()
        for other in others:
            _reject(
                settings, author, proposal, other, reason, now, session=session, on_behalf_of=on_behalf_of
            )
    return agreement


# --- expiry -----------------------------------------------------------------------------------------


def expire_bids(*, session: Session, now: datetime | None = None) -> int:
    """Expire the active bids whose proposal was withdrawn, expired or reached the end of its lifetime;
    how many. (A closed demand's other bids were rejected when it closed.)"""
    now = now or utcnow()
    ended = (ProposalState.WITHDRAWN.value, ProposalState.EXPIRED.value)
    rows = session.exec(
        select(Bid)
        .join(Proposal, col(Proposal.id) == col(Bid.proposal_id))
        .where(
            Bid.state == ACTIVE,
            col(Proposal.state).in_(ended) | (col(Proposal.expires_at) <= now),
        )
    ).all()
    for bid in rows:
        move(bid, BidState.EXPIRED, now)
        session.add(bid)
    if rows:
        log.info("expired %d bids", len(rows))
    return len(rows)
