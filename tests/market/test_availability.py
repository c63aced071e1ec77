"""The parts of the days of the week a schedule meets, as a bit mask: a proposal's stored mask shares a
bit with the mask of a search's day and part of the day exactly when the schedule itself fits them
(checked on generated weekly slots and time windows, for every day and part), so the database can
answer the availability filter from the column alone."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.market import schedule as schedules
from node.market.availability import PARTS, Part, fits, mask, schedule_mask, slot, slots

PARIS = ZoneInfo(schedules.PARIS)
QUESTIONS: list[tuple[int | None, Part | None]] = [
    (day, part) for day in (None, *range(7)) for part in (None, *PARTS) if (day, part) != (None, None)
]


def stored(schedule: schedules.Schedule) -> str:
    return json.dumps(schedules.to_json(schedule))


def assert_mask_answers_as_fits(text: str | None) -> None:
    found = schedule_mask(text)
    for weekday, part in QUESTIONS:
        asked = mask(weekday, part)
        assert asked is not None
        assert fits(text, weekday, part) == (found is not None and found & asked != 0), (text, weekday, part)


def _after(start: time, seconds: int) -> time:
    """The time of day ``seconds`` after ``start`` (before it when that is past midnight)."""
    return (datetime.combine(date(2030, 1, 1), start) + timedelta(seconds=seconds)).time()


# Daily slots of any length but a whole day, overnight ones included, to the second.
weekly = st.builds(
    lambda days, start, length, first, weeks, tz: schedules.WeeklyRecurrence(
        weekdays=tuple(sorted(days)),
        start_time=start,
        end_time=_after(start, length),
        first_day=first,
        last_day=first + timedelta(days=weeks * 7 - 1),
        tz=tz,
    ),
    st.sets(st.integers(0, 6), min_size=1, max_size=7),
    st.times().map(lambda moment: moment.replace(microsecond=0)),
    st.integers(1, 24 * 3600 - 1),
    st.dates(date(2026, 1, 1), date(2031, 12, 31)),
    st.integers(1, 52),
    st.sampled_from([schedules.PARIS, "America/Cayenne", "Indian/Reunion", "Pacific/Noumea"]),
)
# Windows up to 40 days: other nodes' are not held to the 31 days of ours; across changes of summer time.
windows = st.builds(
    lambda start, minutes: schedules.TimeWindow(start, start + timedelta(minutes=minutes)),
    st.datetimes(datetime(2026, 1, 1), datetime(2031, 12, 31), timezones=st.just(UTC)).map(
        lambda moment: moment.replace(microsecond=0)
    ),
    st.integers(1, 40 * 24 * 60),
)


@settings(max_examples=200, deadline=None)
@given(weekly)
def test_a_weekly_slots_mask_answers_every_question_as_its_schedule(
    schedule: schedules.WeeklyRecurrence,
) -> None:
    assert_mask_answers_as_fits(stored(schedule))


@settings(max_examples=200, deadline=None)
@given(windows)
def test_a_time_windows_mask_answers_every_question_as_its_schedule(schedule: schedules.TimeWindow) -> None:
    assert_mask_answers_as_fits(stored(schedule))


def _weekly(days: tuple[int, ...], start: time, end: time) -> schedules.WeeklyRecurrence:
    return schedules.WeeklyRecurrence(days, start, end, date(2030, 1, 1), date(2030, 3, 1))


def _paris(day: int, hour: int) -> datetime:
    return datetime(2030, 1, day, hour, tzinfo=PARIS)  # 2030-01-07 is a Monday


def _bits(*numbers: int) -> int:
    return sum(1 << n for n in numbers)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # Tuesdays and Thursdays 18:00 to 20:00
        (_weekly((1, 3), time(18), time(20)), _bits(slot(1, "evening"), slot(3, "evening"))),
        # Fridays 22:00 to 06:00: the evening and the morning of its day
        (_weekly((4,), time(22), time(6)), _bits(slot(4, "morning"), slot(4, "evening"))),
        # Saturday 20:00 to Monday 10:00 in Paris: Saturday evening, all Sunday, Monday morning
        (
            schedules.TimeWindow(_paris(5, 20), _paris(7, 10)),
            _bits(slot(5, "evening"), slot(6, "morning"), slot(6, "afternoon"), slot(6, "evening"), 0),
        ),
        # Tuesday 23:00 to Wednesday 01:00 in Paris, given in UTC
        (
            schedules.TimeWindow(datetime(2030, 1, 8, 22, tzinfo=UTC), datetime(2030, 1, 9, 0, tzinfo=UTC)),
            _bits(slot(1, "evening"), slot(2, "morning")),
        ),
        # ten days: every part of the week
        (schedules.TimeWindow(_paris(1, 9), _paris(11, 9)), 2**21 - 1),
    ],
)
def test_fixed_schedules(schedule: schedules.Schedule, expected: int) -> None:
    text = stored(schedule)
    assert schedule_mask(text) == expected
    assert slots(text) == frozenset(n for n in range(21) if expected >> n & 1)
    assert_mask_answers_as_fits(text)


@pytest.mark.parametrize("text", [None, "", "not json", "[]", "{}", '{"startTime": "yesterday"}'])
def test_no_schedule_or_an_unreadable_one_has_no_mask(text: str | None) -> None:
    assert schedule_mask(text) is None and slots(text) is None
    assert_mask_answers_as_fits(text)


def test_what_a_search_asks() -> None:
    assert mask(None, None) is None
    assert mask(1, None) == _bits(3, 4, 5)
    assert mask(None, "evening") == _bits(*(3 * day + 2 for day in range(7)))
    assert mask(6, "evening") == 1 << 20
    assert mask(0, "morning") == 1
    assert fits(None, None, None) is True  # a search without the filter keeps every proposal
