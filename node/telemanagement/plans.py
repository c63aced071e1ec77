"""Funders, beneficiaries and care plans, entered by coordinators.

A beneficiary's address, door code and health details are sealed together at rest (purpose
``tm-beneficiary/1``) and opened only for the coordinators' pages and, for the address and door code,
for the provider of a visit there (:func:`private_details`). A plan's terms change by adding a version
from a later date: the previous version ends the day before, nothing is edited, so what a funder was
told for a past month stays true.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.catalog import categories
from node.core.db import one
from node.core.errors import N_, Conflict, PermissionDenied, ValidationFailed
from node.core.sealing import seal, unseal
from node.settings import Settings
from node.telemanagement import notes
from node.telemanagement.models import Beneficiary, CarePlan, CarePlanHours, CarePlanVersion, Funder

PRIVATE_PURPOSE = "tm-beneficiary/1"
FUNDER_KINDS = ("apa", "pch", "pension", "mutual", "insurer", "private")
BILLING_MODES = ("direct", "beneficiary")

MSG_REQUIRED = N_("This field is required.")
MSG_KIND = N_("Choose one of the listed kinds.")
MSG_BILLING = N_("Choose how this funder is billed.")
MSG_TOO_LONG = N_("This text is too long.")
MSG_DATE = N_("Enter a date as YYYY-MM-DD.")
MSG_RATE = N_("Enter an amount in euros, for example 24.58.")
MSG_PERCENT = N_("Enter a percentage between 0 and 100.")
MSG_HOURS = N_("Enter hours per month for at least one activity, above 0 and at most 744.")
MSG_CATEGORY = N_("Unknown activity.")
MSG_UNTIL = N_("The end of validity must not be before its start.")
MSG_FOLDER_TAKEN = N_("This funder already has a plan with this folder number.")
MSG_VERSION_DATE = N_("A new version must start after the current version's start.")
MSG_SIRET = N_("A SIRET has 14 digits.")


@dataclass(frozen=True)
class PrivateDetails:
    """What is sealed about a beneficiary."""

    address: str = ""
    door_code: str = ""
    health: str = ""

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"address": self.address, "door_code": self.door_code, "health": self.health}
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> PrivateDetails:
        data = json.loads(raw)
        return cls(address=data["address"], door_code=data["door_code"], health=data["health"])


def require_coordinator(user: User) -> None:
    if not user.is_coordinator:
        raise PermissionDenied(N_("Only coordinators manage care plans and visits."))


def _text(errors: dict[str, str], name: str, value: str, max_length: int, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        errors[name] = MSG_REQUIRED
    elif len(value) > max_length:
        errors[name] = MSG_TOO_LONG
    return value


def create_funder(
    session: Session, user: User, *, name: str, kind: str, billing: str, reference: str = "", siret: str = ""
) -> Funder:
    """A funder, as a coordinator enters it."""
    require_coordinator(user)
    errors: dict[str, str] = {}
    funder = Funder(
        name=_text(errors, "name", name, 120),
        kind=kind,
        billing=billing,
        reference=_text(errors, "reference", reference, 60, required=False),
        siret=siret.replace(" ", ""),
    )
    if kind not in FUNDER_KINDS:
        errors["kind"] = MSG_KIND
    if billing not in BILLING_MODES:
        errors["billing"] = MSG_BILLING
    if funder.siret and not re.fullmatch(r"\d{14}", funder.siret):
        errors["siret"] = MSG_SIRET
    if errors:
        raise ValidationFailed(N_("Check the highlighted fields."), fields=errors)
    session.add(funder)
    session.flush()
    return funder


def funders(session: Session) -> list[Funder]:
    return list(session.exec(select(Funder).order_by(col(Funder.name))))


def create_beneficiary(
    session: Session,
    settings: Settings,
    user: User,
    *,
    name: str,
    commune: str = "",
    address: str = "",
    door_code: str = "",
    health: str = "",
) -> Beneficiary:
    """A beneficiary, with what must stay private sealed at once."""
    require_coordinator(user)
    errors: dict[str, str] = {}
    details = PrivateDetails(
        address=_text(errors, "address", address, 300, required=False),
        door_code=_text(errors, "door_code", door_code, 60, required=False),
        health=_text(errors, "health", health, 4000, required=False),
    )
    row = Beneficiary(
        name=_text(errors, "name", name, 120),
        commune=_text(errors, "commune", commune, 80, required=False),
        private_sealed=seal_details(settings, details),
    )
    if errors:
        raise ValidationFailed(N_("Check the highlighted fields."), fields=errors)
    session.add(row)
    session.flush()
    return row


def seal_details(settings: Settings, details: PrivateDetails) -> str:
    """A beneficiary's private details, sealed for ``private_sealed``."""
    return seal(settings.effective_secret_key, PRIVATE_PURPOSE, details.to_bytes())


def beneficiary(session: Session, beneficiary_id: int) -> Beneficiary:
    found = one(session, Beneficiary, beneficiary_id, N_("No such beneficiary."))
    return found


def beneficiaries(session: Session) -> list[Beneficiary]:
    return list(session.exec(select(Beneficiary).order_by(col(Beneficiary.name))))


def private_details(
    session: Session,
    settings: Settings,
    row: Beneficiary,
    *,
    reader_id: int | None,
    fields: str,
    purpose: str,
) -> PrivateDetails:
    """The sealed details, opened, the opening logged (:func:`node.telemanagement.notes.record_access`)
    with the fields the caller shows (``address,door_code,health``) and ``reader_id`` (none: the node
    itself, for a document it issues). Callers decide who may see which part."""
    notes.record_access(session, reader_id, "beneficiary", row.id or 0, fields, purpose)
    return PrivateDetails.from_bytes(
        unseal(settings.effective_secret_key, PRIVATE_PURPOSE, row.private_sealed)
    )


@dataclass(frozen=True)
class Terms:
    """The terms of a plan version, checked (see :func:`parse_terms`)."""

    valid_from: date
    valid_until: date | None
    hourly_rate_cents: int
    participation_bp: int
    minutes: dict[str, int]


def parse_terms(
    *, valid_from: str, valid_until: str, hourly_rate: str, participation: str, hours: dict[str, str]
) -> Terms:
    """Check a version's terms as typed (decimal commas accepted); every bad field is named."""
    errors: dict[str, str] = {}
    start = end = None
    try:
        start = date.fromisoformat(valid_from.strip())
    except ValueError:
        errors["valid_from"] = MSG_DATE
    if valid_until.strip():
        try:
            end = date.fromisoformat(valid_until.strip())
        except ValueError:
            errors["valid_until"] = MSG_DATE
    if start and not 2000 <= start.year <= 2100:
        errors["valid_from"] = MSG_DATE
    if end and not 2000 <= end.year <= 2100:
        errors["valid_until"] = MSG_DATE
    if start and end and end < start:
        errors["valid_until"] = MSG_UNTIL
    rate = _decimal(hourly_rate)
    if rate is None or rate < 0 or rate > 1000 or rate.as_tuple().exponent < -2:  # type: ignore[operator]
        errors["hourly_rate"] = MSG_RATE
    share = _decimal(participation)
    if share is None or share < 0 or share > 100 or share.as_tuple().exponent < -2:  # type: ignore[operator]
        errors["participation"] = MSG_PERCENT
    minutes: dict[str, int] = {}
    for category, value in hours.items():
        if not value.strip():
            continue
        if not categories.is_category(category):
            errors["hours"] = MSG_CATEGORY
            continue
        amount = _decimal(value)
        if amount is None or amount <= 0 or amount > 744:
            errors["hours"] = MSG_HOURS
            continue
        minutes[category] = int((amount * 60).to_integral_value())
    if not minutes and "hours" not in errors:
        errors["hours"] = MSG_HOURS
    if errors:
        raise ValidationFailed(N_("Check the highlighted fields."), fields=errors)
    assert start is not None and rate is not None and share is not None
    return Terms(start, end, int(rate * 100), int(share * 100), minutes)


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value.strip().replace(",", ".").replace("\u00a0", "").replace(" ", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def create_plan(
    session: Session, user: User, *, beneficiary_id: int, funder_id: int, folder_number: str, terms: Terms
) -> CarePlan:
    """A plan with its first version."""
    require_coordinator(user)
    beneficiary(session, beneficiary_id)
    if session.get(Funder, funder_id) is None:
        raise ValidationFailed(N_("Check the highlighted fields."), fields={"funder": N_("No such funder.")})
    errors: dict[str, str] = {}
    folder = _text(errors, "folder_number", folder_number, 60)
    if errors:
        raise ValidationFailed(N_("Check the highlighted fields."), fields=errors)
    taken = session.exec(
        select(CarePlan.id).where(CarePlan.funder_id == funder_id, CarePlan.folder_number == folder)
    ).first()
    if taken is not None:
        raise Conflict(MSG_FOLDER_TAKEN, fields={"folder_number": MSG_FOLDER_TAKEN})
    plan = CarePlan(
        beneficiary_id=beneficiary_id, funder_id=funder_id, folder_number=folder, created_by_id=user.id
    )
    session.add(plan)
    session.flush()
    _add_version(session, user, plan, 1, terms)
    return plan


def add_version(session: Session, user: User, plan_id: int, terms: Terms) -> CarePlanVersion:
    """A new version from ``terms.valid_from``; the current one ends the day before."""
    require_coordinator(user)
    plan = plan_of(session, plan_id)
    current = versions(session, plan.id or 0)[-1]
    if terms.valid_from <= current.valid_from:
        raise ValidationFailed(MSG_VERSION_DATE, fields={"valid_from": MSG_VERSION_DATE})
    current.valid_until = terms.valid_from - timedelta(days=1)
    session.add(current)
    return _add_version(session, user, plan, current.number + 1, terms)


def add_first_version(session: Session, user: User, plan: CarePlan, terms: Terms) -> CarePlanVersion:
    """The first version of a plan just written (the caller checked who asks)."""
    return _add_version(session, user, plan, 1, terms)


def _add_version(session: Session, user: User, plan: CarePlan, number: int, terms: Terms) -> CarePlanVersion:
    assert plan.id is not None
    version = CarePlanVersion(
        plan_id=plan.id,
        number=number,
        valid_from=terms.valid_from,
        valid_until=terms.valid_until,
        hourly_rate_cents=terms.hourly_rate_cents,
        participation_bp=terms.participation_bp,
        created_by_id=user.id,
    )
    session.add(version)
    session.flush()
    assert version.id is not None
    for category, minutes in terms.minutes.items():
        session.add(CarePlanHours(version_id=version.id, category=category, minutes_per_month=minutes))
    session.flush()
    return version


def plan_of(session: Session, plan_id: int) -> CarePlan:
    found = one(session, CarePlan, plan_id, N_("No such care plan."))
    return found


def plans(session: Session, *, beneficiary_id: int | None = None) -> list[CarePlan]:
    query = select(CarePlan).order_by(col(CarePlan.id))
    if beneficiary_id is not None:
        query = query.where(CarePlan.beneficiary_id == beneficiary_id)
    return list(session.exec(query))


def versions(session: Session, plan_id: int) -> list[CarePlanVersion]:
    """The versions of a plan, oldest first."""
    return list(
        session.exec(
            select(CarePlanVersion)
            .where(CarePlanVersion.plan_id == plan_id)
            .order_by(col(CarePlanVersion.number))
        )
    )


def hours_of(session: Session, version_id: int) -> dict[str, int]:
    """Minutes per month per activity granted by a version."""
    rows = session.exec(select(CarePlanHours).where(CarePlanHours.version_id == version_id))
    return {row.category: row.minutes_per_month for row in rows}


def version_on(session: Session, plan_id: int, day: date) -> CarePlanVersion | None:
    """The version in force on ``day``, if any."""
    for version in versions(session, plan_id):
        if version.valid_from <= day and (version.valid_until is None or day <= version.valid_until):
            return version
    return None
