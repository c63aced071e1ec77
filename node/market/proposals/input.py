"""What a person types to post or change an offer or a demand, and the checks it must pass.

:class:`ProposalInput` holds strings as typed (web forms and the API fill it alike);
:func:`validate` turns it into checked values or raises :class:`~node.core.errors.ValidationFailed` naming
every faulty field at once (the rules are listed in :mod:`node.market.proposals.service`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import cast
from zoneinfo import ZoneInfo

from node.accounts.models import User
from node.catalog import eligibility
from node.catalog.categories import by_slug, is_category
from node.core.errors import N_, ValidationFailed
from node.core.text import clean_description, plain_text
from node.market import schedule as sched
from node.market.models import Proposal
from node.market.money import Basis, Currency, Price, check_total, parse_hours, parse_price
from node.market.proposals.records import schedule_of
from node.places.gazetteer import POSTAL_CODE, Commune, default_gazetteer
from node.settings import Mode, Settings

__all__ = [
    "LIFETIME_DEFAULT_DAYS",
    "LIFETIME_MAX_DAYS",
    "TITLE_MAX",
    "TITLE_MIN",
    "CleanProposal",
    "ProposalInput",
    "currencies_for",
    "input_of",
    "validate",
]

TITLE_MIN = 5
TITLE_MAX = 120
DESCRIPTION_MAX = 5000
LIFETIME_DEFAULT_DAYS = 30
LIFETIME_MAX_DAYS = 180
MSG_SOME_FIELDS = N_("Some fields need attention.")
MSG_PURPOSE = N_("Choose an offer or a demand.")
MSG_PURPOSE_FIXED = N_("An offer cannot become a demand, nor the reverse.")
MSG_TITLE_LENGTH = N_("A title of 5 to 120 characters.")
MSG_DESCRIPTION_LENGTH = N_("At most 5,000 characters.")
MSG_CATEGORY = N_("Unknown service category.")
MSG_CATEGORY_MISSING = N_("Choose a service.")
MSG_NOT_ELIGIBLE = N_("Your provider status does not allow offering this service.")
MSG_POSTAL_CODE = N_("Enter a French postal code of 5 digits.")
MSG_NO_COMMUNE = N_("No commune of that name has this postal code.")
MSG_SCHEDULE_KIND = N_("Choose when the service takes place.")
MSG_DATE_TIME = N_("Enter a date and a time.")
MSG_DATE = N_("Enter a date.")
MSG_TIME = N_("Enter a time, for example 14:00.")
MSG_WEEKDAY = N_("Unknown day of the week.")
MSG_BASIS = N_("Say whether the price is per hour or for the whole service.")
MSG_CURRENCY = N_("This node does not use this currency.")
MSG_FREE_WITH_PRICE = N_("A free service has no price.")
MSG_PRICE_NEEDED = N_("Give a price, or mark the service as free.")
MSG_LIFETIME = N_("Between 1 and 180 days.")
MSG_DEADLINE_MARKET = N_("Only demands on market nodes are opened to bids.")
MSG_DEADLINE_PAST = N_("The deadline must be in the future.")
MSG_DEADLINE_AFTER_EXPIRY = N_("The deadline must come before the end of the proposal's lifetime.")
MSG_DEADLINE_AFTER_START = N_("The deadline must come before the service starts.")

_TIMEZONES = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "976": "Indian/Mayotte",
}
_POSTAL_CODE = re.compile(POSTAL_CODE)


@dataclass
class ProposalInput:
    """What a person typed to post or change a proposal (strings; empty means not given).

    ``schedule_kind``: ``none`` (to agree), ``window`` (``start``/``end``, local date-times or ISO 8601
    with an offset) or ``weekly`` (``weekdays`` as ``MO``…``SU``, ``start_time``/``end_time`` as
    ``HH:MM``, ``first_day``/``last_day`` as ``YYYY-MM-DD``), in the commune's time zone.
    ``currency`` empty means the node's usual one; ``lifetime_days`` empty means 30 on creation and
    "unchanged" on update.
    """

    purpose: str = "offer"
    title: str = ""
    description: str = ""
    category: str = ""
    postal_code: str = ""
    commune_name: str = ""
    schedule_kind: str = "none"
    start: str = ""
    end: str = ""
    weekdays: list[str] = field(default_factory=list)
    start_time: str = ""
    end_time: str = ""
    first_day: str = ""
    last_day: str = ""
    quantity: str = ""
    price: str = ""
    price_basis: str = "per_hour"
    currency: str = ""
    free: bool = False
    lifetime_days: str = ""
    bidding_deadline: str = ""


@dataclass(frozen=True)
class CleanProposal:
    purpose: str
    title: str
    description: str
    category: str
    commune: Commune
    schedule: sched.Schedule | None
    quantity: Decimal | None
    price: Price | None
    currency: Currency | None
    basis: str
    expires_at: datetime | None
    bidding_deadline: datetime | None


def currencies_for(settings: Settings) -> tuple[Currency, ...]:
    """The currencies a node's proposals may use, its usual one first."""
    return ("HOUR", "EUR") if settings.mode is Mode.COOPERATIVE else ("EUR",)


def _timezone(commune: Commune | None) -> str:
    return _TIMEZONES.get(commune.departement, sched.PARIS) if commune is not None else sched.PARIS


def _instant(text: str, tz: str, name: str, errors: dict[str, str]) -> datetime | None:
    """A typed date-time: local to ``tz`` unless it carries an offset."""
    try:
        moment = datetime.fromisoformat(text.strip()) if 0 < len(text.strip()) <= 40 else None
    except ValueError:
        moment = None
    if moment is None:
        errors[name] = MSG_DATE_TIME
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(tz))


def _day(text: str, name: str, errors: dict[str, str]) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if len(text.strip()) == 10 else None
    except ValueError:
        pass
    errors[name] = MSG_DATE
    return None


def _clock(text: str, name: str, errors: dict[str, str]) -> time | None:
    try:
        value = time.fromisoformat(text.strip()) if 0 < len(text.strip()) <= 8 else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is not None:
        errors[name] = MSG_TIME
        return None
    return value


def _schedule(data: ProposalInput, tz: str, errors: dict[str, str]) -> sched.Schedule | None:
    kind = data.schedule_kind or "none"
    if kind == "none":
        return None
    if kind == "window":
        start = _instant(data.start, tz, "start", errors)
        end = _instant(data.end, tz, "end", errors)
        return sched.TimeWindow(start, end) if start and end else None
    if kind == "weekly":
        days: list[int] = []
        for code in data.weekdays[:7]:
            if code.upper() not in sched.DAY_CODES:
                errors["weekdays"] = MSG_WEEKDAY
                return None
            days.append(sched.DAY_CODES.index(code.upper()))
        if not days:
            errors["weekdays"] = sched.MSG_NO_WEEKDAY
        start_time = _clock(data.start_time, "start_time", errors)
        end_time = _clock(data.end_time, "end_time", errors)
        first = _day(data.first_day, "first_day", errors)
        last = _day(data.last_day, "last_day", errors)
        if days and start_time and end_time and first and last:
            return sched.WeeklyRecurrence(tuple(days), start_time, end_time, first, last, tz)
        return None
    errors["schedule_kind"] = MSG_SCHEDULE_KIND
    return None


def _commune(data: ProposalInput, errors: dict[str, str]) -> Commune | None:
    postal_code = data.postal_code.strip()
    if not _POSTAL_CODE.match(postal_code):
        errors["postal_code"] = MSG_POSTAL_CODE
        return None
    found = default_gazetteer().resolve(postal_code, data.commune_name.strip()[:120])
    if found is None:
        errors["commune_name"] = MSG_NO_COMMUNE
        return None
    return default_gazetteer().commune_of(found.insee) or found


def _payment(
    settings: Settings, data: ProposalInput, purpose: str, quantity: Decimal | None, errors: dict[str, str]
) -> tuple[Price | None, Currency | None, str]:
    basis = data.price_basis or "per_hour"
    if basis not in ("per_hour", "total"):
        errors["price_basis"] = MSG_BASIS
        basis = "per_hour"
    if data.free:
        if data.price.strip():
            errors["price"] = MSG_FREE_WITH_PRICE
        return None, None, basis
    allowed = currencies_for(settings)
    currency = data.currency.strip().upper() or allowed[0]
    if currency not in allowed:
        errors["currency"] = MSG_CURRENCY
        return None, None, basis
    if not data.price.strip():
        if purpose == "offer":
            errors["price"] = MSG_PRICE_NEEDED
        return None, currency, basis
    try:
        price = parse_price(data.price, currency=currency, basis=cast(Basis, basis))
        if quantity is not None:
            check_total(price, quantity)
    except ValidationFailed as exc:
        errors.update(exc.fields)
        return None, currency, basis
    return price, price.currency, basis


def validate(
    settings: Settings,
    author: User,
    data: ProposalInput,
    now: datetime,
    *,
    current: Proposal | None = None,
    provider_status: str | None = None,
) -> CleanProposal:
    """Every field checked; :class:`ValidationFailed` listing all faulty fields at once.
    ``provider_status``: the status under which the offer is made when it is not ``author``'s own (a
    group's, given by the group's service)."""
    errors: dict[str, str] = {}
    purpose = data.purpose
    if purpose not in ("offer", "request"):
        errors["purpose"] = MSG_PURPOSE
    elif current is not None and purpose != current.purpose:
        errors["purpose"] = MSG_PURPOSE_FIXED
    title = plain_text(data.title, TITLE_MAX * 4)
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        errors["title"] = MSG_TITLE_LENGTH
    description = ""
    if len(data.description) > DESCRIPTION_MAX * 4:
        errors["description"] = MSG_DESCRIPTION_LENGTH
    else:
        description = clean_description(data.description, DESCRIPTION_MAX * 4)
        if len(description) > DESCRIPTION_MAX:
            errors["description"] = MSG_DESCRIPTION_LENGTH
    category = data.category.strip()
    if not category:
        errors["category"] = MSG_CATEGORY_MISSING
    elif not is_category(category):
        errors["category"] = MSG_CATEGORY
    elif (
        purpose == "offer"
        and by_slug(category).requires_approval
        and not eligibility.may_provide(category, provider_status or author.provider_status)
    ):
        errors["category"] = MSG_NOT_ELIGIBLE
    commune = _commune(data, errors)
    tz = _timezone(commune)
    schedule = _schedule(data, tz, errors)
    if schedule is not None and not errors.keys() & {"start", "end", "weekdays", "start_time", "end_time"}:
        unchanged = current is not None and current.schedule == json.dumps(sched.to_json(schedule))
        try:
            if unchanged:
                problems = sched.structure_errors(schedule)
                if problems:
                    raise ValidationFailed(MSG_SOME_FIELDS, fields=problems)
            else:
                sched.validate(schedule, now=now)
        except ValidationFailed as exc:
            errors.update(exc.fields)
    quantity: Decimal | None = None
    if data.quantity.strip():
        try:
            quantity = parse_hours(data.quantity)
        except ValidationFailed as exc:
            errors.update(exc.fields)
    price, currency, basis = _payment(settings, data, purpose, quantity, errors)
    expires_at = current.expires_at if current is not None else None
    if data.lifetime_days.strip() or current is None:
        days_text = data.lifetime_days.strip() or str(LIFETIME_DEFAULT_DAYS)
        if days_text.isdigit() and 1 <= int(days_text) <= LIFETIME_MAX_DAYS:
            expires_at = now + timedelta(days=int(days_text))
        else:
            errors["lifetime_days"] = MSG_LIFETIME
    deadline = _deadline(settings, data, purpose, schedule, expires_at, now, current, errors)
    if errors:
        message = next(iter(errors.values())) if len(errors) == 1 else MSG_SOME_FIELDS
        raise ValidationFailed(message, fields=errors)
    assert commune is not None
    return CleanProposal(
        purpose=purpose,
        title=title,
        description=description,
        category=category,
        commune=commune,
        schedule=schedule,
        quantity=quantity,
        price=price,
        currency=currency,
        basis=price.basis if price is not None else basis,
        expires_at=expires_at,
        bidding_deadline=deadline,
    )


def _deadline(
    settings: Settings,
    data: ProposalInput,
    purpose: str,
    schedule: sched.Schedule | None,
    expires_at: datetime | None,
    now: datetime,
    current: Proposal | None,
    errors: dict[str, str],
) -> datetime | None:
    if not data.bidding_deadline.strip():
        return None
    if purpose != "request" or settings.mode is not Mode.MARKET:
        errors["bidding_deadline"] = MSG_DEADLINE_MARKET
        return None
    tz = sched.PARIS if current is None else _TIMEZONES.get(current.departement, sched.PARIS)
    deadline = _instant(data.bidding_deadline, tz, "bidding_deadline", errors)
    if deadline is None:
        return None
    unchanged = current is not None and current.bidding_deadline == deadline
    first = sched.first_window(schedule) if schedule is not None else None
    if deadline <= now and not unchanged:
        errors["bidding_deadline"] = MSG_DEADLINE_PAST
    elif expires_at is not None and deadline > expires_at:
        errors["bidding_deadline"] = MSG_DEADLINE_AFTER_EXPIRY
    elif first is not None and deadline > first.start:
        errors["bidding_deadline"] = MSG_DEADLINE_AFTER_START
    return deadline


def input_of(row: Proposal) -> ProposalInput:
    """The input that reproduces ``row`` (to prefill an edit form or merge a partial change)."""
    schedule = schedule_of(row)
    data = ProposalInput(
        purpose=row.purpose,
        title=row.title,
        description=row.description,
        category=row.category or "",
        postal_code=row.postal_code,
        commune_name=row.commune_name,
        quantity=format(row.quantity_hours, "f") if row.quantity_hours is not None else "",
        price=format(row.price_amount, "f") if row.price_amount is not None else "",
        price_basis=row.price_basis or "per_hour",
        currency=row.price_currency or "",
        free=row.price_currency is None,
    )
    tz = _TIMEZONES.get(row.departement, sched.PARIS)
    if row.bidding_deadline is not None:
        data.bidding_deadline = row.bidding_deadline.astimezone(ZoneInfo(tz)).isoformat()
    if isinstance(schedule, sched.TimeWindow):
        data.schedule_kind = "window"
        data.start = schedule.start.astimezone(ZoneInfo(tz)).isoformat()
        data.end = schedule.end.astimezone(ZoneInfo(tz)).isoformat()
    elif isinstance(schedule, sched.WeeklyRecurrence):
        data.schedule_kind = "weekly"
        data.weekdays = [sched.DAY_CODES[d] for d in schedule.weekdays]
        data.start_time = schedule.start_time.isoformat("minutes")
        data.end_time = schedule.end_time.isoformat("minutes")
        data.first_day = schedule.first_day.isoformat()
        data.last_day = schedule.last_day.isoformat()
    return data
