"""Giving a whole series: every coming visit of one recurrence rule, from a chosen day on, goes to one
provider — of another node (one ``Offer`` of a ``Commitment`` per visit in the outbox) or of this one
(the remote provider who had them told with a ``Delete`` each) — while the visits already past,
clocked, cancelled or in a validated month stay and are counted. In the service, the API and the pages
(asked first, in the page's dialog or on a page of its own). Bad input changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.core import db
from node.core.errors import NotFound, PermissionDenied, ValidationFailed
from node.settings import Settings
from node.telemanagement import clocking, federation, given, given_series, locks, visits
from node.telemanagement.billing_models import MonthValidation
from node.telemanagement.models import Visit
from node.telemanagement.tables import RemoteAssignment
from tests.support.accounts import make_user
from tests.support.pages import form_token, login
from tests.support.replacements import plan_series, sent_to_remote
from tests.support.telemanagement import Setup, care_setup

BOB = "https://bagnolet.test/users/bob"
WEEKS_BEFORE = 3


@pytest.fixture
def setup(engine: Engine, settings: Settings) -> Setup:
    today = datetime.now(UTC).date()
    return care_setup(
        engine, settings, valid_from=today - timedelta(days=30), valid_until=today + timedelta(days=120)
    )


def _series(engine: Engine, setup: Setup) -> tuple[int, list[int]]:
    """A weekly series of twelve visits given to Aline, the first three past; its visits, soonest first."""
    first = (datetime.now(UTC) - timedelta(weeks=WEEKS_BEFORE) + timedelta(hours=2)).astimezone(visits.PARIS)
    return plan_series(engine, setup, first, "FREQ=WEEKLY;COUNT=12")


def _providers(engine: Engine, ids: list[int]) -> list[int | None]:
    with db.session_scope(engine) as s:
        return [s.exec(select(Visit.provider_id).where(Visit.id == n)).one() for n in ids]


def _mixed(engine: Engine, settings: Settings, setup: Setup, ids: list[int]) -> None:
    """Visit 3 (past) clocked in, visit 5 cancelled, the month of the last visit validated."""
    with db.session_scope(engine) as s:
        clocking.clock(s, settings, setup.provider, ids[WEEKS_BEFORE - 1], "in", manual_reason="other")
        given.cancel(s, settings, setup.coordinator, ids[5], "beneficiary_hospitalised")
        last = s.get(Visit, ids[-1])
        assert last is not None
        s.add(MonthValidation(funder_id=setup.funder_id, month=locks.month_of(last.starts_at)))


def test_a_series_goes_to_a_remote_provider_then_back_home(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    series_id, ids = _series(engine, setup)
    _mixed(engine, settings, setup, ids)
    with db.session_scope(engine) as s:
        locked = [
            n
            for n in ids
            if locks.is_locked(s, setup.funder_id, locks.month_of(s.get(Visit, n).starts_at))  # type: ignore[union-attr]
        ]
    first_day = (datetime.now(UTC) - timedelta(weeks=WEEKS_BEFORE + 1)).astimezone(visits.PARIS).date()
    with db.session_scope(engine) as s:
        done = given_series.give_series(
            s, settings, setup.coordinator, series_id, provider=BOB, from_day=first_day.isoformat()
        )
    coming = [n for n in ids[WEEKS_BEFORE:] if n != ids[5] and n not in locked]
    assert done.given == coming
    assert done.left == {
        "past": WEEKS_BEFORE - 1,
        "clocked": 1,
        "cancelled": 1,
        "locked": len([n for n in locked if n != ids[5]]),
    }
    assert done.left_count + len(done.given) == len(ids)
    uris = [federation.visit_uri(settings, n) for n in coming]
    assert sent_to_remote(engine) == [("Offer", uri, BOB) for uri in uris]
    assert set(_providers(engine, coming)) == {None}
    assert set(_providers(engine, [n for n in ids if n not in coming])) == {setup.provider.id}

    # From a later day on, back to one of ours: only those visits move, and Bob is told of each.
    bruno = make_user(engine, "bruno")
    later = coming[2:]
    with db.session_scope(engine) as s:
        day = s.get(Visit, later[0]).starts_at.astimezone(visits.PARIS).date()  # type: ignore[union-attr]
        again = given_series.give_series(
            s, settings, setup.coordinator, series_id, provider=" bruno ", from_day=day.isoformat()
        )
    assert again.given == later and again.left == ({"locked": len(locked)} if locked else {})
    taken_back = [("Delete", federation.visit_uri(settings, n), BOB) for n in later]
    assert sent_to_remote(engine)[len(uris) :] == taken_back
    assert set(_providers(engine, later)) == {bruno.id}
    with db.session_scope(engine) as s:
        still = s.exec(select(RemoteAssignment.visit_id).order_by(col(RemoteAssignment.visit_id))).all()
        assert list(still) == coming[:2]


def test_the_preview_counts_what_giving_then_does(engine: Engine, settings: Settings, setup: Setup) -> None:
    """The confirmation's counts come from the action itself in a dry run: they change nothing and
    equal what giving does just after."""
    series_id, ids = _series(engine, setup)
    _mixed(engine, settings, setup, ids)
    first_day = (datetime.now(UTC) - timedelta(weeks=WEEKS_BEFORE + 1)).astimezone(visits.PARIS).date()
    day = first_day.isoformat()
    with db.session_scope(engine) as s:
        preview = given_series.give_series(
            s, settings, setup.coordinator, series_id, provider=BOB, from_day=day, dry_run=True
        )
    assert sent_to_remote(engine) == [] and set(_providers(engine, ids)) == {setup.provider.id}
    assert len(preview.left) >= 3 and preview.given  # several reasons, and visits to give
    with db.session_scope(engine) as s:
        done = given_series.give_series(s, settings, setup.coordinator, series_id, provider=BOB, from_day=day)
    assert preview == done and preview.counts() == done.counts()
    assert len(sent_to_remote(engine)) == len(done.given)


@pytest.mark.parametrize(
    ("provider", "from_day", "refused"),
    [
        ("nobody", "", ValidationFailed),
        ("", "", ValidationFailed),
        ("https://bagnolet.test/users/bob smith", "", ValidationFailed),
        (BOB, "le 12", ValidationFailed),
        (BOB, "2026-13-01", ValidationFailed),
    ],
)
def test_bad_input_changes_nothing(
    engine: Engine, settings: Settings, setup: Setup, provider: str, from_day: str, refused: type[Exception]
) -> None:
    series_id, ids = _series(engine, setup)
    with pytest.raises(refused), db.session_scope(engine) as s:
        given_series.give_series(
            s, settings, setup.coordinator, series_id, provider=provider, from_day=from_day
        )
    assert set(_providers(engine, ids)) == {setup.provider.id} and sent_to_remote(engine) == []


def test_only_coordinators_give_a_series_that_exists(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    series_id, ids = _series(engine, setup)
    with pytest.raises(PermissionDenied), db.session_scope(engine) as s:
        given_series.give_series(s, settings, setup.provider, series_id, provider=BOB)
    with pytest.raises(NotFound), db.session_scope(engine) as s:
        given_series.give_series(s, settings, setup.coordinator, series_id + 1000, provider=BOB)
    assert set(_providers(engine, ids)) == {setup.provider.id} and sent_to_remote(engine) == []


def test_the_api_gives_a_series_and_refuses_bad_input(
    client: TestClient, engine: Engine, settings: Settings, setup: Setup
) -> None:
    series_id, ids = _series(engine, setup)
    with db.session_scope(engine) as s:
        token = credentials.create_api_token(setup.coordinator, "tests", session=s)[1]
        member = credentials.create_api_token(setup.provider, "tests", session=s)[1]
    coord = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/series/{series_id}/provider"
    refusals = [
        (coord, {"provider": "nobody"}, 422),
        (coord, {"provider": BOB, "from_day": "demain"}, 422),
        (coord, {"provider": BOB, "extra": 1}, 422),
        (coord, {}, 422),
        ({"Authorization": f"Bearer {member}"}, {"provider": BOB}, 403),
    ]
    for headers, body, status in refusals:
        assert client.post(path, headers=headers, json=body).status_code == status, body
    assert (
        client.post(
            f"/api/v1/series/{series_id + 99}/provider", headers=coord, json={"provider": BOB}
        ).status_code
        == 404
    )
    assert set(_providers(engine, ids)) == {setup.provider.id} and sent_to_remote(engine) == []
    month_ago = (datetime.now(UTC) - timedelta(weeks=WEEKS_BEFORE + 1)).date().isoformat()
    answer = client.post(path, headers=coord, json={"provider": BOB, "from_day": month_ago})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["series_id"] == series_id and body["given"] == ids[WEEKS_BEFORE:]
    assert body["left"] == {"past": WEEKS_BEFORE}
    assert len(sent_to_remote(engine)) == len(ids) - WEEKS_BEFORE


def test_the_plan_page_asks_then_gives_the_series(
    client: TestClient, engine: Engine, settings: Settings, setup: Setup
) -> None:
    series_id, ids = _series(engine, setup)
    with db.session_scope(engine) as s:
        clocking.clock(s, settings, setup.provider, ids[WEEKS_BEFORE - 1], "in", manual_reason="other")
    login(client, "coord")
    plan_path = f"/telemanagement/plans/{setup.plan_id}"
    action = f"/telemanagement/series/{series_id}/provider"
    page = client.get(plan_path, headers={"Accept-Language": "fr"})
    assert f'action="{action}"' in page.text and "data-confirm=" in page.text
    token = form_token(page.text, action)
    month_ago = (datetime.now(UTC) - timedelta(weeks=WEEKS_BEFORE + 1)).date().isoformat()
    fields = {"csrf_token": token, "provider": BOB, "from_day": month_ago}
    # Without the dialog (no JavaScript): a page asks, and nothing is given yet.
    asked = client.post(action, data=fields, headers={"Accept-Language": "fr"})
    assert asked.status_code == 200 and 'name="confirmed" value="1"' in asked.text
    assert f'value="{BOB}"' in asked.text and sent_to_remote(engine) == []
    count = len(ids) - WEEKS_BEFORE
    left = f"{WEEKS_BEFORE} laissées\u00a0: {WEEKS_BEFORE - 1} déjà passées, 1 déjà pointée."
    assert f"{count} visites seront confiées, {left}" in asked.text, asked.text
    # A wrong provider, asked or confirmed: the plan page again, the field named, nothing changed.
    for confirmed in ("", "1"):
        wrong = client.post(action, data={**fields, "provider": "nobody", "confirmed": confirmed})
        assert wrong.status_code == 422 and f'id="e-series{series_id}_provider"' in wrong.text
    assert sent_to_remote(engine) == []
    done = client.post(action, data={**fields, "confirmed": "1"})
    assert done.status_code == 303
    location = done.headers["location"]
    assert location.startswith(f"{plan_path}?done=series&given={len(ids) - WEEKS_BEFORE}&")
    notice = client.get(location, headers={"Accept-Language": "fr"}).text
    expected = f"{count} visites confiées, {left}"
    assert expected in notice, notice
    assert client.get(action).status_code == 303  # GET sends back to the plan
    assert len(sent_to_remote(engine)) == count
