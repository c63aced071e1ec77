"""The shared calendar of a group's work, and each member's hours, amounts and contributions per month.

Entries come from *sources*, each a function of the group and a time span: the group's agreements (per
assigned member) and the visits (telemanagement) its members on this node are assigned to, planned,
under way or done (cancelled ones are left out). A visit shows its activity and times only: who is visited
stays with the coordinators who plan the visits.

The month summary counts the agreements completed in the month, per member: hours, amounts per currency
(euros, time tokens) and the contribution to pooled costs by the group's rules
(:func:`node.groups.rules.contribution`, marginal brackets on the member's turnover of the month).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from node.groups import records
from node.groups import rules as group_rules
from node.groups.models import Group
from node.groups.work import agreements_of
from node.market.bids.service import price_of
from node.market.lifecycles import AgreementState
from node.market.models import Agreement
from node.market.money import total_for
from node.settings import Settings
from node.telemanagement import visits
from node.telemanagement.lifecycles import VisitState

PARIS = ZoneInfo("Europe/Paris")
UNASSIGNED = ""


@dataclass(frozen=True)
class Entry:
    """One thing in the calendar: when, who (a member's URI, '' when nobody is assigned yet), what."""

    start: datetime
    end: datetime
    member_uri: str
    kind: str  # "agreement" or "visit"
    title: str
    state: str
    agreement_id: int | None = None


Source = Callable[[Settings, Group, datetime, datetime, Session], list[Entry]]


def _agreement_entries(
    settings: Settings, group: Group, start: datetime, end: datetime, session: Session
) -> list[Entry]:
    found = []
    for row in agreements_of(settings, group, session=session):
        if row.starts_at is None or not start <= row.starts_at < end:
            continue
        hours = float(row.quantity_hours or 1)
        found.append(
            Entry(
                start=row.starts_at,
                end=row.starts_at + timedelta(hours=hours),
                member_uri=row.performer_uri or UNASSIGNED,
                kind="agreement",
                title=row.category or "",
                state=row.state,
                agreement_id=row.id,
            )
        )
    return found


def _visit_entries(
    settings: Settings, group: Group, start: datetime, end: datetime, session: Session
) -> list[Entry]:
    uris = {
        m.local_user_id: m.member_uri
        for m in records.members(group, session=session)
        if m.local_user_id is not None
    }
    if not uris:
        return []
    return [
        Entry(
            start=line.visit.starts_at,
            end=line.visit.ends_at,
            member_uri=uris[line.visit.provider_id],
            kind="visit",
            title=line.visit.category,
            state=line.visit.state,
        )
        for line in visits.between(session, start, end, providers=list(uris))
        if line.visit.provider_id is not None and line.visit.state != VisitState.CANCELLED.value
    ]


SOURCES: tuple[Source, ...] = (_agreement_entries, _visit_entries)


def parse_day(value: str) -> date:
    """A day typed as ``YYYY-MM-DD``; today when unreadable."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        return datetime.now(PARIS).date()


def parse_month(value: str) -> tuple[int, int]:
    """A month typed as ``YYYY-MM``; this month when unreadable."""
    try:
        year, month = (int(part) for part in value.split("-", 1))
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return year, month
    except ValueError:
        pass
    today = datetime.now(PARIS).date()
    return today.year, today.month


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=PARIS).astimezone(UTC)


@dataclass(frozen=True)
class Day:
    day: date
    entries: list[Entry]


@dataclass(frozen=True)
class Week:
    monday: date
    days: list[Day]

    @property
    def previous(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.monday + timedelta(days=7)


def week(
    settings: Settings, group: Group, monday: date, *, session: Session, only: str | None = None
) -> Week:
    """The group's entries of the week starting ``monday`` (Paris days), by day and time; ``only``: one
    member's entries (what a member sees when the group's rules say members see their own work)."""
    start, end = _paris_midnight(monday), _paris_midnight(monday + timedelta(days=7))
    entries: list[Entry] = []
    for source in SOURCES:
        entries.extend(source(settings, group, start, end, session))
    if only is not None:
        entries = [e for e in entries if e.member_uri == only]
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        todays = sorted(
            (e for e in entries if e.start.astimezone(PARIS).date() == day), key=lambda e: e.start
        )
        days.append(Day(day, todays))
    return Week(monday, days)


@dataclass
class MemberMonth:
    """A member's month: agreements completed, hours, amounts and contributions by currency."""

    member_uri: str
    name: str
    agreements: int = 0
    hours: Decimal = Decimal("0")
    amounts: dict[str, Decimal] = field(default_factory=dict)
    contributions: dict[str, Decimal] = field(default_factory=dict)


def _amount(row: Agreement) -> tuple[str, Decimal] | None:
    price = price_of(row)
    if price is None:
        return None
    if price.basis == "per_hour" and row.quantity_hours is not None:
        price = total_for(price, row.quantity_hours)
    return price.currency, price.amount


def month(
    settings: Settings, group: Group, year: int, month_number: int, *, session: Session
) -> list[MemberMonth]:
    """Every member's figures for the agreements the group completed as provider in the month (Paris
    time), with the contributions the group's rules take; the unassigned ones under ''."""
    first = date(year, month_number, 1)
    after = date(year + (month_number == 12), month_number % 12 + 1, 1)
    start, end = _paris_midnight(first), _paris_midnight(after)
    names = {
        m.member_uri: m.name or m.member_uri
        for m in records.members(group, session=session, states=["active", "left", "removed"])
    }
    schedule = group_rules.schedule_of(
        group.contribution_rate, group_rules.brackets_from_json(group.contribution_brackets)
    )
    actor_uri = settings.url(f"/groups/{group.name}")
    done = [
        row
        for row in agreements_of(settings, group, session=session)
        if row.provider_uri == actor_uri
        and row.state == AgreementState.COMPLETED.value
        and row.completed_at is not None
        and start <= row.completed_at < end
    ]
    done.sort(key=lambda row: (row.completed_at or start, row.id or 0))
    lines: dict[str, MemberMonth] = {}
    turnover: dict[tuple[str, str], Decimal] = {}
    for row in done:
        uri = row.performer_uri or UNASSIGNED
        line = lines.setdefault(uri, MemberMonth(uri, names.get(uri, uri)))
        line.agreements += 1
        line.hours += row.quantity_hours or Decimal("0")
        priced = _amount(row)
        if priced is None:
            continue
        currency, amount = priced
        before = turnover.get((uri, currency), Decimal("0"))
        line.amounts[currency] = line.amounts.get(currency, Decimal("0")) + amount
        line.contributions[currency] = line.contributions.get(
            currency, Decimal("0")
        ) + group_rules.contribution(amount, before, schedule)
        turnover[(uri, currency)] = before + amount
    return sorted(lines.values(), key=lambda line: (line.member_uri == UNASSIGNED, line.name.lower()))


def totals(lines: Sequence[MemberMonth]) -> MemberMonth:
    """The month's totals over every member."""
    total = MemberMonth("", "")
    for line in lines:
        total.agreements += line.agreements
        total.hours += line.hours
        for currency, amount in line.amounts.items():
            total.amounts[currency] = total.amounts.get(currency, Decimal("0")) + amount
        for currency, amount in line.contributions.items():
            total.contributions[currency] = total.contributions.get(currency, Decimal("0")) + amount
    return total
