"""What a provider shows at the door besides the home's QR code: the home's PIN, an event sent again
from a phone that was offline, and the optional one-off position check.

- **PIN.** A coordinator draws a six-digit PIN for a home; it is shown once, to be written in the
  home's copy of the plan, and only its HMAC under a key of the node secret is stored (a copy of the
  database does not give the PINs away, unlike a bare hash of six digits). The beneficiary gives it to
  the provider, who types it instead of scanning the code. Drawing a new PIN replaces the old one.
  After ``telemanagement_pin_max_failures`` wrong PINs in a row the PIN is locked (:class:`WrongPin`
  says so; the coordinator's page shows it) until a coordinator draws a new one. Each wrong PIN is
  counted in the transaction that refuses the event, committed although the event is not recorded
  (as a failed login is, :func:`node.accounts.service.authenticate`), so that guessing cannot go on
  by having every try rolled back; inside a caller's savepoint (an event from another node, in the
  inbox) the caller keeps it (:mod:`node.telemanagement.inbox`).
- **NFC.** A tag stuck in the home carries the same signed URL as the QR code (``/home/<token>``,
  written as an NDEF URI record with any tag-writing app): a phone that reads it opens the same page,
  and the event is recorded as one made with the home's code.
- **Sent again.** The provider's page keeps events made offline with the phone's time and an id of
  its own (:data:`CLIENT_ID`); the node records an event once per id and answers a repeat with the
  event first recorded.
- **Position** (CNIL: no tracking; off unless ``telemanagement_position_check``). At clock time only,
  the phone may send its position; it is compared with the centre of the home's commune within
  ``telemanagement_position_km`` and only the result (``inside``, ``outside``, ``unknown``) is kept in
  the clock log. The position itself is never written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core.errors import N_, Conflict, ValidationFailed
from node.places.gazetteer import default_gazetteer, great_circle_km
from node.settings import Settings
from node.telemanagement import clocklog, plans
from node.telemanagement.models import Beneficiary, CarePlan, ClockEvent
from node.telemanagement.tables import ClockLogEntry, HomePin

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
PIN_DIGITS = 6

MSG_PIN = N_("This PIN is not this home's.")
MSG_PIN_LOCKED = N_(
    "Too many wrong PINs: this home's PIN is locked until the coordinator draws a new one. Scan the "
    "home's code, or clock by hand with a reason."
)
MSG_NO_PIN = N_("This home has no PIN: ask the coordinator, or clock another way.")
MSG_CLIENT_ID = N_("The event's id must be 8 to 64 letters, digits, - or _.")
MSG_ID_REUSED = N_("This event id was already used for another event.")
MSG_POSITION = N_("A position is a latitude between -90 and 90 and a longitude between -180 and 180.")


def _pin_mac(settings: Settings, beneficiary_id: int, pin: str) -> str:
    key = hashlib.sha256(b"tm-home-pin/1\0" + settings.effective_secret_key.encode()).digest()
    return hmac.new(key, f"{beneficiary_id}:{pin}".encode(), hashlib.sha256).hexdigest()


def new_pin(session: Session, settings: Settings, user: User, beneficiary_id: int) -> str:
    """Draw the home's PIN (coordinators), replacing any previous one; the only time it is readable."""
    plans.require_coordinator(user)
    home = plans.beneficiary(session, beneficiary_id)
    assert home.id is not None
    pin = f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"
    row = session.get(HomePin, home.id) or HomePin(beneficiary_id=home.id, pin_hash="")
    row.pin_hash, row.failures = _pin_mac(settings, home.id, pin), 0
    session.add(row)
    session.flush()
    return pin


def has_pin(session: Session, beneficiary_id: int) -> bool:
    return session.get(HomePin, beneficiary_id) is not None


class WrongPin(ValidationFailed):
    """A PIN refused: not the home's, or the home's PIN locked by too many wrong ones."""


def is_locked(settings: Settings, row: HomePin) -> bool:
    return row.failures >= settings.telemanagement_pin_max_failures


def locked(session: Session, settings: Settings, beneficiary_id: int) -> bool:
    """Whether the home's PIN is locked by too many wrong ones (the coordinator's page shows it)."""
    row = session.get(HomePin, beneficiary_id)
    return row is not None and is_locked(settings, row)


def check_pin(session: Session, settings: Settings, beneficiary_id: int, pin: str) -> None:
    """Nothing when ``pin`` is the home's and not locked (its count of wrong ones starts again);
    :class:`WrongPin` otherwise, the wrong one counted and kept (see the module docstring)."""
    row = session.get(HomePin, beneficiary_id, with_for_update=True)
    if row is None:
        raise ValidationFailed(MSG_NO_PIN, fields={"pin": MSG_NO_PIN})
    if is_locked(settings, row):
        raise WrongPin(MSG_PIN_LOCKED, fields={"pin": MSG_PIN_LOCKED})
    given = pin.strip()
    if not (given.isdigit() and len(given) == PIN_DIGITS) or not hmac.compare_digest(
        row.pin_hash, _pin_mac(settings, beneficiary_id, given)
    ):
        row.failures += 1
        session.add(row)
        session.flush()
        if not session.in_nested_transaction():
            session.commit()
        message = MSG_PIN_LOCKED if is_locked(settings, row) else MSG_PIN
        raise WrongPin(message, fields={"pin": message})
    if row.failures:
        row.failures = 0
        session.add(row)


def resent(session: Session, client_id: str, visit_id: int, kind: str) -> ClockEvent | None:
    """The event already recorded under ``client_id``, if any (and it must be the same event)."""
    if not CLIENT_ID.match(client_id):
        raise ValidationFailed(MSG_CLIENT_ID, fields={"client_id": MSG_CLIENT_ID})
    link = clocklog.entry_by_client_id(session, client_id)
    if link is None:
        return None
    if (link.visit_id, link.kind) != (visit_id, kind) or link.event_id is None:
        raise Conflict(MSG_ID_REUSED)
    return session.get(ClockEvent, link.event_id)


def offline_of(session: Session, event_ids: list[int]) -> set[int]:
    """Which of these events were recorded offline."""
    if not event_ids:
        return set()
    rows = session.exec(
        select(ClockLogEntry.event_id).where(
            col(ClockLogEntry.event_id).in_(event_ids), col(ClockLogEntry.offline).is_(True)
        )
    )
    return {event_id for event_id in rows if event_id is not None}


def position_result(
    session: Session, settings: Settings, plan: CarePlan, position: tuple[float, float] | None
) -> str:
    """``inside``, ``outside`` or ``unknown`` (no commune known) when the node checks positions and
    the phone gave one; ``""`` otherwise. The position is not kept."""
    if not settings.telemanagement_position_check or position is None:
        return ""
    lat, lon = position
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationFailed(MSG_POSITION, fields={"position": MSG_POSITION})
    home = session.get(Beneficiary, plan.beneficiary_id)
    found = default_gazetteer().search(home.commune, limit=1) if home and home.commune.strip() else []
    if not found or found[0].lat is None or found[0].lon is None:
        return "unknown"
    distance = great_circle_km(lat, lon, found[0].lat, found[0].lon)
    return "inside" if distance <= settings.telemanagement_position_km else "outside"


def outside_area(session: Session, visit_ids: list[int]) -> set[int]:
    """Which of these visits were clocked away from the home's commune (the ``out_of_area`` anomaly)."""
    if not visit_ids:
        return set()
    rows = session.exec(
        select(ClockLogEntry.visit_id).where(
            col(ClockLogEntry.visit_id).in_(visit_ids), ClockLogEntry.position == "outside"
        )
    )
    return set(rows)
