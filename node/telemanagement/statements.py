"""The monthly statement per funder: for each of its plans and each activity, hours granted, planned
and done, the amount at the plan's hourly rate, the beneficiary's share and the funder's.

Done hours are clocked hours (check-in to check-out) of finished visits, as :func:`checks.plan_month`
counts them; adjusted hours are those billed: the retained periods of visits whose anomalies a
coordinator resolved, the clocked ones otherwise (:func:`validation.billable`), and the amount is on
them; the rate and the share are those of the version in force on the month's first day.
Amounts are computed in cents, each rounded half up once per line, so the funder's share and the
beneficiary's always add up to the amount. The CSV columns are documented in docs/telemanagement.md.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlmodel import Session, col, select

from node.core.errors import N_, NotFound
from node.telemanagement import checks, plans, validation
from node.telemanagement.models import CarePlan, Funder

COLUMNS = (
    "month",
    "funder",
    "funder_reference",
    "folder_number",
    "beneficiary",
    "activity",
    "granted_hours",
    "planned_hours",
    "done_hours",
    "hourly_rate_eur",
    "amount_eur",
    "beneficiary_share_eur",
    "funder_share_eur",
    "adjusted_hours",
)


@dataclass(frozen=True)
class StatementLine:
    folder_number: str
    beneficiary: str
    activity: str
    granted_minutes: int
    planned_minutes: int
    done_minutes: int
    hourly_rate_cents: int
    amount_cents: int
    beneficiary_cents: int
    adjusted_minutes: int = 0

    @property
    def funder_cents(self) -> int:
        return self.amount_cents - self.beneficiary_cents


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def statement(session: Session, funder_id: int, month: str) -> tuple[Funder, list[StatementLine]]:
    """The funder and its lines for ``month`` (``YYYY-MM``; :class:`ValidationFailed` otherwise)."""
    checks.month_bounds(month)
    funder = session.get(Funder, funder_id)
    if funder is None:
        raise NotFound(N_("No such funder."))
    lines: list[StatementLine] = []
    for plan in session.exec(
        select(CarePlan).where(CarePlan.funder_id == funder_id).order_by(col(CarePlan.folder_number))
    ):
        summary = checks.plan_month(session, plan.id or 0, month)
        name = plans.beneficiary(session, plan.beneficiary_id).name
        adjusted: dict[str, int] = {}
        for row in validation.plan_billable(session, plan.id or 0, month):
            adjusted[row.visit.category] = adjusted.get(row.visit.category, 0) + row.minutes
        for activity, hours in sorted(summary.categories.items()):
            amount = _round(Decimal(adjusted.get(activity, 0) * summary.hourly_rate_cents) / 60)
            share = _round(Decimal(amount * summary.participation_bp) / 10_000)
            lines.append(
                StatementLine(
                    plan.folder_number,
                    name,
                    activity,
                    hours.granted,
                    hours.planned,
                    hours.done,
                    summary.hourly_rate_cents,
                    amount,
                    share,
                    adjusted.get(activity, 0),
                )
            )
    return funder, lines


def _hours(minutes: int) -> str:
    return str((Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _euros(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def statement_csv(session: Session, funder_id: int, month: str) -> str:
    """The statement as CSV (comma separated, dot decimals, one header line)."""
    funder, lines = statement(session, funder_id, month)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow(
            (
                month,
                funder.name,
                funder.reference,
                line.folder_number,
                line.beneficiary,
                line.activity,
                _hours(line.granted_minutes),
                _hours(line.planned_minutes),
                _hours(line.done_minutes),
                _euros(line.hourly_rate_cents),
                _euros(line.amount_cents),
                _euros(line.beneficiary_cents),
                _euros(line.funder_cents),
                _hours(line.adjusted_minutes),
            )
        )
    return out.getvalue()
