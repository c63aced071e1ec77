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

__all__ = ["PARTS", "Part", "fits"]

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
