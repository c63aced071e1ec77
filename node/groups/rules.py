"""A group's rules, written by its coordinators: how work is shared, the contribution to pooled costs, and
what members see; and the contribution computed on each completed agreement.

The contribution is a percentage of each agreement's price. With brackets (as CAEs set them on turnover),
the rates are marginal on a member's turnover in the month: ``[[0, 10], [1000, 8]]`` takes 10 % of the
first 1,000 and 8 % of the rest, the agreements of the month counted in the order they completed.
Amounts stay in the agreement's currency (euros or time tokens) and are rounded half-up to the cent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from node.core.errors import N_, ValidationFailed

CENT = Decimal("0.01")
RATE_MAX = Decimal("100")
BRACKETS_MAX = 8
AMOUNT_MAX = Decimal("10000000")


class SharingRule(StrEnum):
    """How the member who carries out an agreement is chosen."""

    COORDINATOR = "coordinator"  # a coordinator picks
    ROUND_ROBIN = "round_robin"  # in turn among the members offering the category
    FIRST_AVAILABLE = "first_available"  # the first member free at that time


SHARING_LABELS = {
    SharingRule.COORDINATOR: N_("A coordinator picks the member"),
    SharingRule.ROUND_ROBIN: N_("In turn among the members offering that service"),
    SharingRule.FIRST_AVAILABLE: N_("The first member available at that time"),
}
MEMBERS_SEE = {
    "all": N_("Members see everyone's work and hours"),
    "own": N_("Members see their own work only"),
}

MSG_RATE = N_("A percentage from 0 to 100.")
MSG_BRACKETS = N_("Brackets are lines 'from amount: rate', amounts increasing, starting at 0.")


@dataclass(frozen=True)
class Bracket:
    start: Decimal
    rate: Decimal


def parse_rate(text: str, field: str = "contribution_rate") -> Decimal:
    """A percentage typed as text ("12,5"), from 0 to 100."""
    try:
        value = Decimal(text.strip().replace(",", ".").rstrip("%").strip() or "0")
    except InvalidOperation:
        raise ValidationFailed(MSG_RATE, fields={field: MSG_RATE}) from None
    if not value.is_finite() or not Decimal("0") <= value <= RATE_MAX:
        raise ValidationFailed(MSG_RATE, fields={field: MSG_RATE})
    return value.quantize(CENT)


def parse_brackets(text: str) -> list[Bracket]:
    """Brackets typed one per line as ``amount: rate`` (``0: 10``, ``1000: 8``); empty for a flat rate."""
    brackets: list[Bracket] = []
    for line in text.replace(";", "\n").splitlines():
        if not line.strip():
            continue
        start_text, sep, rate_text = line.partition(":")
        if not sep:
            raise ValidationFailed(MSG_BRACKETS, fields={"contribution_brackets": MSG_BRACKETS})
        try:
            start = Decimal(start_text.strip().replace(",", ".").replace(" ", "").replace("\u00a0", ""))
        except InvalidOperation:
            raise ValidationFailed(MSG_BRACKETS, fields={"contribution_brackets": MSG_BRACKETS}) from None
        rate = parse_rate(rate_text, "contribution_brackets")
        if not start.is_finite() or start < 0 or start > AMOUNT_MAX:
            raise ValidationFailed(MSG_BRACKETS, fields={"contribution_brackets": MSG_BRACKETS})
        brackets.append(Bracket(start.quantize(CENT), rate))
    if len(brackets) > BRACKETS_MAX or (brackets and brackets[0].start != 0):
        raise ValidationFailed(MSG_BRACKETS, fields={"contribution_brackets": MSG_BRACKETS})
    if any(b.start <= a.start for a, b in zip(brackets, brackets[1:], strict=False)):
        raise ValidationFailed(MSG_BRACKETS, fields={"contribution_brackets": MSG_BRACKETS})
    return brackets


def brackets_to_json(brackets: Sequence[Bracket]) -> str:
    return json.dumps([[str(b.start), str(b.rate)] for b in brackets])


def brackets_from_json(text: str) -> list[Bracket]:
    try:
        raw = json.loads(text or "[]")
        return [Bracket(Decimal(str(start)), Decimal(str(rate))) for start, rate in raw]
    except (ValueError, TypeError, InvalidOperation):
        return []


def brackets_text(brackets: Sequence[Bracket]) -> str:
    return "\n".join(f"{b.start.normalize():f}: {b.rate.normalize():f}" for b in brackets)


def schedule_of(rate: Decimal, brackets: Sequence[Bracket]) -> list[Bracket]:
    """The marginal schedule: the brackets, or one bracket at ``rate`` from 0."""
    return list(brackets) or [Bracket(Decimal("0"), rate)]


def contribution(amount: Decimal, before: Decimal, schedule: Sequence[Bracket]) -> Decimal:
    """The contribution on an agreement of ``amount`` when the member's turnover of the month before it was
    ``before`` (marginal rates), rounded half-up to the cent."""
    total = Decimal("0")
    start, end = before, before + amount
    for index, bracket in enumerate(schedule):
        upper = schedule[index + 1].start if index + 1 < len(schedule) else None
        low = max(start, bracket.start)
        high = end if upper is None else min(end, upper)
        if high > low:
            total += (high - low) * bracket.rate / RATE_MAX
    return total.quantize(CENT, rounding=ROUND_HALF_UP)
