"""The availability filter is checked by the database (each proposal's parts of days, ``proposals.slots``):
every page of a search with a day and a part of the day is the page of the same search without them,
kept to the proposals whose schedule :func:`fits`, on SQLite and PostgreSQL, whether the search counts
every match or stops at the cap, with or without a radius (a small box read here, or a wide one checked by
the database), and the saved searches' new matches too."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from node.core.timeutil import utcnow
from node.market.availability import fits
from node.market.models import Proposal
from node.market.schedule import PARIS, Schedule, TimeWindow, WeeklyRecurrence
from node.search import engine, statements
from node.search.filters import parse_search
from node.settings import Settings
from tests.support.search import every_page, indexed

COMMUNES = ("93048", "93006", "94080", "75056")  # Montreuil, Bagnolet, Vincennes, Paris
MONDAY = date(2027, 1, 4)


def _weekly(days: tuple[int, ...], start: int, end: int) -> WeeklyRecurrence:
    return WeeklyRecurrence(
        weekdays=days,
        start_time=time(start),
        end_time=time(end),
        first_day=MONDAY,
        last_day=MONDAY + timedelta(days=60),
        tz=PARIS,
    )


def _window(day: int, start: int, hours: int) -> TimeWindow:
    begin = datetime(2027, 1, 4 + day, start, tzinfo=ZoneInfo(PARIS))
    return TimeWindow(start=begin, end=begin + timedelta(hours=hours))


SCHEDULES: list[Schedule | None] = [
    _weekly((1,), 9, 11),  # Tuesday mornings
    _weekly((5, 6), 14, 17),  # weekend afternoons
    _weekly((0, 2, 4), 19, 21),  # Monday, Wednesday, Friday evenings
    _weekly((3,), 22, 2),  # Thursday nights: Thursday evening and Friday morning
    _window(1, 10, 3),  # one Tuesday, late morning to afternoon
    _window(5, 20, 16),  # a Saturday evening to Sunday noon
    None,  # to be agreed: answers no question about when
]


@pytest.fixture
def corpus(session: Session, settings: Settings) -> None:
    now = utcnow()
    for i in range(56):
        indexed(
            session,
            settings,
            "Ménage de l'appartement" if i % 2 else "Repassage et un peu de ménage",
            insee=COMMUNES[i % len(COMMUNES)],
            published=now - timedelta(hours=(i * 5) % 56),
            schedule=SCHEDULES[(i // 2) % len(SCHEDULES)],
        )


# with whether the radius's box is made wide (checked by the database rather than read here)
SEARCHES: list[tuple[dict[str, str], bool]] = [
    ({"q": "ménage"}, False),
    ({"q": "repassage", "sort": "date"}, False),
    ({"sort": "date"}, False),
    ({"commune": "93048", "radius": "3"}, False),  # Montreuil and Bagnolet: a small box, read here
    ({"commune": "93048", "radius": "3"}, True),
    ({"q": "ménage", "commune": "93048", "radius": "8", "sort": "distance"}, True),
    ({"commune": "93048", "sort": "distance"}, False),
]
ASKED: list[dict[str, str]] = [
    {"weekday": "TU"},
    {"time_of_day": "evening"},
    {"weekday": "SU", "time_of_day": "morning"},
    {"weekday": "TH", "time_of_day": "evening"},  # the nights from Thursday to Friday
]


def _name(params: dict[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items()) or "all"


@pytest.mark.usefixtures("corpus")
@pytest.mark.parametrize("cap", [100, 5], ids=["counted", "capped"])
@pytest.mark.parametrize("asked", ASKED, ids=_name)
@pytest.mark.parametrize("search", SEARCHES, ids=lambda s: _name(s[0]) + ("-wide" if s[1] else ""))
def test_an_availability_keeps_the_matches_whose_schedule_fits(
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    search: tuple[dict[str, str], bool],
    asked: dict[str, str],
    cap: int,
) -> None:
    params, wide = search
    monkeypatch.setattr(engine, "PAGE_SIZE", 4)
    monkeypatch.setattr(engine, "COUNT_CAP", cap)
    if wide:
        monkeypatch.setattr(statements, "BOX_CHECKED", 0)  # every box is wide: checked by the database
    plain = every_page(session, params)[0]
    rows = {row.id: row for row in session.exec(select(Proposal).where(col(Proposal.id).in_(plain))).all()}
    filters, _ = parse_search(asked)
    expected = [i for i in plain if fits(rows[i].schedule, filters.weekday, filters.time_of_day)]
    found = every_page(session, {**params, **asked})[0]
    assert found == expected
    assert expected  # every question has an answer in the corpus


@pytest.mark.usefixtures("corpus")
def test_a_saved_search_with_an_availability_is_told_of_fitting_schedules_only(
    session: Session, settings: Settings
) -> None:
    last = max(i or 0 for i in session.exec(select(Proposal.id)).all())
    tuesday = indexed(session, settings, "Ménage du mardi", schedule=_weekly((1,), 8, 10))
    indexed(session, settings, "Ménage du mercredi", schedule=_weekly((2,), 8, 10))
    indexed(session, settings, "Ménage à convenir")
    filters, _ = parse_search({"q": "ménage", "weekday": "TU", "time_of_day": "morning"})
    newer = engine.newer_matches(filters, session=session, now=utcnow(), after_id=last)
    assert [row.id for row in newer] == [tuesday.id]
