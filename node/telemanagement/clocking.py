"""Clocking at the door: check-in and check-out by the home's QR code, or by hand with a reason.

The QR code printed for a home carries a URL with a token ``<beneficiary>.<generation>.<mac>``, the mac
an HMAC of the first two parts under a key derived from the node secret. Revoking a home's code bumps
its generation: the printed code stops working and a new one is printed. A token proves the provider
stood where the code is (or held a photo of it: the manual method is no weaker, and says so).

The home's PIN, an NFC tag, events sent again from a phone that was offline and the optional one-off
position check (never stored) are in :mod:`node.telemanagement.door`. Each event keeps the time the
provider gave (the phone's clock, for an event sent late) and the time the node received it; the anomaly
list compares them with the plan. Each is chained into the tamper-evident clock log
(:mod:`node.telemanagement.clocklog`) in the same transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import segno
from sqlmodel import Session, select

from node.accounts.models import User
from node.core.errors import N_, Conflict, NotFound, PermissionDenied, ValidationFailed
from node.core.timeutil import utcnow
from node.settings import Settings
from node.telemanagement import clocklog, clockpath, door, locks, plans
from node.telemanagement.lifecycles import VISIT_LIFECYCLE, VisitState
from node.telemanagement.models import Beneficiary, CarePlan, ClockEvent, Visit
from node.telemanagement.plans import PrivateDetails
from node.telemanagement.visits import VisitLine, between, of_the_day, provider_day_bounds
from node.telemanagement.visits import today as visits_today

MANUAL_REASONS = ("qr_missing", "qr_damaged", "camera_broken", "no_network", "other")
EARLIEST = timedelta(days=7)  # an event sent late, from a phone that was offline
LATEST = timedelta(minutes=5)  # a phone clock a little ahead

MSG_TOKEN = N_("This code is not valid: it was revoked, damaged or made elsewhere.")
MSG_OTHER_HOME = N_("This code belongs to another home than this visit's.")
MSG_NOT_YOURS = N_("This visit is not assigned to you.")
MSG_MANUAL_REASON = N_("Say why you clock by hand.")
MSG_ALREADY_IN = N_("You already checked in for this visit.")
MSG_NOT_IN = N_("Check in before checking out.")
MSG_ALREADY_OUT = N_("You already checked out of this visit.")
MSG_BEFORE_IN = N_("The check-out cannot be before the check-in.")
MSG_TIME = N_("The clock time must be within the last seven days and not in the future.")
MSG_CANCELLED = N_("This visit was cancelled.")


def _mac(settings: Settings, message: str) -> str:
    key = hashlib.sha256(b"tm-home-qr/1\0" + settings.effective_secret_key.encode()).digest()
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()[:15]
    return base64.urlsafe_b64encode(digest).decode()


def home_token(settings: Settings, home: Beneficiary) -> str:
    message = f"{home.id}.{home.qr_generation}"
    return f"{message}.{_mac(settings, message)}"


def home_url(settings: Settings, home: Beneficiary) -> str:
    """What the QR code says: a page of this node that a phone's camera opens."""
    return settings.url(f"/home/{home_token(settings, home)}")


def home_qr_svg(settings: Settings, home: Beneficiary) -> str:
    """The home's QR code as an SVG document (quiet zone included), for printing."""
    out = io.BytesIO()
    segno.make(home_url(settings, home), error="m").save(out, kind="svg", scale=6, title=home.name)
    return out.getvalue().decode()


def home_of_token(session: Session, settings: Settings, token: str) -> Beneficiary:
    """The home a token names, if the token is genuine and current."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts[:2]) or len(token) > 100:
        raise ValidationFailed(MSG_TOKEN, fields={"token": MSG_TOKEN})
    expected = _mac(settings, f"{parts[0]}.{parts[1]}")
    if not hmac.compare_digest(expected, parts[2]):
        raise ValidationFailed(MSG_TOKEN, fields={"token": MSG_TOKEN})
    home = session.get(Beneficiary, int(parts[0]))
    if home is None or home.qr_generation != int(parts[1]):
        raise ValidationFailed(MSG_TOKEN, fields={"token": MSG_TOKEN})
    return home


def revoke_home_code(session: Session, user: User, beneficiary_id: int) -> Beneficiary:
    """Make the printed code useless; the next one printed has a new token."""
    plans.require_coordinator(user)
    home = plans.beneficiary(session, beneficiary_id)
    home.qr_generation += 1
    session.add(home)
    return home


def clock(
    session: Session,
    settings: Settings,
    provider: User,
    visit_id: int,
    kind: str,
    *,
    token: str = "",
    manual_reason: str = "",
    at: datetime | None = None,
    pin: str = "",
    offline: bool = False,
    client_id: str | None = None,
    position: tuple[float, float] | None = None,
) -> clockpath.Clocked:
    """Check in (``kind="in"``) or out (``"out"``) of a visit assigned to ``provider``: with the home's
    token, the home's PIN, or by hand with one of :data:`MANUAL_REASONS`. ``at`` is the phone's time of
    the event when it was kept offline (``offline``); an event sent again with the same ``client_id``
    gives back the first one. ``position`` (latitude, longitude) is compared with the home's commune
    when the node checks positions, and forgotten. Every event is chained into the clock log; nothing
    is recorded when anything is wrong."""
    if kind not in ("in", "out"):
        raise ValidationFailed(N_("Clock in or out."), fields={"kind": N_("Clock in or out.")})
    # Locked: two check-ins sent at once (a double tap, a phone resending) are taken one after the other.
    visit = clockpath.locked_visit(session, visit_id)
    if visit is None:
        raise NotFound(N_("No such visit."))
    if visit.provider_id is None or visit.provider_id != provider.id:
        raise PermissionDenied(MSG_NOT_YOURS)
    if client_id is not None:
        sent = door.resent(session, client_id, visit_id, kind)
        if sent is not None:
            return clockpath.Clocked.of(sent, offline=bool(door.offline_of(session, [sent.id or 0])))
    now = utcnow()
    moment = (at or now).replace(microsecond=0)
    if moment.tzinfo is None or moment > now + LATEST or moment < now - EARLIEST:
        raise ValidationFailed(MSG_TIME, fields={"at": MSG_TIME})
    if token.strip():
        home = home_of_token(session, settings, token)
        if home.id != visit.beneficiary_id:
            raise ValidationFailed(MSG_OTHER_HOME, fields={"token": MSG_OTHER_HOME})
        method, reason = "qr", ""
    elif pin.strip():
        door.check_pin(session, settings, visit.beneficiary_id, pin)
        method, reason = "pin", ""
    elif manual_reason in MANUAL_REASONS:
        method, reason = "manual", manual_reason
    else:
        raise ValidationFailed(MSG_MANUAL_REASON, fields={"manual_reason": MSG_MANUAL_REASON})
    move(session, visit, kind, moment)
    clockpath.save_move(session, visit, kind, moment)
    event = {
        "visit_id": visit_id,
        "kind": kind,
        "at": moment,
        "received_at": now,
        "method": method,
        "manual_reason": reason,
        "provider_id": provider.id,
    }
    event_id = clockpath.insert_event(session, event)
    where = (
        door.position_result(session, settings, plan_of_visit(session, visit), position) if position else ""
    )
    clocklog.record_clocked(
        session, {**event, "event_id": event_id, "offline": offline}, client_id=client_id, position=where
    )
    return clockpath.Clocked(event_id, visit_id, kind, moment, now, method, reason, provider.id, offline)


def move(session: Session, visit: clockpath.LockedVisit, kind: str, moment: datetime) -> None:
    """Check ``visit`` in or out at ``moment``: its next state, or the refusal that fits (a cancelled
    visit, a month already validated, a visit not in the right state). The caller writes it."""
    if visit.state == VisitState.CANCELLED:
        raise Conflict(MSG_CANCELLED)
    if clockpath.month_validated(session, visit.funder_id, locks.month_of(visit.starts_at)):
        raise Conflict(locks.MSG_LOCKED)
    if kind == "in":
        if visit.state != VisitState.PLANNED:
            raise Conflict(MSG_ALREADY_IN)
        visit.state = VISIT_LIFECYCLE.check(visit.state, VisitState.IN_PROGRESS)
        visit.checked_in_at = moment
    else:
        if visit.state == VisitState.DONE:
            raise Conflict(MSG_ALREADY_OUT)
        if visit.state != VisitState.IN_PROGRESS or visit.checked_in_at is None:
            raise Conflict(MSG_NOT_IN)
        if moment < visit.checked_in_at:
            raise ValidationFailed(MSG_BEFORE_IN, fields={"at": MSG_BEFORE_IN})
        visit.state = VISIT_LIFECYCLE.check(visit.state, VisitState.DONE)
        visit.checked_out_at = moment


def plan_of_visit(session: Session, visit: Visit | clockpath.LockedVisit) -> CarePlan:
    plan = session.get(CarePlan, visit.plan_id)
    assert plan is not None
    return plan


def events_of(session: Session, visit_id: int) -> list[ClockEvent]:
    return list(session.exec(select(ClockEvent).where(ClockEvent.visit_id == visit_id)))


@dataclass(frozen=True)
class DoorVisit:
    """A visit of a provider's day with what they need at the door (opened for them only)."""

    line: VisitLine
    details: PrivateDetails


def provider_day(session: Session, settings: Settings, provider: User, day: date) -> list[DoorVisit]:
    """The provider's visits of a Paris day (with those of the evening before still running or waiting for
    their check-out, :func:`~node.telemanagement.visits.of_the_day`), with the address and door code of
    each home. The health details stay on the coordinators' pages."""
    start, end = provider_day_bounds(day)
    lines = [
        line
        for line in between(session, start, end, provider_id=provider.id)
        if of_the_day(
            day,
            line.visit.starts_at,
            line.visit.ends_at,
            line.visit.checked_out_at,
            line.visit.state == VisitState.CANCELLED,
        )
    ]
    opened: dict[int, PrivateDetails] = {}
    for line in lines:
        if line.beneficiary_id not in opened:
            full = plans.private_details(
                session,
                settings,
                plans.beneficiary(session, line.beneficiary_id),
                reader_id=provider.id,
                fields="address,door_code",
                purpose="provider_day",
            )
            opened[line.beneficiary_id] = PrivateDetails(address=full.address, door_code=full.door_code)
    return [DoorVisit(line, opened[line.beneficiary_id]) for line in lines]


def at_home(
    session: Session, settings: Settings, provider: User, token: str
) -> tuple[Beneficiary, list[DoorVisit]]:
    """What a scanned code opens: the home, and the provider's visits there today (none is fine)."""
    home = home_of_token(session, settings, token)
    today = [
        door
        for door in provider_day(session, settings, provider, visits_today())
        if door.line.beneficiary_id == home.id
    ]
    return home, today
