"""Visits across nodes: a provider of node B clocks a visit that node A holds (A planned it, for one of
its beneficiaries, and gave it to the provider's actor). Each check-in or check-out travels as a
ValueFlows ``EconomicEvent`` (FEP-c5a1 style, see "Telemanagement" in FEDERATION.md) created by the
provider's actor and addressed to A's node actor only.

The event says which visit it fulfils (A's URL of it, an opaque number), when, how it was clocked and
whether it was kept offline. It carries **no** health detail, address, door code or name: B never has
them, and nothing here reads them. What proves presence is the home's own code (the token A printed,
read at the door) or PIN, sent back to the node that issued it; A checks it as it checks its own
providers', then chains the event into its clock log with the event's id as its origin.

A refuses (:class:`Refused`) an event whose signer is not its provider, whose id is not of the
signer's node, that names no visit of A's or a visit not given to that actor; an event received twice
is recorded once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, select

from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.addressing import AS_CONTEXT, same_origin
from node.activitypub.models import OutboxActivity
from node.activitypub.outbox.publish import publish
from node.core.errors import N_, ValidationFailed
from node.core.timeutil import isoformat, utcnow
from node.settings import Settings
from node.telemanagement import clocking, clocklog, clockpath, door
from node.telemanagement.tables import ClockLogEntry, RemoteAssignment

VF = "https://w3id.org/valueflows/ont/vf#"
NS = "https://w3id.org/asasap/ns#"
CONTEXT: list[Any] = [
    AS_CONTEXT,
    {
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "vf": VF,
        "asasap": NS,
        "EconomicEvent": "vf:EconomicEvent",
        "action": "vf:action",
        "provider": {"@id": "vf:provider", "@type": "@id"},
        "receiver": {"@id": "vf:receiver", "@type": "@id"},
        "fulfills": {"@id": "vf:fulfills", "@type": "@id"},
        "finished": "vf:finished",
        "hasPointInTime": {"@id": "vf:hasPointInTime", "@type": "xsd:dateTime"},
        "clockKind": "asasap:clockKind",
        "clockMethod": "asasap:clockMethod",
        "manualReason": "asasap:manualReason",
        "homeToken": "asasap:homeToken",
        "homePin": "asasap:homePin",
        "recordedOffline": "asasap:recordedOffline",
        "Commitment": "vf:Commitment",
        "hasBeginning": {"@id": "vf:hasBeginning", "@type": "xsd:dateTime"},
        "hasEnd": {"@id": "vf:hasEnd", "@type": "xsd:dateTime"},
        "resourceClassifiedAs": "vf:resourceClassifiedAs",
        "commune": "asasap:commune",
    },
]
VISIT_PATH = "/telemanagement/visits/"
METHODS = ("qr", "pin", "manual")
FIELDS = (
    "type", "id", "action", "provider", "receiver", "fulfills", "finished", "hasPointInTime", "published",
    "clockKind", "clockMethod", "manualReason", "homeToken", "homePin", "recordedOffline",
)  # fmt: skip
"""Everything an event may say: :func:`event_json` writes nothing else."""


MSG_REMOTE = N_("Give the holder's actor and its visit as addresses of another node.")


class Refused(Exception):
    """An event A does not take (the reason is for the log, never shown to a person)."""


def visit_uri(settings: Settings, visit_id: int) -> str:
    """A's URL of a visit, as events name it (no page answers it outside A's coordinators)."""
    return settings.url(f"{VISIT_PATH}{visit_id}")


@dataclass(frozen=True)
class VisitClock:
    """A check-in or check-out of a visit held by another node, as it travels."""

    id: str
    provider: str
    receiver: str
    fulfills: str
    kind: str  # in | out
    at: datetime
    method: str  # qr | pin | manual
    manual_reason: str = ""
    token: str = ""
    pin: str = ""
    offline: bool = False
    published: datetime | None = None


def event_json(clock: VisitClock) -> dict[str, Any]:
    """The ``EconomicEvent`` of one clock event (no ``@context``: the activity carries it)."""
    document: dict[str, Any] = {
        "type": "EconomicEvent",
        "id": clock.id,
        "action": "deliverService",
        "provider": clock.provider,
        "receiver": clock.receiver,
        "fulfills": clock.fulfills,
        "finished": clock.kind == "out",
        "hasPointInTime": isoformat(clock.at),
        "clockKind": clock.kind,
        "clockMethod": clock.method,
        "recordedOffline": clock.offline,
    }
    if clock.published is not None:
        document["published"] = isoformat(clock.published)
    if clock.method == "manual":
        document["manualReason"] = clock.manual_reason
    if clock.method == "qr":
        document["homeToken"] = clock.token
    if clock.method == "pin":
        document["homePin"] = clock.pin
    assert set(document) <= set(FIELDS)
    return document


def create_json(clock: VisitClock) -> dict[str, Any]:
    """The ``Create`` activity the provider's actor sends to the holder's node actor only."""
    return {
        "@context": CONTEXT,
        "type": "Create",
        "id": clock.id + "#create",
        "actor": clock.provider,
        "object": event_json(clock),
        "to": [clock.receiver],
    }


def text_field(
    document: Mapping[str, Any], name: str, max_length: int = 2048, *, required: bool = True
) -> str:
    value = document.get(name, "")
    if not isinstance(value, str) or len(value) > max_length or (required and not value):
        raise Refused(f"{name} is missing or malformed")
    return value


def clock_from_json(document: Mapping[str, Any]) -> VisitClock:
    """Read an event (unknown fields ignored; what is missing or malformed refused, named)."""
    if document.get("type") != "EconomicEvent" or document.get("action") != "deliverService":
        raise Refused("not a service delivery event")
    kind, method = text_field(document, "clockKind", 3), text_field(document, "clockMethod", 8)
    if kind not in ("in", "out") or method not in METHODS:
        raise Refused("clockKind or clockMethod is not one we know")
    try:
        at = datetime.fromisoformat(text_field(document, "hasPointInTime", 40))
    except ValueError:
        raise Refused("hasPointInTime is not a time") from None
    if at.tzinfo is None:
        raise Refused("hasPointInTime has no offset")
    offline = document.get("recordedOffline", False)
    if not isinstance(offline, bool):
        raise Refused("recordedOffline is not a boolean")
    return VisitClock(
        id=text_field(document, "id"),
        provider=text_field(document, "provider"),
        receiver=text_field(document, "receiver"),
        fulfills=text_field(document, "fulfills"),
        kind=kind,
        at=at,
        method=method,
        manual_reason=text_field(document, "manualReason", 24, required=method == "manual"),
        token=text_field(document, "homeToken", 100, required=method == "qr"),
        pin=text_field(document, "homePin", 6, required=method == "pin"),
        offline=offline,
    )


def send_clock(
    session: Session,
    settings: Settings,
    provider: User,
    *,
    holder: str,
    visit: str,
    kind: str,
    token: str = "",
    pin: str = "",
    manual_reason: str = "",
    at: datetime | None = None,
    offline: bool = False,
    event: str | None = None,
) -> VisitClock:
    """On the provider's node: clock a visit another node holds, by sending the event to that node's
    actor only (queued in this transaction, delivered by the worker). ``event`` (hex) names the event,
    a fresh one by default."""
    if kind not in ("in", "out"):
        raise ValidationFailed(N_("Clock in or out."), fields={"kind": N_("Clock in or out.")})
    if token.strip():
        method = "qr"
    elif pin.strip():
        method = "pin"
    elif manual_reason in clocking.MANUAL_REASONS:
        method = "manual"
    else:
        raise ValidationFailed(
            clocking.MSG_MANUAL_REASON, fields={"manual_reason": clocking.MSG_MANUAL_REASON}
        )
    for uri in (holder, visit):
        if not uri.startswith(("https://", "http://")) or local.is_local(settings, uri) or len(uri) > 2048:
            raise ValidationFailed(MSG_REMOTE, fields={"visit": MSG_REMOTE})
    now = utcnow()
    actor = local.person(settings, provider)
    clock = VisitClock(
        id=event_uri(settings, event or uuid.uuid4().hex),
        provider=actor.uri,
        receiver=holder,
        fulfills=visit,
        kind=kind,
        at=(at or now).replace(microsecond=0),
        method=method,
        manual_reason=manual_reason if method == "manual" else "",
        token=token.strip() if method == "qr" else "",
        pin=pin.strip() if method == "pin" else "",
        offline=offline,
        published=now,
    )
    publish(settings, session=session, actor=actor, activity=create_json(clock), recipients=[holder])
    return clock


def event_uri(settings: Settings, event: str) -> str:
    """Our address of a clock event we send, from its name (hex)."""
    return settings.url(f"/telemanagement/clock-events/{event}")


def sent_already(session: Session, settings: Settings, event: str) -> bool:
    """Whether the clock event named ``event`` is in our outbox already."""
    activity_id = event_uri(settings, event) + "#create"
    return (
        session.exec(select(OutboxActivity.id).where(OutboxActivity.activity_id == activity_id)).first()
        is not None
    )


def _client_id(event_id: str) -> str:
    return "fed-" + hashlib.sha256(event_id.encode()).hexdigest()[:40]


def receive(session: Session, settings: Settings, clock: VisitClock, signer: str) -> ClockLogEntry | None:
    """Record another node's check-in or check-out of one of our visits and chain it; ``None`` when
    this event was recorded already. :class:`Refused`, or the clock's own refusals, otherwise."""
    if clock.provider != signer or not same_origin(clock.id, signer):
        raise Refused("the event is not its provider's, or not from the provider's node")
    path = urlsplit(clock.fulfills).path
    number = path.removeprefix(VISIT_PATH)
    if (
        not local.is_local(settings, clock.fulfills)
        or not path.startswith(VISIT_PATH)
        or not number.isdigit()
    ):
        raise Refused("the event names no visit of this node")
    visit_id = int(number)
    given = session.get(RemoteAssignment, visit_id)
    if given is None or given.actor_uri != signer:
        raise Refused("this visit is not given to that provider")
    if clocklog.entry_by_client_id(session, _client_id(clock.id)) is not None:
        return None
    visit = clockpath.locked_visit(session, visit_id)
    if visit is None:
        raise Refused("the event names no visit of this node")
    now = utcnow()
    moment = clock.at.replace(microsecond=0)
    if moment > now + clocking.LATEST or moment < now - clocking.EARLIEST:
        raise ValidationFailed(clocking.MSG_TIME, fields={"at": clocking.MSG_TIME})
    if clock.method == "qr":
        if clocking.home_of_token(session, settings, clock.token).id != visit.beneficiary_id:
            raise ValidationFailed(clocking.MSG_OTHER_HOME, fields={"token": clocking.MSG_OTHER_HOME})
    elif clock.method == "pin":
        door.check_pin(session, settings, visit.beneficiary_id, clock.pin)
    elif clock.manual_reason not in clocking.MANUAL_REASONS:
        raise ValidationFailed(clocking.MSG_MANUAL_REASON)
    clocking.move(session, visit, clock.kind, moment)
    clockpath.save_move(session, visit, clock.kind, moment)
    event: dict[str, Any] = {
        "visit_id": visit_id,
        "kind": clock.kind,
        "at": moment,
        "received_at": now,
        "method": clock.method,
        "manual_reason": clock.manual_reason if clock.method == "manual" else "",
        "provider_id": None,
    }
    event_id = clockpath.insert_event(session, event)
    link = clocklog.record_clocked(
        session,
        {**event, "event_id": event_id, "offline": clock.offline},
        client_id=_client_id(clock.id),
        origin=clock.id,
    )
    return ClockLogEntry(**link)
