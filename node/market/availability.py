"""When in the week a schedule takes place: the parts of the days of the week it meets, the morning
(before noon), the afternoon (noon to 18:00) and the evening (after 18:00) of each day. A weekly
recurrence is read from its days and daily slot, in its own zone (an overnight slot is the evening of
its day and the morning of the next); a time window from the days it spans, in Paris time. A proposal
without a schedule (to be agreed) says nothing about when.

A part of a day of the week is a number, :func:`slot` (0 is Monday morning, 20 Sunday evening), and a
set of them an integer whose bit ``n`` is slot ``n``. The marketplace stores that integer on each
proposal (``proposals.slots``, :func:`schedule_mask`) so that the database can answer the search's
availability filter: a proposal answers :func:`mask` of a question when the two share a bit, which is
what :func:`fits` says of its schedule. It lives here rather than in the search because the
marketplace, which writes the column, does not import the search.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from node.market import schedule as schedules

__all__ = ["PARTS", "Part", "bits", "fits", "mask", "schedule_mask", "slot", "slots"]

Part = Literal["morning", "afternoon", "evening"]
PARTS: dict[Part, tuple[time, time]] = {  # [start, end) in wall-clock time
    "morning": (time(0, 0), time(12, 0)),
    "afternoon": (time(12, 0), time(18, 0)),
    "evening": (time(18, 0), time(23, 59, 59)),
}
_ORDER: tuple[Part, ...] = tuple(PARTS)
_WEEK = 7 * len(_ORDER)


def _overlaps(start: time, end: time, part: Part | None) -> bool:
    """Whether the daily slot [start, end) (``end`` before ``start``: past midnight) meets ``part``."""
    if part is None:
        return True
    low, high = PARTS[part]
    if end <= start:  # overnight: the evening of the first day and the morning of the next
        return _overlaps(start, time(23, 59, 59), part) or _overlaps(time(0, 0), end, part)
    return start < high and end > low


def _parts(start: time, end: time) -> list[int]:
    return [n for n, part in enumerate(_ORDER) if _overlaps(start, end, part)]


def _window_days(window: schedules.TimeWindow) -> Iterator[tuple[int, time, time]]:
    """Each day ``window`` spans in Paris, in order: its day of the week and the window's start and last
    second on it (a window of several days is cut at each midnight)."""
    zone = ZoneInfo(schedules.PARIS)
    start, end = window.start.astimezone(zone), window.end.astimezone(zone)
    day = start.date()
    while day <= end.date():
        day_start = max(start, datetime.combine(day, time(0, 0), tzinfo=zone))
        day_end = min(end, datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone))
        if day_end > day_start:
            last = (day_end - timedelta(seconds=1)).time() if day_end.date() > day else day_end.time()
            yield day.weekday(), day_start.time(), last
        day += timedelta(days=1)


def _read(stored: str | None) -> schedules.Schedule | None:
    """The schedule of a proposal's ``schedule`` column, None without one or with one that cannot be
    read (both are "to be agreed" to the filter)."""
    if not stored:
        return None
    try:
        data = json.loads(stored)
        return schedules.from_json(data) if isinstance(data, dict) else None
    except (ValueError, TypeError, KeyError):
        return None


def slot(weekday: int, part: Part) -> int:
    """The number of a part of a day of the week (0 is Monday morning, 1 its afternoon, 20 Sunday
    evening): a schedule's availability is a set of these."""
    return weekday * len(_ORDER) + _ORDER.index(part)


def _window_slots(window: schedules.TimeWindow) -> frozenset[int]:
    found: set[int] = set()
    for weekday, start, last in _window_days(window):
        found.update(weekday * len(_ORDER) + n for n in _parts(start, last))
        if len(found) == _WEEK:  # a window of years is every part of the week after its first one
            break
    return frozenset(found)


def slots(stored: str | None) -> frozenset[int] | None:
    """The parts of the days of the week (:func:`slot`) the schedule ``stored`` (a proposal's
    ``schedule`` column) takes place in: ``slot(d, p)`` is in it when ``fits(stored, d, p)``. None
    without a schedule (to be agreed) or with one that cannot be read."""
    found = _read(stored)
    if found is None:
        return None
    if isinstance(found, schedules.TimeWindow):
        return _window_slots(found)
    parts = _parts(found.start_time, found.end_time)
    return frozenset(d * len(_ORDER) + n for d in found.weekdays for n in parts)


def bits(found: Iterable[int] | None) -> int | None:
    """Slot numbers as an integer whose bit ``n`` is slot ``n`` (None stays None: unknown is not
    "never", which would be 0)."""
    return None if found is None else sum(1 << n for n in set(found))


def schedule_mask(stored: str | None) -> int | None:
    """:func:`slots` of ``stored`` as the bit mask a proposal's ``slots`` column stores; None without a
    schedule or with one that cannot be read."""
    return bits(slots(stored))


def mask(weekday: int | None, part: Part | None) -> int | None:
    """The bits a search for ``weekday`` (0 is Monday) and ``part`` asks for: the three parts of that
    day, that part on the seven days, or one bit with both. A proposal answers when its
    :func:`schedule_mask` shares a bit with it. None when neither is asked (the filter is off)."""
    if weekday is None and part is None:
        return None
    days = range(7) if weekday is None else (weekday,)
    parts = _ORDER if part is None else (part,)
    return bits(slot(d, p) for d in days for p in parts)


def fits(stored: str | None, weekday: int | None, part: Part | None) -> bool:
    """Whether the schedule ``stored`` (a proposal's ``schedule`` column) has an occurrence on
    ``weekday`` (0 is Monday) within ``part`` of the day; None asks nothing of that side. Read from the
    schedule itself, not from the slots: tests hold the two to the same answer."""
    if weekday is None and part is None:
        return True
    found = _read(stored)
    if found is None:
        return False
    if isinstance(found, schedules.TimeWindow):
        return any(
            (weekday is None or day == weekday) and _overlaps(start, last, part)
            for day, start, last in _window_days(found)
        )
    if weekday is not None and weekday not in found.weekdays:
        return False
    return _overlaps(found.start_time, found.end_time, part)
