"""The values that columns of the demo's tables share: names, choices, places, amounts, references to
other tables, and the schedule of a proposal. Each check refuses a bad value through
:meth:`~node.demo.tables.Row.fail`, so that the message names file, row and column."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import time
from decimal import Decimal

from node.accounts.service import POSTAL_CODE_RE
from node.demo.specs import Weekly, Window
from node.demo.tables import Row
from node.market import schedule as sched
from node.places.gazetteer import default_gazetteer

__all__ = ["amount", "choice", "key", "person_of", "place", "reference", "schedule"]

WEEKLY_DEFAULT_IN_DAYS = 1
_KEY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_AMOUNT = re.compile(r"^\d+(\.\d{1,2})?$")
_CLOCK = re.compile(r"^\d\d:\d\d$")


def choice(row: Row, column: str, choices: Collection[str], default: str | None = None) -> str:
    """One of ``choices``; ``default`` when the column is left out (required when None)."""
    value = row.text(column, default)
    row.check(value in choices, column, f"{value!r} is not one of {', '.join(choices)}")
    return value


def key(row: Row, column: str, taken: Collection[str]) -> str:
    """A name other tables use for the row (``amina-travaux``), not among ``taken``."""
    value = row.text(column)
    row.check(bool(_KEY.match(value)), column, f"{value!r}: lowercase letters, digits and hyphens only")
    row.check(value not in taken, column, f"{value!r} is already used by another row")
    return value


def reference(row: Row, column: str, known: Collection[str], table: str) -> str:
    """A name that ``table`` defines (``known``)."""
    value = row.text(column)
    row.check(value in known, column, f"no {value!r} in {table}")
    return value


def person_of(
    row: Row, node_column: str, column: str, people: Collection[tuple[str, str]]
) -> tuple[str, str]:
    """The (node, username) that the two columns name, a person of people.toml (``people``)."""
    node, username = row.text(node_column), row.text(column)
    row.check(
        any(known == node for known, _ in people), node_column, f"no person of node {node!r} in people.toml"
    )
    row.check((node, username) in people, column, f"no person {username!r} of node {node!r} in people.toml")
    return node, username


def place(row: Row) -> tuple[str, str]:
    """The row's ``postal_code`` and ``commune``: a French postal code that the commune has."""
    postal_code, commune = row.text("postal_code"), row.text("commune")
    row.check(
        bool(POSTAL_CODE_RE.match(postal_code)),
        "postal_code",
        f"{postal_code!r} is not a French postal code (five digits)",
    )
    row.check(
        default_gazetteer().resolve(postal_code, commune) is not None,
        "postal_code",
        f"no commune named {commune!r} has the postal code {postal_code}",
    )
    return postal_code, commune


def amount(row: Row, column: str, default: str | None = None) -> str:
    """A positive decimal written as text ("18", "1.5"): amounts and hours are never floats."""
    value = row.text(column, default)
    if value == default:
        return value
    row.check(
        bool(_AMOUNT.match(value)) and Decimal(value) > 0,
        column,
        f'{value!r} is not a positive amount written as text, such as "18" or "1.5"',
    )
    return value


def _clock(row: Row, column: str) -> str:
    value = row.text(column)
    try:
        valid = bool(_CLOCK.match(value)) and isinstance(time.fromisoformat(value), time)
    except ValueError:
        valid = False
    row.check(valid, column, f"{value!r} is not a time of day written HH:MM")
    return value


def _days_ahead(row: Row, default: int | None = None) -> int:
    in_days = row.integer("in_days", default)
    row.check(in_days >= 1, "in_days", f"{in_days}: the service starts one day or more after the seeding")
    return in_days


def schedule(row: Row) -> Window | Weekly | None:
    """The proposal's ``schedule`` and the columns that go with its kind; None when left out."""
    kind = choice(row, "schedule", ("window", "weekly")) if row.has("schedule") else None
    allowed = {
        None: (),
        "window": ("in_days", "start", "end"),
        "weekly": ("in_days", "days", "start", "end", "weeks"),
    }
    for column in ("in_days", "days", "start", "end", "weeks"):
        if row.has(column) and column not in allowed[kind]:
            row.fail(
                column, f"not for a {kind} schedule" if kind else "only with a schedule (window or weekly)"
            )
    if kind is None:
        return None
    start, end = _clock(row, "start"), _clock(row, "end")
    row.check(start < end, "end", f"{end} is not after the start, {start}")
    if kind == "window":
        return Window(_days_ahead(row), start, end)
    days = row.texts("days")
    row.check(bool(days), "days", 'missing; a weekly schedule needs days, such as ["MO", "TH"]')
    for day in days:
        row.check(day in sched.DAY_CODES, "days", f"{day!r} is not one of {', '.join(sched.DAY_CODES)}")
    row.check(len(set(days)) == len(days), "days", "a day is listed twice")
    weeks = row.integer("weeks")
    row.check(1 <= weeks <= sched.MAX_WEEKS, "weeks", f"{weeks}: from 1 to {sched.MAX_WEEKS} weeks")
    return Weekly(days, start, end, weeks=weeks, in_days=_days_ahead(row, WEEKLY_DEFAULT_IN_DAYS))
