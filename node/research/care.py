"""Indicators of telemanagement (care at home under a plan), from :class:`~.records.VisitRecord` (pure:
the definitions are tested on hand-built visits). Every cell needs k providers and k beneficiaries
(``parties``), so that many people of one kind cannot hide one of the other.

- ``care_hours``: visits planned in the month (assigned, not cancelled), their planned hours and the
  hours clocked on those done;
- ``visit_anomalies``: visits whose slot is over, the anomalies the checks find on them (late, missing
  check-in or check-out, too short, outside the slot, clocked by hand), and anomalies per 100 visits;
- ``punctuality``: visits whose slot is over, checked in on time, late, or never (an additive group).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from node.research.cells import TOTAL, Key, RawCell
from node.research.records import LOCAL, VisitRecord, month_of

PLACES = Decimal("0.01")
PUNCTUALITY = ("on_time", "late", "missed")


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(PLACES)


def _who(visits: list[VisitRecord]) -> tuple[frozenset[str], tuple[frozenset[str], ...], frozenset[str]]:
    providers = frozenset(v.provider for v in visits)
    beneficiaries = frozenset(v.beneficiary for v in visits)
    return providers | beneficiaries, (providers, beneficiaries), frozenset(v.ref for v in visits)


def _cell(
    month: str,
    indicator: str,
    breakdown: str,
    value: Decimal | None,
    visits: list[VisitRecord],
    step: Decimal | None = None,
) -> RawCell:
    people, parties, refs = _who(visits)
    key = Key(month, LOCAL, indicator, breakdown)
    return RawCell(key, value, len(visits), people, records=refs, step=step, parties=parties)


def _punctuality(visit: VisitRecord) -> str:
    if not visit.checked_in:
        return "missed"
    return "late" if "late" in visit.anomalies else "on_time"


def care(month: str, visits: list[VisitRecord]) -> list[RawCell]:
    """The telemanagement cells of ``month`` (visits starting in it)."""
    mine = [v for v in visits if month_of(v.starts_at) == month]
    cells: list[RawCell] = []
    planned = sum(v.planned_minutes for v in mine)
    done = [v for v in mine if v.done_minutes is not None]
    clocked = sum(v.done_minutes or 0 for v in done)
    cells += [
        _cell(month, "care_hours", "visits", Decimal(len(mine)), mine),
        # The hours move by the noise times the hours of a typical visit.
        _cell(month, "care_hours", "planned", _hours(planned), mine, _hours(planned // max(1, len(mine)))),
        _cell(month, "care_hours", "done", _hours(clocked), done, _hours(clocked // max(1, len(done)))),
    ]
    over = [v for v in mine if v.past or v.done_minutes is not None]
    count = sum(len(v.anomalies) for v in over)
    flagged = [v for v in over if v.anomalies]
    rate = (Decimal(100 * count) / len(over)).quantize(PLACES) if over else None
    step = Decimal(100) / len(over) if over else Decimal(0)
    cells += [
        _cell(month, "visit_anomalies", "visits", Decimal(len(over)), over),
        _cell(month, "visit_anomalies", "with_anomaly", Decimal(len(flagged)), flagged),
        _cell(month, "visit_anomalies", "per_100_visits", rate, over, step),
    ]
    group = f"{month}|{LOCAL}|punctuality|"
    for part in PUNCTUALITY:
        these = [v for v in over if _punctuality(v) == part]
        cells.append(replace(_cell(month, "punctuality", part, Decimal(len(these)), these), group=group))
    total = _cell(month, "punctuality", TOTAL, Decimal(len(over)), over)
    cells.append(replace(total, group=group, is_total=True))
    return cells
