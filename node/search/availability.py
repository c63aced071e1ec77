"""Whether a proposal's schedule falls on a day of the week and in a part of the day: the availability
filter of the search. A weekly schedule is read from its days and daily slot; a time window from the
days it spans (at most 31), in the schedule's zone (Paris for a window). A proposal without a schedule
(to be agreed) does not answer a question about when: the filter leaves it out."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from node.market import schedule as schedules

__all__ = ["PARTS", "Part", "fits", "slot", "slots"]

Part = Literal["morning", "afternoon", "evening"]
PARTS: dict[Part, tuple[time, time]] = {  # [start, end) in wall-clock time
    "morning": (time(0, 0), time(12, 0)),
    "afternoon": (time(12, 0), time(18, 0)),
    "evening": (time(18, 0), time(23, 59, 59)),
}


def _overlaps(start: time, end: time, part: Part | None) -> bool:
    """Whether the daily slot [start, end) (``end`` before ``start``: past midnight) meets ``part``."""
    if part is None:
        return True
    low, high = PARTS[part]
    if end <= start:  # overnight: the evening of the first day and the morning of the next
        return _overlaps(start, time(23, 59, 59), part) or _overlaps(time(0, 0), end, part)
    return start < high and end > low


def _window_fits(window: schedules.TimeWindow, weekday: int | None, part: Part | None) -> bool:
    zone = ZoneInfo(schedules.PARIS)
    start, end = window.start.astimezone(zone), window.end.astimezone(zone)
    day = start.date()
    while day <= end.date():
        day_start = max(start, datetime.combine(day, time(0, 0), tzinfo=zone))
        day_end = min(end, datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone))
        if (weekday is None or day.weekday() == weekday) and day_end > day_start:
            last = (day_end - timedelta(seconds=1)).time() if day_end.date() > day else day_end.time()
            if _overlaps(day_start.time(), last, part):
                return True
        day += timedelta(days=1)
    return False


_ORDER: tuple[Part, ...] = tuple(PARTS)


def slot(weekday: int, part: Part) -> int:
    """The number of a part of a day of the week (0 is Monday morning, 1 its afternoon, 20 Sunday
    evening): a schedule's availability as matching compares it is a set of these."""
    return weekday * len(_ORDER) + _ORDER.index(part)


def _parts(start: time, end: time) -> list[int]:
    return [n for n, part in enumerate(_ORDER) if _overlaps(start, end, part)]


def _window_slots(window: schedules.TimeWindow) -> frozenset[int]:
    zone = ZoneInfo(schedules.PARIS)
    start, end = window.start.astimezone(zone), window.end.astimezone(zone)
    found: set[int] = set()
    day = start.date()
    while day <= end.date() and len(found) < 7 * len(_ORDER):
        day_start = max(start, datetime.combine(day, time(0, 0), tzinfo=zone))
        day_end = min(end, datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone))
        if day_end > day_start:
            last = (day_end - timedelta(seconds=1)).time() if day_end.date() > day else day_end.time()
            found.update(day.weekday() * len(_ORDER) + n for n in _parts(day_start.time(), last))
        day += timedelta(days=1)
    return frozenset(found)


def slots(stored: str | None) -> frozenset[int] | None:
    """The parts of the days of the week (:func:`slot`) the schedule ``stored`` (a proposal's
    ``schedule`` column) takes place in, as :func:`fits` reads them: ``slot(d, p)`` is in it when
    ``fits(stored, d, p)``. None without a schedule (to be agreed) or with one that cannot be read."""
    if not stored:
        return None
    try:
        found = schedules.from_json(json.loads(stored))
    except (ValueError, TypeError, KeyError):
        return None
    if found is None:
        return None
    if isinstance(found, schedules.TimeWindow):
        return _window_slots(found)
    parts = _parts(found.start_time, found.end_time)
    return frozenset(d * len(_ORDER) + n for d in found.weekdays for n in parts)


def fits(stored: str | None, weekday: int | None, part: Part | None) -> bool:
    """Whether the schedule ``stored`` (a proposal's ``schedule`` column) has an occurrence on
    ``weekday`` (0 is Monday) within ``part`` of the day; None asks nothing of that side."""
    if weekday is None and part is None:
        return True
    if not stored:
        return False
    try:
        found = schedules.from_json(json.loads(stored))
    except (ValueError, TypeError):
        return False
    if found is None:
        return False
    if isinstance(found, schedules.TimeWindow):
        return _window_fits(found, weekday, part)
    if weekday is not None and weekday not in found.weekdays:
        return False
    return _overlaps(found.start_time, found.end_time, part)
