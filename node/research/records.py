"""The plain records indicators are computed from, as pure values (so that the definitions are tested on
hand-built data), and the month arithmetic. Reading them from the database is :mod:`.reading`'s work."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property

LOCAL, FEDERATED = "local", "federated"
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_MONTHS = 120  # ten years: a longer range is a typo, and would compute for long


class PeriodError(ValueError):
    """A range of months that is malformed, reversed, empty or too long."""


def month_of(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def month_start(month: str) -> datetime:
    found = MONTH.match(month)
    if not found:
        raise PeriodError(f"{month!r} is not a month (YYYY-MM)")
    return datetime(int(found[1]), int(found[2]), 1, tzinfo=UTC)


def next_month(month: str) -> str:
    start = month_start(month)
    return f"{start.year + 1:04d}-01" if start.month == 12 else f"{start.year:04d}-{start.month + 1:02d}"


def months(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` included; :class:`PeriodError` when that is not a range."""
    month_start(first), month_start(last)
    if last < first:
        raise PeriodError(f"the range {first} to {last} is reversed")
    found = [first]
    while found[-1] != last:
        found.append(next_month(found[-1]))
        if len(found) > MAX_MONTHS:
            raise PeriodError(f"a range covers at most {MAX_MONTHS} months")
    return found


@dataclass(frozen=True)
class ProposalRecord:
    scope: str
    author: str
    purpose: str  # offer | request
    category: str
    published_at: datetime
    # Answers (bids) in the order they came: who and when.
    answers: tuple[tuple[str, datetime], ...] = ()

    @cached_property
    def ref(self) -> str:
        """The record's identity, whose key makes the cell keys of :mod:`.cellkey`."""
        return f"proposal|{self.scope}|{self.author}|{self.published_at.isoformat()}|{self.purpose}"


@dataclass(frozen=True)
class AgreementRecord:
    scope: str
    provider: str
    requester: str
    created_at: datetime
    proposal_published_at: datetime | None
    state: str  # accepted | confirmed_by_one | completed | cancelled | disputed
    late_cancellation: bool = False
    disputed: bool = False
    currency: str | None = None  # EUR | HOUR
    per_hour: Decimal | None = None  # price per hour of service, in its currency
    cross_node: bool = False

    @cached_property
    def ref(self) -> str:
        return f"agreement|{self.scope}|{self.provider}|{self.requester}|{self.created_at.isoformat()}"


@dataclass(frozen=True)
class EvaluationRecord:
    scope: str
    evaluator: str
    evaluated: str
    role: str  # provider | requester
    overall: int
    revealed_at: datetime

    @cached_property
    def ref(self) -> str:
        return f"evaluation|{self.scope}|{self.evaluator}|{self.evaluated}|{self.revealed_at.isoformat()}"


@dataclass(frozen=True)
class TransferRecord:
    payer: str
    payee: str
    hours: Decimal
    at: datetime

    @cached_property
    def ref(self) -> str:
        return f"transfer|{self.payer}|{self.payee}|{self.at.isoformat()}|{self.hours}"


@dataclass(frozen=True)
class AssignmentRecord:
    group: str
    member: str
    at: datetime

    @cached_property
    def ref(self) -> str:
        return f"assignment|{self.group}|{self.member}|{self.at.isoformat()}"


@dataclass(frozen=True)
class VisitRecord:
    """A telemanagement visit assigned to a provider, not cancelled: who (the provider's actor URI and
    the beneficiary as ``beneficiary:<id>``, never a name), when, how long, and what the checks found."""

    provider: str
    beneficiary: str
    starts_at: datetime
    planned_minutes: int
    done_minutes: int | None  # clocked, for a finished visit
    checked_in: bool
    past: bool  # its end (and the tolerance) has passed when read
    anomalies: tuple[str, ...] = ()

    @cached_property
    def ref(self) -> str:
        return f"visit|{self.provider}|{self.beneficiary}|{self.starts_at.isoformat()}"


@dataclass
class Records:
    """Everything the indicators read (opted-out people already taken out)."""

    proposals: list[ProposalRecord] = field(default_factory=list)
    agreements: list[AgreementRecord] = field(default_factory=list)
    evaluations: list[EvaluationRecord] = field(default_factory=list)
    transfers: list[TransferRecord] = field(default_factory=list)
    assignments: list[AssignmentRecord] = field(default_factory=list)
    visits: list[VisitRecord] = field(default_factory=list)
