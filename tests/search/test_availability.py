"""The availability filter: a day of the week and a part of the day against proposals' schedules
(weekly slots, overnight slots, time windows in Paris time), in the engine and the maps, on both
databases; a proposal without a schedule is left out."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlmodel import Session

from node.core.timeutil import utcnow
from node.market import schedule as schedules
from node.market.availability import fits
from node.search import engine, geo
from node.search.filters import parse_search
from node.settings import Settings
from tests.support.search import indexed

TUESDAY_MORNING = schedules.WeeklyRecurrence(
    weekdays=(1,),
    start_time=time(9),
    end_time=time(11),
    first_day=date(2030, 1, 1),
    last_day=date(2030, 3, 1),
)
NIGHTS = schedules.WeeklyRecurrence(
    weekdays=(4,),
    start_time=time(22),
    end_time=time(6),
    first_day=date(2030, 1, 1),
    last_day=date(2030, 3, 1),
)
# Saturday 2030-01-05 from 17:00 to 19:30 in Paris (UTC+1)
SATURDAY = schedules.TimeWindow(
    datetime(2030, 1, 5, 16, tzinfo=UTC), datetime(2030, 1, 5, 18, 30, tzinfo=UTC)
)


def stored(schedule: schedules.Schedule) -> str:
    return json.dumps(schedules.to_json(schedule))


@pytest.mark.parametrize(
    ("schedule", "weekday", "part", "expected"),
    [
        (TUESDAY_MORNING, 1, None, True),
        (TUESDAY_MORNING, 1, "morning", True),
        (TUESDAY_MORNING, 1, "afternoon", False),
        (TUESDAY_MORNING, 2, None, False),
        (TUESDAY_MORNING, None, "evening", False),
        (NIGHTS, 4, "evening", True),
        (NIGHTS, 4, "morning", True),  # the slot runs past midnight
        (NIGHTS, 4, "afternoon", False),
        (SATURDAY, 5, "evening", True),  # 19:00 in Paris, not 18:00 UTC only
        (SATURDAY, 5, "afternoon", True),
        (SATURDAY, 5, "morning", False),
        (SATURDAY, 6, None, False),
    ],
)
def test_fits(schedule: schedules.Schedule, weekday: int | None, part: Any, expected: bool) -> None:
    assert fits(stored(schedule), weekday, part) is expected


def test_no_schedule_or_a_broken_one_does_not_fit() -> None:
    assert fits(None, 1, None) is False and fits("not json", None, "morning") is False
    assert fits(None, None, None) is True


def test_engine_and_map_filter_by_availability(session: Session, settings: Settings) -> None:
    for title, schedule in (("Ménage du mardi", TUESDAY_MORNING), ("Ménage du samedi", SATURDAY)):
        indexed(session, settings, title, schedule=schedule)
    indexed(session, settings, "Ménage à convenir")

    def found(**params: str) -> list[str]:
        filters, errors = parse_search({"q": "menage", **params})
        assert errors == {}
        return sorted(h.proposal.title for h in engine.search(filters, session=session, now=utcnow()).hits)

    assert found(weekday="TU") == ["Ménage du mardi"]
    assert found(time_of_day="evening") == ["Ménage du samedi"]
    assert found(weekday="SA", time_of_day="morning") == []
    assert len(found()) == 3
    filters, _ = parse_search({"weekday": "TU"})
    assert geo.map_of(filters, session=session, now=utcnow()).total == 1
    assert parse_search({"weekday": "tuesday"})[1] == {"weekday": "Unknown value."}
    assert parse_search({"weekday": "TU", "time_of_day": "noon"})[1] == {"time_of_day": "Unknown value."}
    assert filters.query_string() == "weekday=TU"
