"""Who the parties to an agreement are, and what every change of an agreement records: its timeline
(:class:`~node.market.models.AgreementEvent` rows) and the parties' notifications.

An agreement names its provider (who delivers the service) and its requester (who receives it); on
this node each is a local person (``local_provider_id``/``local_requester_id``) or a remote actor.
The proposal's author's node holds the agreement (``origin`` empty), the other party's node mirrors
it. Only the parties see an agreement; a coordinator also sees a disputed one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, Role, User
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.outbox.publish import publish
from node.core.errors import N_, NotFound
from node.market.lifecycles import AgreementState
from node.market.models import Agreement, AgreementEvent, Proposal
from node.market.notifications import Kind, notify
from node.settings import Settings

PartyRole = Literal["provider", "requester"]

MSG_NO_SUCH_AGREEMENT = N_("No such agreement.")


class EventKind(StrEnum):
    """Kinds of :class:`~node.market.models.AgreementEvent` rows: the agreement's timeline."""

    ACCEPTED = "accepted"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"
    SETTLED = "settled"
    CONTACT_SHARED = "contact_shared"


def send_private(
    settings: Settings, actor: LocalActor, activity: dict[str, Any], to: str, *, session: Session
) -> None:
    """Publish ``activity`` to the one remote actor ``to``; nothing to send when ``to`` is on this node."""
    if not local.is_local(settings, to):
        publish(settings, actor=actor, activity=activity, recipients=[to], session=session)


def is_holder(agreement: Agreement) -> bool:
    return agreement.origin == ""


def role_of(agreement: Agreement, uri: str) -> PartyRole | None:
    if uri == agreement.provider_uri:
        return "provider"
    if uri == agreement.requester_uri:
        return "requester"
    return None


def other_party(agreement: Agreement, uri: str) -> str:
    return agreement.requester_uri if uri == agreement.provider_uri else agreement.provider_uri


def local_user_id(agreement: Agreement, role: PartyRole) -> int | None:
    return agreement.local_provider_id if role == "provider" else agreement.local_requester_id


def confirmed_at(agreement: Agreement, role: PartyRole) -> datetime | None:
    return agreement.provider_confirmed_at if role == "provider" else agreement.requester_confirmed_at


def author_of(agreement: Agreement) -> str:
    """The proposal's author, whose node holds the agreement (as the agreement document says)."""
    try:
        author = json.loads(agreement.raw or "{}").get("attributedTo")
    except (ValueError, AttributeError):
        author = None
    return author if isinstance(author, str) and role_of(agreement, author) else agreement.requester_uri


def party_of(
    settings: Settings, user: User, agreement: Agreement, on_behalf_of: LocalActor | None = None
) -> tuple[str, PartyRole]:
    """``user``'s URI and role in ``agreement`` (with ``on_behalf_of``: the group's, whose coordinator
    ``user`` is, as the group's service checked); :class:`NotFound` when not a party."""
    uri = (on_behalf_of or local.person(settings, user)).uri
    role = role_of(agreement, uri)
    if role is None or (on_behalf_of is None and local_user_id(agreement, role) != user.id):
        raise NotFound(MSG_NO_SUCH_AGREEMENT)
    return uri, role


def agreement_for(
    settings: Settings, user: User, agreement_id: int, *, session: Session, lock: bool = False
) -> Agreement:
    """Agreement ``agreement_id`` if ``user`` is a party to it (a coordinator also sees disputed ones);
    ``lock`` holds its row until the transaction ends (before changing it)."""
    row = session.get(Agreement, agreement_id, with_for_update=lock)
    if row is None:
        raise NotFound(MSG_NO_SUCH_AGREEMENT)
    if user.id in (row.local_provider_id, row.local_requester_id):
        return row
    if user.is_coordinator and row.state == AgreementState.DISPUTED.value:
        return row
    raise NotFound(MSG_NO_SUCH_AGREEMENT)


def proposal_of(agreement: Agreement, *, session: Session) -> Proposal | None:
    """The proposal an agreement answers, when this node holds it."""
    return session.get(Proposal, agreement.proposal_id) if agreement.proposal_id is not None else None


def agreements_of(user: User, *, session: Session) -> Sequence[Agreement]:
    """The agreements ``user`` is a party to, newest first."""
    return session.exec(
        select(Agreement)
        .where((Agreement.local_provider_id == user.id) | (Agreement.local_requester_id == user.id))
        .order_by(col(Agreement.created_at).desc(), col(Agreement.id).desc())
    ).all()


def timeline(agreement: Agreement, *, session: Session) -> Sequence[AgreementEvent]:
    return session.exec(
        select(AgreementEvent)
        .where(AgreementEvent.agreement_id == agreement.id)
        .order_by(col(AgreementEvent.at), col(AgreementEvent.id))
    ).all()


def has_event(agreement: Agreement, kind: EventKind, actor_uri: str, *, session: Session) -> bool:
    """Whether the timeline already has a ``kind`` step by ``actor_uri``."""
    return (
        session.exec(
            select(AgreementEvent.id).where(
                AgreementEvent.agreement_id == agreement.id,
                AgreementEvent.kind == kind.value,
                AgreementEvent.actor_uri == actor_uri,
            )
        ).first()
        is not None
    )


def record_event(
    agreement: Agreement,
    kind: EventKind,
    actor_uri: str,
    at: datetime,
    *,
    session: Session,
    activity_id: str | None = None,
    note: str = "",
) -> AgreementEvent:
    assert agreement.id is not None, "an agreement is stored before its timeline"
    event = AgreementEvent(
        agreement_id=agreement.id,
        kind=kind.value,
        actor_uri=actor_uri,
        activity_id=activity_id,
        note=note,
        at=at,
    )
    session.add(event)
    return event


def notify_parties(
    agreement: Agreement,
    kind: Kind,
    *,
    session: Session,
    actor_uri: str | None = None,
    skip: str | None = None,
) -> None:
    """Notify the parties of this node (except ``skip``, who did it)."""
    title = ""
    if agreement.proposal_id is not None:
        proposal = session.get(Proposal, agreement.proposal_id)
        title = proposal.title if proposal is not None else ""
    for uri, user_id in (
        (agreement.provider_uri, agreement.local_provider_id),
        (agreement.requester_uri, agreement.local_requester_id),
    ):
        if user_id is not None and uri != skip:
            notify(
                user_id,
                kind,
                object_uri=agreement.ap_id,
                actor_uri=actor_uri,
                data={"title": title, "agreement": agreement.id, "href": f"/me/agreements/{agreement.id}"},
                session=session,
            )


def notify_coordinators(agreement: Agreement, actor_uri: str, *, session: Session) -> None:
    coordinators = session.exec(
        select(User.id).where(
            col(User.role).in_([Role.COORDINATOR.value, Role.ADMIN.value]),
            User.status == AccountStatus.ACTIVE.value,
        )
    ).all()
    for user_id in coordinators:
        if user_id is not None and user_id not in (agreement.local_provider_id, agreement.local_requester_id):
            notify(
                user_id,
                Kind.AGREEMENT_DISPUTED,
                object_uri=agreement.ap_id,
                actor_uri=actor_uri,
                data={"agreement": agreement.id, "href": f"/me/agreements/{agreement.id}"},
                session=session,
            )
