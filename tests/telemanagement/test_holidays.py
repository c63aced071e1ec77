"""Recurring visits and French public holidays: a series that asks for it has no visit on a jour férié
(Christmas, New Year's Day), the option is kept on the series; without it, holidays are visit days."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.core import db
from node.settings import Settings
from node.telemanagement import visits
from tests.support.pages import csrf, login
from tests.support.telemanagement import CATEGORY, Setup, care_setup


def _series(engine: Engine, setup: Setup, start: str, rule: str, skip: bool) -> tuple[bool, list[date]]:
    with db.session_scope(engine) as s:
        series, made = visits.plan_series(
            s, setup.coordinator, plan_id=setup.plan_id, category=CATEGORY, start=start, minutes=60,
            rule=rule, skip_holidays=skip,
        )  # fmt: skip
        return series.skip_holidays, [v.starts_at.astimezone(visits.PARIS).date() for v in made]


def test_a_series_can_skip_french_public_holidays(engine: Engine, settings: Settings) -> None:
    setup = care_setup(engine, settings, valid_from=date.today() - timedelta(days=40))
    rule = "FREQ=WEEKLY;BYDAY=WE;COUNT=3"  # 18 and 25 December 2030 (Christmas), 1 January 2031
    assert _series(engine, setup, "2030-12-18T09:00", rule, True) == (True, [date(2030, 12, 18)])
    every = _series(engine, setup, "2030-12-18T10:30", rule, False)
    assert every == (False, [date(2030, 12, 18), date(2030, 12, 25), date(2031, 1, 1)])
    rule = "FREQ=WEEKLY;BYDAY=FR;COUNT=2"  # no holiday: all kept
    assert _series(engine, setup, "2030-12-20T09:00", rule, True) == (
        True,
        [date(2030, 12, 20), date(2030, 12, 27)],
    )
    assert visits.is_holiday(date(2031, 5, 1)) and visits.is_holiday(date(2031, 7, 14))
    assert not visits.is_holiday(date(2031, 7, 15))


def test_the_holiday_option_on_the_plan_page(client: TestClient, engine: Engine) -> None:
    settings = client.app.state.node.settings  # type: ignore[attr-defined]
    setup = care_setup(engine, settings, valid_from=date.today() - timedelta(days=40))
    login(client, "coord")
    path = f"/telemanagement/plans/{setup.plan_id}"
    assert "skip_holidays" in client.get(path).text
    token = csrf(client, path, f"{path}/visits")
    sent = {
        "csrf_token": token,
        "category": CATEGORY,
        "start": "2030-12-18T09:00",
        "minutes": "60",
        "provider": "",
        "rule": "FREQ=WEEKLY;BYDAY=WE;COUNT=3",
        "excluded": "",
        "skip_holidays": "1",
    }
    made = client.post(f"{path}/visits", data=sent)
    assert made.status_code == 303 and "count=1" in made.headers["location"]
