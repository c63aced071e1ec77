"""Matching compares when: the parts of the days of the week (morning, afternoon, evening of each day)
of the demand's schedule against those of the provider's offers, not the days alone. A provider
available Tuesday mornings does not answer a demand for Tuesday at 18:00, one available Tuesday
evenings does, and the reasons say when ("disponible le mardi soir", "available Tuesday evenings")."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from node.core.timeutil import utcnow
from node.market import schedule as schedules
from node.market.availability import PARTS, fits, slot, slots
from node.market.models import Proposal
from node.search.matching import candidates
from node.search.matching.scoring import Need, Supply, reasons, score
from node.settings import Settings
from tests.support.matching import proposal_of, provider


def _weekly(days: tuple[int, ...], start: time, end: time) -> schedules.WeeklyRecurrence:
    return schedules.WeeklyRecurrence(
        weekdays=days, start_time=start, end_time=end, first_day=date(2030, 1, 1), last_day=date(2030, 6, 1)
    )


def _stored(schedule: schedules.Schedule) -> str:
    return json.dumps(schedules.to_json(schedule))


TUESDAY_MORNINGS = _weekly((1,), time(9), time(12))
TUESDAY_EVENINGS = _weekly((1,), time(18), time(21))
# Tuesday 2030-01-08 from 18:00 to 20:00 in Paris (UTC+1)
TUESDAY_AT_SIX = schedules.TimeWindow(
    datetime(2030, 1, 8, 17, tzinfo=UTC), datetime(2030, 1, 8, 19, tzinfo=UTC)
)


def test_a_schedule_is_read_as_the_parts_of_the_days_it_meets() -> None:
    assert slots(_stored(TUESDAY_MORNINGS)) == frozenset({slot(1, "morning")})
    assert slots(_stored(TUESDAY_AT_SIX)) == frozenset({slot(1, "evening")})
    lunch = frozenset({slot(0, "morning"), slot(0, "afternoon"), slot(4, "morning"), slot(4, "afternoon")})
    assert slots(_stored(_weekly((0, 4), time(11), time(14)))) == lunch
    assert slots(None) is None and slots("not json") is None
    rng = random.Random(5)  # the same answer as the search's filter, part by part
    for _ in range(150):
        start = time(rng.randrange(24), rng.choice([0, 30]))
        end = time(rng.randrange(24), rng.choice([0, 30]))
        if start == end:
            continue
        weekly = _weekly(tuple(rng.sample(range(7), rng.randint(1, 3))), start, end)
        first = datetime(2030, 1, rng.randint(1, 20), rng.randrange(24), tzinfo=UTC)
        window = schedules.TimeWindow(first, first + timedelta(minutes=30 * rng.randint(1, 200)))
        for schedule in (weekly, window):
            text = _stored(schedule)
            found = slots(text)
            assert found is not None
            for day in range(7):
                for part in PARTS:
                    assert (slot(day, part) in found) == fits(text, day, part), (schedule, day, part)


def test_the_time_of_day_counts_in_the_score_and_its_reasons() -> None:
    need = Need(
        "https://b.example/users/a",
        "housework",
        frozenset({"menag"}),
        48.9,
        2.4,
        slots(_stored(TUESDAY_AT_SIX)),
    )

    def supply(schedule: schedules.Schedule) -> Supply:
        return Supply(
            "u", frozenset({"housework"}), frozenset({"menag"}), 48.9, 2.4, 10.0, slots(_stored(schedule))
        )

    mornings, evenings = score(need, supply(TUESDAY_MORNINGS)), score(need, supply(TUESDAY_EVENINGS))
    assert mornings is not None and evenings is not None
    assert mornings.parts["availability"] == 0.0 and evenings.parts["availability"] == 1.0
    assert evenings.score > mornings.score
    assert "disponible le mardi soir" in reasons(evenings, "fr")
    assert "available Tuesday evenings" in reasons(evenings, "en")
    assert not any("disponible" in r for r in reasons(mornings, "fr"))
    morning_need = Need("x", "housework", frozenset({"menag"}), 48.9, 2.4, slots(_stored(TUESDAY_MORNINGS)))
    both = score(morning_need, supply(_weekly((1, 3), time(8), time(23))))
    assert both is not None
    assert "disponible le mardi matin" in reasons(both, "fr")
    assert "available Tuesday mornings" in reasons(both, "en")
    whole = score(
        Need("x", None, frozenset({"menag"}), None, None, frozenset(range(3, 9))),
        supply(_weekly((1, 2), time(0), time(23, 30))),
    )
    assert whole is not None
    assert "disponible le mardi et mercredi" in reasons(whole, "fr")
    assert "available Tuesdays and Wednesdays" in reasons(whole, "en")


def _scheduled(engine: Engine, row: Proposal, schedule: schedules.Schedule) -> None:
    with Session(engine) as session:
        stored = session.get(Proposal, row.id)
        assert stored is not None
        stored.schedule = _stored(schedule)
        stored.updated_at = utcnow()
        session.add(stored)
        session.commit()


def test_a_provider_of_tuesday_mornings_ranks_below_one_of_tuesday_evenings_for_tuesday_at_six(
    settings: Settings, engine: Engine
) -> None:
    morning = provider(engine, "matinale", categories=("housework",))
    evening = provider(engine, "vesperale", categories=("housework",))
    for user, schedule in ((morning, TUESDAY_MORNINGS), (evening, TUESDAY_EVENINGS)):
        offer = proposal_of(engine, settings, user, "Ménage", purpose="offer", category="housework")
        _scheduled(engine, offer, schedule)
    author = provider(engine, "demandeuse")
    demand = proposal_of(engine, settings, author, "Ménage mardi soir", category="housework")
    _scheduled(engine, demand, TUESDAY_AT_SIX)
    with Session(engine) as session:
        row = session.get(Proposal, demand.id)
        assert row is not None
        ranked = candidates.providers_for_demand(settings, row, utcnow(), session=session)
        names = [r.user.username for r in ranked if r.user is not None]
    assert names == ["vesperale", "matinale"]
    assert [r.match.parts["availability"] for r in ranked] == [1.0, 0.0]
    assert "disponible le mardi soir" in reasons(ranked[0].match, "fr")
