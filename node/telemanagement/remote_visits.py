"""On the provider's node: the visits other nodes hold and gave to our people.

The holder's node actor ``Offer`` s a planned visit (a ``Commitment``, see
:mod:`node.telemanagement.given`) to one of our providers; we keep a copy (:class:`RemoteVisit`), shown
on the provider's day beside our own visits, and a ``Delete`` from the same actor removes it. Only the
node whose address the visit has, signing as its node actor, may give or take back a visit: anything
else is :class:`~node.telemanagement.federation.Refused`. Check-ins and check-outs from the provider's
day go back to the holder only, by :func:`node.telemanagement.federation.send_clock`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.addressing import same_origin
from node.activitypub.models import RemoteActor
from node.core.errors import N_, NotFound
from node.core.timeutil import utcnow
from node.settings import Settings
from node.telemanagement import federation, visits
from node.telemanagement.federation import Refused
from node.telemanagement.tables import RemoteVisit

MSG_NO_SUCH = N_("No such visit.")


@dataclass(frozen=True)
class PlannedVisit:
    """A visit another node gave to one of our providers, as it travels."""

    uri: str
    provider: str
    holder: str
    starts_at: datetime
    ends_at: datetime
    category: str
    commune: str


def _time(document: Mapping[str, Any], name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(federation.text_field(document, name, 40))
    except ValueError:
        raise Refused(f"{name} is not a time") from None
    if moment.tzinfo is None:
        raise Refused(f"{name} has no offset")
    return moment


def planned_from_json(document: Mapping[str, Any]) -> PlannedVisit:
    """Read a planned visit (unknown fields ignored; what is missing or malformed refused, named)."""
    if document.get("type") != "Commitment" or document.get("action") != "deliverService":
        raise Refused("not a planned service")
    starts_at, ends_at = _time(document, "hasBeginning"), _time(document, "hasEnd")
    if ends_at <= starts_at:
        raise Refused("the visit ends before it starts")
    return PlannedVisit(
        uri=federation.text_field(document, "id"),
        provider=federation.text_field(document, "provider"),
        holder=federation.text_field(document, "receiver"),
        starts_at=starts_at,
        ends_at=ends_at,
        category=federation.text_field(document, "resourceClassifiedAs", 64),
        commune=federation.text_field(document, "commune", 80, required=False),
    )


def _holders_own(uri: str, signer: str) -> None:
    if not same_origin(uri, signer) or urlsplit(signer).path != local.NODE_ACTOR_PATH:
        raise Refused("the visit is not the signer's node's, or the signer is not that node's actor")


def receive_given(session: Session, settings: Settings, planned: PlannedVisit, signer: str) -> RemoteVisit:
    """Keep (or bring up to date) a visit the signer's node gave to one of our people."""
    _holders_own(planned.uri, signer)
    if planned.holder != signer:
        raise Refused("the planned visit names another holder than its signer")
    username = local.local_username(settings, planned.provider)
    provider = session.exec(select(User).where(User.username == username)).first() if username else None
    if provider is None or provider.id is None or not provider.is_active:
        raise Refused("the visit is given to nobody of this node")
    row = session.exec(select(RemoteVisit).where(RemoteVisit.uri == planned.uri)).first()
    if row is None:
        row = RemoteVisit(uri=planned.uri, holder_uri=signer, provider_id=provider.id, category="",
                          starts_at=planned.starts_at, ends_at=planned.ends_at)  # fmt: skip
    if row.provider_id != provider.id:  # given to someone else of ours: their clock times are not theirs
        row.checked_in_at = row.checked_out_at = None
    row.provider_id, row.category, row.commune = provider.id, planned.category, planned.commune
    row.starts_at, row.ends_at, row.received_at = planned.starts_at, planned.ends_at, utcnow()
    session.add(row)
    session.flush()
    return row


def is_known(session: Session, uri: str) -> bool:
    """Whether we keep a visit another node gave us at ``uri``."""
    return session.exec(select(RemoteVisit.id).where(RemoteVisit.uri == uri)).first() is not None


def receive_withdrawn(session: Session, uri: str, signer: str) -> bool:
    """Forget a visit its holder took back; False when we did not have it (any more)."""
    _holders_own(uri, signer)
    row = session.exec(select(RemoteVisit).where(RemoteVisit.uri == uri)).first()
    if row is None:
        return False
    if row.holder_uri != signer:
        raise Refused("only the visit's holder takes it back")
    session.delete(row)
    return True


@dataclass(frozen=True)
class RemoteDoor:
    """A visit held by another node, as the provider's day shows it."""

    visit: RemoteVisit
    holder_name: str

    @property
    def state(self) -> str:
        """``planned``, ``in_progress`` or ``done``, from what this node sent."""
        if self.visit.checked_out_at is not None:
            return "done"
        return "in_progress" if self.visit.checked_in_at is not None else "planned"


def provider_day(session: Session, user: User, day: date) -> list[RemoteDoor]:
    """``user``'s visits held by other nodes on ``day`` (Paris; with those of the evening before still
    running or waiting for their check-out, :func:`~node.telemanagement.visits.of_the_day`), in time order,
    with the name each holder node gives itself (its host when it gives none)."""
    start, end = visits.provider_day_bounds(day)
    query = (
        select(RemoteVisit, RemoteActor.name)
        .outerjoin(RemoteActor, col(RemoteActor.uri) == RemoteVisit.holder_uri)
        .where(
            RemoteVisit.provider_id == user.id, RemoteVisit.starts_at >= start, RemoteVisit.starts_at < end
        )
        .order_by(col(RemoteVisit.starts_at), col(RemoteVisit.id))
    )
    return [
        RemoteDoor(row, name or urlsplit(row.holder_uri).hostname or "")
        for row, name in session.exec(query)
        if visits.of_the_day(day, row.starts_at, row.ends_at, row.checked_out_at, cancelled=False)
    ]


def clock(
    session: Session,
    settings: Settings,
    user: User,
    remote_id: int,
    kind: str,
    *,
    token: str = "",
    pin: str = "",
    manual_reason: str = "",
    at: datetime | None = None,
    offline: bool = False,
    client_id: str | None = None,
) -> None:
    """Check in or out of one of ``user``'s visits held by another node: the event goes to the holder
    only (:func:`node.telemanagement.federation.send_clock`). The phone's ``client_id`` names the event,
    so that an event kept offline and sent twice is sent once."""
    row = session.get(RemoteVisit, remote_id)
    if row is None or row.provider_id != user.id:
        raise NotFound(MSG_NO_SUCH)
    event = None
    if client_id:
        event = uuid.uuid5(uuid.NAMESPACE_URL, f"{settings.url('/')}|{user.id}|{client_id}").hex
        if federation.sent_already(session, settings, event):
            return
    sent = federation.send_clock(
        session, settings, user, holder=row.holder_uri, visit=row.uri, kind=kind, token=token, pin=pin,
        manual_reason=manual_reason, at=at, offline=offline, event=event,
    )  # fmt: skip
    if kind == "in" and row.checked_in_at is None:
        row.checked_in_at = sent.at
    elif kind == "out" and row.checked_out_at is None:
        row.checked_out_at = sent.at
    session.add(row)
