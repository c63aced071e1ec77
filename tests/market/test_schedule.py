"""Time windows and weekly recurrences: rules, occurrences, JSON and summaries."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core.errors import ValidationFailed
from node.market.schedule import (
    MAX_WEEKS,
    MSG_END_BEFORE_START,
    MSG_FIRST_DAY_PAST,
    MSG_LAST_BEFORE_FIRST,
    MSG_NO_OCCURRENCE,
    MSG_NO_WEEKDAY,
    MSG_SLOT_LENGTH,
    MSG_START_PAST,
    MSG_TOO_FAR,
    MSG_TOO_MANY_WEEKS,
    MSG_TOO_SHORT,
    MSG_UNKNOWN_TIMEZONE,
    MSG_WINDOW_TOO_LONG,
    TimeWindow,
    WeeklyRecurrence,
    first_window,
    format_instant,
    from_json,
    next_start,
    occurrences,
    parse_instant,
    span,
    structure_errors,
    summary,
    to_json,
    validate,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
TUESDAY = 1
THURSDAY = 3


def _window(start: datetime, hours: float = 2) -> TimeWindow:
    return TimeWindow(start, start + timedelta(hours=hours))


IN_2025 = date(2025, 1, 15)


def _weekly(**changes: object) -> WeeklyRecurrence:
    values: dict[str, object] = {
        "weekdays": (TUESDAY,),
        "start_time": time(14),
        "end_time": time(16),
        "first_day": date(2025, 3, 3),
        "last_day": date(2025, 3, 31),
    }
    values.update(changes)
    return WeeklyRecurrence(**values)  # type: ignore[arg-type]


def _fields(error: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return error.value.fields


# --- dataclasses --------------------------------------------------------------------------------


def test_window_needs_aware_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        TimeWindow(datetime(2025, 3, 4, 14), datetime(2025, 3, 4, 16))


def test_recurrence_sorts_weekdays_and_refuses_bad_values() -> None:
    rec = _weekly(weekdays=(THURSDAY, TUESDAY, THURSDAY))
    assert rec.weekdays == (TUESDAY, THURSDAY)
    with pytest.raises(ValueError, match="weekdays"):
        _weekly(weekdays=(7,))
    with pytest.raises(ValueError, match="wall-clock"):
        _weekly(start_time=time(14, tzinfo=UTC))


# --- occurrences --------------------------------------------------------------------------------


def test_occurrences_of_a_weekly_recurrence() -> None:
    found = occurrences(_weekly(weekdays=(TUESDAY, THURSDAY)))
    days = [w.start.astimezone(PARIS).date() for w in found]
    assert days == [date(2025, 3, d) for d in (4, 6, 11, 13, 18, 20, 25, 27)]
    assert all(w.start.astimezone(PARIS).time() == time(14) for w in found)
    assert all(w.duration == timedelta(hours=2) for w in found)


def test_occurrences_follow_the_wall_clock_across_daylight_saving() -> None:
    found = occurrences(_weekly(first_day=date(2025, 3, 18), last_day=date(2025, 4, 8)))
    assert [w.start.astimezone(UTC).hour for w in found] == [13, 13, 12, 12]  # DST began on 30 March


def test_overnight_slot_ends_next_day() -> None:
    rec = _weekly(start_time=time(21), end_time=time(7))
    assert rec.overnight and rec.slot_length == timedelta(hours=10)
    first = occurrences(rec)[0]
    assert first.end.astimezone(PARIS) == datetime(2025, 3, 5, 7, tzinfo=PARIS)


def test_first_window_span_and_next_start() -> None:
    rec = _weekly()
    assert first_window(rec) == TimeWindow(
        datetime(2025, 3, 4, 14, tzinfo=PARIS), datetime(2025, 3, 4, 16, tzinfo=PARIS)
    )
    whole = span(rec)
    assert whole is not None and whole.end == datetime(2025, 3, 25, 16, tzinfo=PARIS)
    assert next_start(rec, datetime(2025, 3, 4, 15, tzinfo=PARIS)) == datetime(2025, 3, 11, 14, tzinfo=PARIS)
    assert next_start(rec, datetime(2025, 4, 1, tzinfo=PARIS)) is None
    window = _window(datetime(2025, 3, 4, 14, tzinfo=UTC))
    assert occurrences(window) == [window] and span(window) == window


def test_a_recurrence_without_occurrence_or_too_long_has_none() -> None:
    assert first_window(_weekly(first_day=date(2025, 3, 5), last_day=date(2025, 3, 10))) is None
    assert span(_weekly(last_day=date(2026, 12, 31))) is None
    assert occurrences(_weekly(tz="Mars/Olympus_Mons")) == []


# --- rules --------------------------------------------------------------------------------------


def test_valid_schedules_pass() -> None:
    window = _window(datetime(2025, 3, 4, 13, tzinfo=UTC))
    assert validate(window, now=NOW) is window
    rec = _weekly(first_day=date(2025, 3, 1))
    assert validate(rec, now=NOW) is rec
    assert validate(_weekly(last_day=date(2026, 3, 1)), now=NOW)  # 52 weeks less a day


@pytest.mark.parametrize(
    ("schedule", "fields"),
    [
        (TimeWindow(NOW + timedelta(days=1), NOW + timedelta(days=1)), {"end": MSG_END_BEFORE_START}),
        (TimeWindow(NOW + timedelta(days=1), NOW), {"end": MSG_END_BEFORE_START}),
        (_window(NOW - timedelta(minutes=1)), {"start": MSG_START_PAST}),
        (_window(NOW + timedelta(days=400)), {"start": MSG_TOO_FAR}),
        (_window(NOW + timedelta(days=1), hours=0.2), {"end": MSG_TOO_SHORT}),
        (_window(NOW + timedelta(days=1), hours=24 * 32), {"end": MSG_WINDOW_TOO_LONG}),
        (_weekly(weekdays=()), {"weekdays": MSG_NO_WEEKDAY}),
        (_weekly(end_time=time(14)), {"end_time": MSG_END_BEFORE_START}),
        (_weekly(end_time=time(14, 10)), {"end_time": MSG_SLOT_LENGTH}),
        (_weekly(start_time=time(6), end_time=time(19)), {"end_time": MSG_SLOT_LENGTH}),
        (_weekly(last_day=date(2025, 3, 2)), {"last_day": MSG_LAST_BEFORE_FIRST}),
        (_weekly(last_day=date(2026, 3, 2)), {"last_day": MSG_TOO_MANY_WEEKS}),
        (_weekly(first_day=date(2025, 3, 5), last_day=date(2025, 3, 10)), {"weekdays": MSG_NO_OCCURRENCE}),
        (_weekly(first_day=date(2025, 2, 28)), {"first_day": MSG_FIRST_DAY_PAST}),
        (_weekly(first_day=date(2026, 6, 1), last_day=date(2026, 6, 30)), {"first_day": MSG_TOO_FAR}),
        (_weekly(tz="Mars/Olympus_Mons"), {"timezone": MSG_UNKNOWN_TIMEZONE}),
    ],
)
def test_invalid_schedules_are_refused_by_field(
    schedule: TimeWindow | WeeklyRecurrence, fields: dict[str, str]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate(schedule, now=NOW)
    assert _fields(caught) == fields
    assert caught.value.message == next(iter(fields.values()))


def test_recurrence_whose_last_occurrence_is_over_is_refused() -> None:
    rec = _weekly(first_day=date(2025, 3, 4), last_day=date(2025, 3, 4))
    with pytest.raises(ValidationFailed) as caught:
        validate(rec, now=datetime(2025, 3, 4, 15, tzinfo=PARIS))
    assert _fields(caught) == {"weekdays": MSG_NO_OCCURRENCE}


def test_several_errors_are_reported_together() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate(_window(NOW - timedelta(days=1), hours=0.1), now=NOW)
    assert set(_fields(caught)) == {"start", "end"}
    assert caught.value.message == "Some fields need attention."


def test_structure_errors_ignore_time() -> None:
    assert structure_errors(_window(NOW - timedelta(days=300))) == {}
    assert structure_errors(_weekly(weekdays=())) == {"weekdays": MSG_NO_WEEKDAY}


# --- JSON ---------------------------------------------------------------------------------------


def test_window_json_round_trip() -> None:
    window = TimeWindow(datetime(2025, 3, 4, 14, tzinfo=PARIS), datetime(2025, 3, 4, 16, 30, tzinfo=PARIS))
    data = to_json(window)
    assert data == {"startTime": "2025-03-04T13:00:00Z", "endTime": "2025-03-04T15:30:00Z"}
    assert from_json(json.loads(json.dumps(data))) == window


def test_recurrence_json_round_trip() -> None:
    rec = _weekly(weekdays=(TUESDAY, THURSDAY), start_time=time(14, 30, 15))
    data = to_json(rec)
    assert data["startTime"] == "2025-03-04T13:30:15Z"
    assert data["eventSchedule"] == {
        "type": "Schedule",
        "repeatFrequency": "P1W",
        "byDay": ["TU", "TH"],
        "startDate": "2025-03-03",
        "endDate": "2025-03-31",
        "dailyStartTime": "14:30:15",
        "dailyEndTime": "16:00",
        "scheduleTimezone": "Europe/Paris",
    }
    assert from_json(json.loads(json.dumps(data))) == rec


def test_recurrence_reading_is_tolerant_of_day_names_and_defaults() -> None:
    data = {
        "eventSchedule": {
            "byDay": ["https://schema.org/Tuesday", "thursday", "schema:Friday"],
            "startDate": "2025-03-03",
            "endDate": "2025-03-31T00:00:00Z",
            "dailyStartTime": "09:00:00",
            "dailyEndTime": "11:00",
        }
    }
    rec = from_json(data)
    assert isinstance(rec, WeeklyRecurrence)
    assert rec.weekdays == (1, 3, 4) and rec.tz == "Europe/Paris" and rec.last_day == date(2025, 3, 31)


def test_from_json_without_schedule_or_half_a_window() -> None:
    assert from_json({}) is None
    assert from_json({"startTime": "2025-03-04T13:00:00Z"}) is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"startTime": "tomorrow", "endTime": "2025-03-04T13:00:00Z"}, "startTime"),
        ({"startTime": 5, "endTime": "2025-03-04T13:00:00Z"}, "startTime"),
        ({"startTime": "2025-03-04T15:00:00Z", "endTime": "2025-03-04T13:00:00Z"}, "end"),
        ({"eventSchedule": "weekly"}, "eventSchedule"),
        ({"eventSchedule": {"repeatFrequency": "P1D"}}, "repeatFrequency"),
        ({"eventSchedule": {"byDay": []}}, "byDay"),
        ({"eventSchedule": {"byDay": ["XX"]}}, "byDay"),
        ({"eventSchedule": {"byDay": ["TU"], "scheduleTimezone": "Nowhere/Land"}}, "scheduleTimezone"),
        ({"eventSchedule": {"byDay": ["TU"], "startDate": "2025-03-03"}}, "dailyStartTime"),
        (
            {
                "eventSchedule": {
                    "byDay": ["TU"],
                    "startDate": "2025-03-03",
                    "endDate": "2025-03-31",
                    "dailyStartTime": "14:00+01:00",
                    "dailyEndTime": "16:00",
                }
            },
            "dailyStartTime",
        ),
        (
            {
                "eventSchedule": {
                    "byDay": ["TU"],
                    "startDate": "2025-03-03",
                    "endDate": "2035-03-31",
                    "dailyStartTime": "14:00",
                    "dailyEndTime": "16:00",
                }
            },
            "last_day",
        ),
    ],
)
def test_from_json_refuses_malformed_schedules(data: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        from_json(data)


def test_instants() -> None:
    assert parse_instant("2025-03-04T14:00:00+01:00") == datetime(2025, 3, 4, 13, tzinfo=UTC)
    assert parse_instant("2025-03-04T13:00:00") == datetime(2025, 3, 4, 13, tzinfo=UTC)
    assert format_instant(datetime(2025, 3, 4, 13, 0, 0, 500, tzinfo=UTC)) == "2025-03-04T13:00:00.000500Z"
    with pytest.raises(ValueError):
        parse_instant("x" * 100)


# --- summaries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rec", "fr", "en"),
    [
        (_weekly(), "le mardi de 14 h à 16 h, du 3 au 31 mars", "Tuesdays 2–4 pm, 3–31 March"),
        (
            _weekly(weekdays=(0, TUESDAY, THURSDAY), start_time=time(9, 30), end_time=time(11)),
            "le lundi, le mardi et le jeudi de 9 h 30 à 11 h, du 3 au 31 mars",
            "Mondays, Tuesdays and Thursdays 9:30–11 am, 3–31 March",
        ),
        (
            _weekly(
                start_time=time(11), end_time=time(13), first_day=date(2025, 3, 1), last_day=date(2025, 4, 30)
            ),
            "le mardi de 11 h à 13 h, du 1er mars au 30 avril",
            "Tuesdays 11 am – 1 pm, 1 March – 30 April",
        ),
        (
            _weekly(
                start_time=time(21), end_time=time(7), first_day=date(2025, 12, 1), last_day=date(2026, 1, 31)
            ),
            "le mardi de 21 h à 7 h, du 1er décembre 2025 au 31 janvier 2026",
            "Tuesdays 9 pm – 7 am, 1 December 2025 – 31 January 2026",
        ),
        (
            _weekly(weekdays=tuple(range(7)), start_time=time(12), end_time=time(12, 30)),
            "tous les jours de 12 h à 12 h 30, du 3 au 31 mars",
            "Every day 12–12:30 pm, 3–31 March",
        ),
        (
            _weekly(first_day=date(2025, 3, 4), last_day=date(2025, 3, 4)),
            "le mardi de 14 h à 16 h, le 4 mars",
            "Tuesdays 2–4 pm, 4 March",
        ),
    ],
)
def test_recurrence_summaries(rec: WeeklyRecurrence, fr: str, en: str) -> None:
    assert summary(rec, "fr", today=IN_2025) == fr
    assert summary(rec, "en", today=IN_2025) == en


def test_a_year_is_written_only_for_dates_outside_the_current_one() -> None:
    window = TimeWindow(datetime(2025, 3, 4, 14, tzinfo=PARIS), datetime(2025, 3, 4, 16, tzinfo=PARIS))
    assert summary(window, "fr", today=IN_2025) == "le mardi 4 mars de 14 h à 16 h"
    assert summary(window, "en", today=IN_2025) == "Tuesday 4 March, 2–4 pm"
    assert summary(window, "fr", today=date(2026, 1, 2)) == "le mardi 4 mars 2025 de 14 h à 16 h"
    weekly = _weekly(first_day=date(2025, 3, 4), last_day=date(2025, 3, 4))
    assert summary(weekly, "fr", today=date(2024, 12, 30)) == "le mardi de 14 h à 16 h, le 4 mars 2025"
    spring = _weekly()
    assert summary(spring, "en", today=date(2026, 3, 1)) == "Tuesdays 2–4 pm, 3–31 March 2025"
    assert summary(spring, "fr", today=date(2026, 3, 1)) == "le mardi de 14 h à 16 h, du 3 au 31 mars 2025"
    two_months = _weekly(last_day=date(2025, 4, 29))
    assert (
        summary(two_months, "fr", today=date(2024, 6, 1))
        == "le mardi de 14 h à 16 h, du 3 mars au 29 avril 2025"
    )
    # Without a reference day, the current year of the display zone.
    today = datetime.now(PARIS).date()
    window = TimeWindow(datetime.combine(today, time(10), PARIS), datetime.combine(today, time(11), PARIS))
    assert str(today.year) not in summary(window, "fr")


def test_window_summaries() -> None:
    same_day = TimeWindow(datetime(2025, 3, 4, 14, tzinfo=PARIS), datetime(2025, 3, 4, 16, tzinfo=PARIS))
    assert summary(same_day, "fr") == "le mardi 4 mars 2025 de 14 h à 16 h"
    assert summary(same_day, "en") == "Tuesday 4 March 2025, 2–4 pm"
    first = TimeWindow(datetime(2025, 3, 1, 9, tzinfo=PARIS), datetime(2025, 3, 1, 12, tzinfo=PARIS))
    assert summary(first, "fr") == "le samedi 1er mars 2025 de 9 h à 12 h"
    assert summary(first, "en") == "Saturday 1 March 2025, 9 am – 12 pm"
    to_midnight = TimeWindow(datetime(2025, 3, 4, 22, tzinfo=PARIS), datetime(2025, 3, 5, 0, tzinfo=PARIS))
    assert summary(to_midnight, "fr") == "le mardi 4 mars 2025 de 22 h à 0 h"
    days = TimeWindow(datetime(2025, 3, 4, 14, tzinfo=PARIS), datetime(2025, 3, 6, 10, tzinfo=PARIS))
    assert summary(days, "fr") == "du mardi 4 mars 2025 à 14 h au jeudi 6 mars 2025 à 10 h"
    assert summary(days, "en") == "from Tuesday 4 March 2025, 2 pm to Thursday 6 March 2025, 10 am"


def test_window_summary_uses_the_display_zone() -> None:
    utc = TimeWindow(datetime(2025, 3, 4, 13, tzinfo=UTC), datetime(2025, 3, 4, 15, tzinfo=UTC))
    assert summary(utc, "fr") == "le mardi 4 mars 2025 de 14 h à 16 h"
    assert summary(utc, "fr", tz="Indian/Reunion") == "le mardi 4 mars 2025 de 17 h à 19 h"


@given(
    first=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
    length=st.integers(min_value=0, max_value=MAX_WEEKS * 7 - 1),
    weekdays=st.sets(st.integers(min_value=0, max_value=6), min_size=1),
)
def test_a_recurrence_has_no_occurrence_exactly_when_none_of_its_days_falls_in_its_dates(
    first: date, length: int, weekdays: set[int]
) -> None:
    rec = _weekly(first_day=first, last_day=first + timedelta(days=length), weekdays=tuple(sorted(weekdays)))
    days = [first + timedelta(days=i) for i in range(length + 1)]
    none = not any(day.weekday() in weekdays for day in days)
    assert (structure_errors(rec).get("weekdays") == MSG_NO_OCCURRENCE) is none
    assert bool(occurrences(rec)) is not none
