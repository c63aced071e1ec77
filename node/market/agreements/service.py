"""Agreements: what two parties agreed on, from the accepted bid to completion or cancellation.

The agreement belongs to the node of the proposal's author, its *holder*; the other party's node
keeps a *mirror*. Every change of state follows :data:`~node.market.lifecycles.AGREEMENT_LIFECYCLE`:

- ``accepted`` → ``confirmed_by_one`` → ``completed``: each party confirms the service was done;
  the second confirmation, or 7 days of silence after the first (:func:`complete_by_silence`),
  completes it, and the holder then issues the FEP-0837 receipt;
- ``accepted`` → ``cancelled``: either party, free until 24 hours before the start, recorded as a
  late cancellation after that;
- ``accepted`` | ``confirmed_by_one`` → ``disputed``: either party, with a reason; the holder's
  coordinators settle it as ``completed`` or ``cancelled`` (:func:`settle_dispute`).

A party states what it does with its own activity to the other party (``Create(EconomicEvent)``,
``Reject{Agreement}``, ``Flag{Agreement}``). The holder is authoritative: it applies the
transition (its own party's, or the other party's when received) and then sends ``Update`` of the
agreement carrying its state to the other party; the mirror only records what its own party did
and takes its state from the holder's updates (:mod:`node.market.agreements.sync`), so both nodes
end in the same state even when the parties act at the same moment.

Who the parties are and the timeline are in :mod:`node.market.agreements.parties`; contact details
in :mod:`node.market.agreements.contacts`.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.core.errors import N_, Conflict, PermissionDenied, ValidationFailed
from node.core.text import plain_text
from node.core.timeutil import utcnow
from node.market import vocab
from node.market.agreements import documents as docs
from node.market.agreements.contacts import may_share_contact
from node.market.agreements.parties import (
    EventKind,
    PartyRole,
    author_of,
    confirmed_at,
    is_holder,
    notify_coordinators,
    notify_parties,
    other_party,
    party_of,
    record_event,
    role_of,
    send_private,
)
from node.market.lifecycles import (
    AGREEMENT_LIFECYCLE,
    AgreementState,
    after_confirmation,
    cancellation_is_late,
    completes_by_silence,
)
from node.market.lifecycles import DISPUTE_WINDOW as SILENCE
from node.market.models import Agreement, Bid, Proposal
from node.market.notifications import Kind
from node.market.schedule import first_window
from node.settings import Settings

log = logging.getLogger("asasap.market")

REASON_MAX = 500

MSG_ALREADY_CONFIRMED = N_("You already confirmed that the service was done.")
MSG_CANNOT_CONFIRM = N_("This agreement cannot be confirmed in its current state.")
MSG_CANNOT_CANCEL = N_("This agreement can no longer be cancelled.")
MSG_CANNOT_DISPUTE = N_("This agreement can no longer be disputed.")
MSG_REASON_REQUIRED = N_("Say why.")
MSG_REASON_TOO_LONG = N_("At most 500 characters.")
MSG_NOT_HOLDER = N_("Only the node that holds this agreement can settle it.")
MSG_NOT_DISPUTED = N_("Only a disputed agreement can be settled.")
MSG_COORDINATORS_ONLY = N_("This is for coordinators.")


# --- the holder's side ------------------------------------------------------------------------------


def holder_document(agreement: Agreement, author_uri: str | None = None) -> dict[str, Any]:
    """The full agreement document its holder serves and sends."""
    return docs.agreement_document(agreement, author_uri=author_uri or author_of(agreement))


def _author_actor(settings: Settings, agreement: Agreement, *, session: Session) -> LocalActor | None:
    group = local.local_group_name(settings, author_of(agreement))
    if group is not None:  # a group's proposal: the group holds the agreement
        return local.group(settings, group)
    username = local.local_username(settings, author_of(agreement))
    user = session.exec(select(User).where(User.username == username)).first() if username else None
    if user is None or user.status == AccountStatus.DELETED.value:
        return None
    return local.person(settings, user)


def sync_holder(settings: Settings, agreement: Agreement, *, session: Session) -> None:
    """After a change on the holder: keep the document and send ``Update`` with it to the other party
    when that party is on another node (the mirror takes its state from it)."""
    agreement.updated_at = utcnow()
    document = holder_document(agreement)
    agreement.raw = json.dumps(document, ensure_ascii=False)
    session.add(agreement)
    remote = [p for p in (agreement.provider_uri, agreement.requester_uri) if not local.is_local(settings, p)]
    author = _author_actor(settings, agreement, session=session)
    if not remote or author is None:
        return
    update = docs.update_activity(
        document, actor=author.uri, to=remote[0], activity_id=local.new_activity_id(settings)
    )
    send_private(settings, author, update, remote[0], session=session)


def open_agreement(
    settings: Settings, proposal: Proposal, bid: Bid, *, session: Session, now: datetime
) -> Agreement:
    """The agreement made when ``proposal``'s author accepts ``bid`` (held here)."""
    demand = proposal.purpose == "request"
    schedule_text = bid.schedule or proposal.schedule
    window = None
    schedule = docs.stored_schedule(schedule_text)
    if schedule is not None:
        window = first_window(schedule)
    agreement = Agreement(
        ap_id=settings.url(f"/agreements/{uuid.uuid4()}"),
        origin="",
        proposal_id=proposal.id,
        proposal_ap_id=proposal.ap_id,
        bid_id=bid.id,
        offer_ap_id=bid.ap_id,
        provider_uri=bid.bidder_uri if demand else proposal.author_uri,
        requester_uri=proposal.author_uri if demand else bid.bidder_uri,
        local_provider_id=bid.local_bidder_id if demand else proposal.local_author_id,
        local_requester_id=proposal.local_author_id if demand else bid.local_bidder_id,
        category=proposal.category,
        price_amount=bid.price_amount,
        price_currency=bid.price_currency,
        price_basis=bid.price_basis,
        quantity_hours=bid.quantity_hours,
        schedule=schedule_text,
        starts_at=window.start if window is not None else proposal.starts_at,
        state=AgreementState.ACCEPTED.value,
        created_at=now,
        updated_at=now,
    )
    session.add(agreement)
    session.flush()
    agreement.raw = json.dumps(holder_document(agreement, proposal.author_uri), ensure_ascii=False)
    record_event(agreement, EventKind.ACCEPTED, proposal.author_uri, now, session=session)
    return agreement


def complete(
    settings: Settings, agreement: Agreement, at: datetime, by: str | None, *, session: Session
) -> None:
    """Mark completed (the state was checked by the caller); the holder issues the receipt."""
    agreement.state = AgreementState.COMPLETED.value
    agreement.completed_at = at
    record_event(agreement, EventKind.COMPLETED, by or author_of(agreement), at, session=session)
    notify_parties(agreement, Kind.AGREEMENT_COMPLETED, actor_uri=by, skip=by, session=session)
    if not is_holder(agreement):
        return
    agreement.receipt_ap_id = agreement.ap_id + "/receipt"
    author = _author_actor(settings, agreement, session=session)
    other = other_party(agreement, author_of(agreement))
    if author is not None and not local.is_local(settings, other):
        receipt = vocab.receipt_to_json(
            author.uri,
            agreement.receipt_ap_id,
            agreement.ap_id,
            [other],
            activity_id=local.new_activity_id(settings),
            published=at,
        )
        send_private(settings, author, receipt, other, session=session)


# --- transitions, for a local party or a party on another node ------------------------------------


def record_confirmation(
    settings: Settings,
    agreement: Agreement,
    uri: str,
    at: datetime,
    activity_id: str | None,
    *,
    session: Session,
) -> None:
    """Party ``uri`` confirmed completion (checked by the caller); the holder moves the state on."""
    role = role_of(agreement, uri)
    assert role is not None
    if role == "provider":
        agreement.provider_confirmed_at = at
    else:
        agreement.requester_confirmed_at = at
    record_event(agreement, EventKind.CONFIRMED, uri, at, activity_id=activity_id, session=session)
    session.add(agreement)
    if not is_holder(agreement):
        notify_parties(agreement, Kind.AGREEMENT_CONFIRMED, actor_uri=uri, skip=uri, session=session)
        return
    target = after_confirmation(agreement.state)
    if target is AgreementState.COMPLETED:
        complete(settings, agreement, at, uri, session=session)
    else:
        agreement.state = target.value
        notify_parties(agreement, Kind.AGREEMENT_CONFIRMED, actor_uri=uri, skip=uri, session=session)
    sync_holder(settings, agreement, session=session)


def record_cancellation(
    settings: Settings,
    agreement: Agreement,
    uri: str,
    at: datetime,
    *,
    session: Session,
    late: bool,
    reason: str,
    activity_id: str | None,
) -> None:
    """Party ``uri`` cancelled (checked by the caller); the holder moves the state on."""
    agreement.cancelled_by_uri = uri
    agreement.late_cancellation = late
    record_event(
        agreement, EventKind.CANCELLED, uri, at, activity_id=activity_id, note=reason, session=session
    )
    notify_parties(agreement, Kind.AGREEMENT_CANCELLED, actor_uri=uri, skip=uri, session=session)
    session.add(agreement)
    if is_holder(agreement):
        agreement.state = AGREEMENT_LIFECYCLE.check(agreement.state, AgreementState.CANCELLED).value
        agreement.cancelled_at = at
        sync_holder(settings, agreement, session=session)


def record_dispute(
    settings: Settings,
    agreement: Agreement,
    uri: str,
    at: datetime,
    *,
    session: Session,
    reason: str,
    activity_id: str | None,
) -> None:
    """Party ``uri`` disputed (checked by the caller); coordinators hear of it; the holder moves on."""
    agreement.disputed_by_uri = uri
    agreement.disputed_at = at
    agreement.dispute_reason = reason
    record_event(
        agreement, EventKind.DISPUTED, uri, at, activity_id=activity_id, note=reason, session=session
    )
    notify_parties(agreement, Kind.AGREEMENT_DISPUTED, actor_uri=uri, skip=uri, session=session)
    notify_coordinators(agreement, uri, session=session)
    session.add(agreement)
    if is_holder(agreement):
        agreement.state = AGREEMENT_LIFECYCLE.check(agreement.state, AgreementState.DISPUTED).value
        sync_holder(settings, agreement, session=session)


def may_confirm(agreement: Agreement, role: PartyRole) -> bool:
    states = (AgreementState.ACCEPTED.value, AgreementState.CONFIRMED_BY_ONE.value)
    return agreement.state in states and confirmed_at(agreement, role) is None


def may_cancel(agreement: Agreement) -> bool:
    """A party may cancel while nothing is confirmed (a dispute is settled by coordinators)."""
    return agreement.state == AgreementState.ACCEPTED.value and agreement.cancelled_by_uri is None


def may_dispute(agreement: Agreement) -> bool:
    return (
        AGREEMENT_LIFECYCLE.allows(agreement.state, AgreementState.DISPUTED)
        and agreement.disputed_by_uri is None
    )


def _reason(reason: str, *, required: bool) -> str:
    cleaned = plain_text(reason, REASON_MAX + 1, multiline=True)
    if len(cleaned) > REASON_MAX:
        raise ValidationFailed(MSG_REASON_TOO_LONG, fields={"reason": MSG_REASON_TOO_LONG})
    if required and not cleaned:
        raise ValidationFailed(MSG_REASON_REQUIRED, fields={"reason": MSG_REASON_REQUIRED})
    return cleaned


def _tell_other_party(
    settings: Settings,
    party: User,
    agreement: Agreement,
    kind: vocab.AgreementEventKind,
    activity_id: str,
    at: datetime,
    *,
    session: Session,
    on_behalf_of: LocalActor | None = None,
    **details: Any,
) -> None:
    """Send what ``party`` did (``Create(EconomicEvent)``, ``Reject`` or ``Flag``) to the other party."""
    actor = on_behalf_of or local.person(settings, party)
    other = other_party(agreement, actor.uri)
    event = vocab.AgreementEvent(
        kind=kind,
        id=activity_id,
        actor=actor.uri,
        agreement=agreement.ap_id,
        to=(other,),
        published=at,
        **details,
    )
    send_private(settings, actor, vocab.agreement_event_to_json(event), other, session=session)


def confirm_completion(
    settings: Settings,
    party: User,
    agreement: Agreement,
    *,
    session: Session,
    now: datetime | None = None,
    on_behalf_of: LocalActor | None = None,
) -> Agreement:
    """``party`` (or a coordinator for the group ``on_behalf_of``) confirms the service was done;
    ``Create(EconomicEvent)`` goes to the other party."""
    now = now or utcnow()
    uri, role = party_of(settings, party, agreement, on_behalf_of)
    if confirmed_at(agreement, role) is not None:
        raise Conflict(MSG_ALREADY_CONFIRMED)
    if not may_confirm(agreement, role):
        raise Conflict(MSG_CANNOT_CONFIRM)
    activity_id = local.new_activity_id(settings)
    record_confirmation(settings, agreement, uri, now, activity_id, session=session)
    _tell_other_party(
        settings,
        party,
        agreement,
        "confirm",
        activity_id,
        now,
        event_id=settings.url(f"/events/{uuid.uuid4()}"),
        hours=agreement.quantity_hours,
        provider=agreement.provider_uri,
        receiver=agreement.requester_uri,
        session=session,
        on_behalf_of=on_behalf_of,
    )
    return agreement


def cancel(
    settings: Settings,
    party: User,
    agreement: Agreement,
    reason: str = "",
    *,
    session: Session,
    now: datetime | None = None,
    on_behalf_of: LocalActor | None = None,
) -> Agreement:
    """``party`` (or a coordinator for the group ``on_behalf_of``) cancels: free until 24 hours before
    the start, recorded as late after that; ``Reject{Agreement}`` goes to the other party."""
    now = now or utcnow()
    uri, _ = party_of(settings, party, agreement, on_behalf_of)
    cleaned = _reason(reason, required=False)
    if not may_cancel(agreement):
        raise Conflict(MSG_CANNOT_CANCEL)
    late = agreement.starts_at is not None and cancellation_is_late(agreement.starts_at, now)
    activity_id = local.new_activity_id(settings)
    record_cancellation(
        settings, agreement, uri, now, late=late, reason=cleaned, activity_id=activity_id, session=session
    )
    _tell_other_party(
        settings,
        party,
        agreement,
        "cancel",
        activity_id,
        now,
        reason=cleaned,
        late=late,
        session=session,
        on_behalf_of=on_behalf_of,
    )
    return agreement


def dispute(
    settings: Settings,
    party: User,
    agreement: Agreement,
    reason: str,
    *,
    session: Session,
    now: datetime | None = None,
    on_behalf_of: LocalActor | None = None,
) -> Agreement:
    """``party`` (or a coordinator for the group ``on_behalf_of``) disputes the agreement:
    ``Flag{Agreement}`` goes to the other party; the coordinators of both nodes are told."""
    now = now or utcnow()
    uri, _ = party_of(settings, party, agreement, on_behalf_of)
    cleaned = _reason(reason, required=True)
    if not may_dispute(agreement):
        raise Conflict(MSG_CANNOT_DISPUTE)
    activity_id = local.new_activity_id(settings)
    record_dispute(settings, agreement, uri, now, reason=cleaned, activity_id=activity_id, session=session)
    _tell_other_party(
        settings,
        party,
        agreement,
        "dispute",
        activity_id,
        now,
        reason=cleaned,
        session=session,
        on_behalf_of=on_behalf_of,
    )
    return agreement


def settle_dispute(
    settings: Settings,
    coordinator: User,
    agreement: Agreement,
    outcome: Literal["completed", "cancelled"],
    note: str = "",
    *,
    session: Session,
) -> Agreement:
    """A coordinator of the holder's node settles a dispute as completed or cancelled."""
    if not coordinator.is_coordinator:
        raise PermissionDenied(MSG_COORDINATORS_ONLY)
    if not is_holder(agreement):
        raise Conflict(MSG_NOT_HOLDER)
    if agreement.state != AgreementState.DISPUTED.value:
        raise Conflict(MSG_NOT_DISPUTED)
    cleaned = _reason(note, required=False)
    now = utcnow()
    target = AGREEMENT_LIFECYCLE.check(agreement.state, AgreementState(outcome))
    who = local.person(settings, coordinator).uri
    record_event(agreement, EventKind.SETTLED, who, now, note=cleaned, session=session)
    if target is AgreementState.COMPLETED:
        complete(settings, agreement, now, None, session=session)
    else:
        agreement.state = target.value
        agreement.cancelled_at = now
        notify_parties(agreement, Kind.AGREEMENT_CANCELLED, actor_uri=who, session=session)
    sync_holder(settings, agreement, session=session)
    return agreement


def complete_by_silence(settings: Settings, *, session: Session, now: datetime | None = None) -> int:
    """Complete the agreements held here that one party confirmed 7 days ago or more without the other
    disputing; how many."""
    now = now or utcnow()
    cutoff = now - SILENCE
    rows = session.exec(
        select(Agreement).where(
            Agreement.origin == "",
            Agreement.state == AgreementState.CONFIRMED_BY_ONE.value,
            (col(Agreement.provider_confirmed_at) <= cutoff)
            | (col(Agreement.requester_confirmed_at) <= cutoff),
        )
    ).all()
    done = 0
    for agreement in rows:
        first = agreement.provider_confirmed_at or agreement.requester_confirmed_at
        if first is None or not completes_by_silence(first, now):
            continue
        AGREEMENT_LIFECYCLE.check(agreement.state, AgreementState.COMPLETED)
        complete(settings, agreement, now, None, session=session)
        sync_holder(settings, agreement, session=session)
        done += 1
    if done:
        log.info("completed %d agreements by silence", done)
    return done


def actions_for(settings: Settings, user: User, agreement: Agreement) -> list[str]:
    """What ``user`` may do now: ``confirm``, ``cancel``, ``dispute``, ``contact`` (a party), ``settle``
    (a coordinator of the holder's node, on a dispute)."""
    uri = local.person(settings, user).uri
    role = role_of(agreement, uri)
    found: list[str] = []
    if role is not None and user.id in (agreement.local_provider_id, agreement.local_requester_id):
        if may_confirm(agreement, role):
            found.append("confirm")
        if may_cancel(agreement):
            found.append("cancel")
        if may_dispute(agreement):
            found.append("dispute")
        if may_share_contact(agreement):
            found.append("contact")
    if user.is_coordinator and is_holder(agreement) and agreement.state == AgreementState.DISPUTED.value:
        found.append("settle")
    return found
