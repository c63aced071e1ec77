"""A visit waiting for a replacement after an absence, given by any path — a coordinator assigning it to
one of ours, giving it to a provider of another node (the service, or the visit's page, which takes a
username here or a remote actor's address, asks first, in the page's dialog or on a page of its own),
giving its whole series — no longer waits, exactly as when an applicant is chosen: the wait is closed,
the applicants still waiting are told their application was declined (the one given the visit, if they
applied, is chosen), and the replacements page no longer lists it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.accounts.models import User
from node.core import db
from node.core.errors import Conflict, ValidationFailed
from node.groups.colleagues import colleagues_of
from node.market.models import Notification
from node.settings import Settings
from node.telemanagement import applications, federation, given, given_series, replacement
from node.telemanagement.models import Visit
from node.telemanagement.tables import Reassignment, RemoteAssignment, ReplacementApplication
from tests.support.pages import form_token, login
from tests.support.replacements import (
    absent_tomorrow,
    colleagues,
    plan_series,
    qualified_provider,
    sent_to_remote,
    tomorrow_at_ten,
)
from tests.support.telemanagement import Setup, care_setup

BOB = "https://bagnolet.test/users/bob"


@pytest.fixture
def setup(engine: Engine, settings: Settings) -> Setup:
    return care_setup(engine, settings, valid_from=datetime.now(UTC).date() - timedelta(days=5))


@dataclass
class Waiting:
    """The first of a weekly series of two visits of Aline's, freed by her absence tomorrow; her
    colleagues Beatrice and Carlos applied for it; Daniel, qualified, works elsewhere."""

    visit_id: int
    series_id: int
    visits: list[int]
    bea: User
    carl: User
    dan: User


@pytest.fixture
def waiting(engine: Engine, settings: Settings, setup: Setup) -> Waiting:
    bea, carl = colleagues(engine, settings, setup)
    dan = qualified_provider(engine, "daniel")
    series_id, ids = plan_series(engine, setup, tomorrow_at_ten(), "FREQ=WEEKLY;COUNT=2")
    assert absent_tomorrow(engine, settings, setup) == ids[:1]
    with db.session_scope(engine) as s:
        applications.apply(s, bea, ids[0], colleagues_of)
        applications.apply(s, carl, ids[0], colleagues_of)
        assert [line.visit.id for line, _row in replacement.waiting(s, setup.coordinator)] == ids[:1]
    return Waiting(ids[0], series_id, ids, bea, carl, dan)


def _settled(engine: Engine, settings: Settings, setup: Setup, w: Waiting, *, to: User | None) -> None:
    """The wait is closed for ``to`` (or for a provider of another node), as a choice would close it."""
    with db.session_scope(engine) as s:
        row = s.get(Reassignment, w.visit_id)
        assert row is not None and row.reassigned_at is not None
        assert row.reassigned_to_id == (to.id if to else None)
        assert s.get(Visit, w.visit_id).provider_id == row.reassigned_to_id  # type: ignore[union-attr]
        assert replacement.waiting(s, setup.coordinator) == []
        states = {a.user_id: a.state for a in s.exec(select(ReplacementApplication))}
        expected = {w.bea.id: "declined", w.carl.id: "declined"}
        if to is not None and to.id in expected:
            expected[to.id] = "chosen"
        assert states == expected
        told = {(n.user_id, n.kind) for n in s.exec(select(Notification))}
        taken = {(user_id, "visit_taken") for user_id, state in expected.items() if state == "declined"}
        assert {pair for pair in told if pair[1] == "visit_taken"} == taken
        assert ((to.id, "visit_given") in told) if to is not None else True
        assert applications.offers(s, w.bea, colleagues_of) == []
    with db.session_scope(engine) as s:
        with pytest.raises(ValidationFailed):
            replacement.reassign(s, settings, setup.coordinator, w.visit_id, "beatrice")
        with pytest.raises(Conflict):
            applications.apply(s, w.dan, w.visit_id, colleagues_of)


def test_assigned_to_an_applicant_chooses_them(
    engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    with db.session_scope(engine) as s:
        given.assign(s, settings, setup.coordinator, waiting.visit_id, "carlos")
    _settled(engine, settings, setup, waiting, to=waiting.carl)


def test_assigned_to_someone_who_did_not_apply_declines_both(
    engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    with db.session_scope(engine) as s:
        given.assign(s, settings, setup.coordinator, waiting.visit_id, "daniel")
    _settled(engine, settings, setup, waiting, to=waiting.dan)


def test_given_to_a_remote_provider_declines_both(
    engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    with db.session_scope(engine) as s:
        given.give_to_remote(s, settings, setup.coordinator, waiting.visit_id, BOB)
    _settled(engine, settings, setup, waiting, to=None)
    assert sent_to_remote(engine) == [("Offer", federation.visit_uri(settings, waiting.visit_id), BOB)]


def test_given_with_its_series_chooses_the_applicant(
    engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    with db.session_scope(engine) as s:
        done = given_series.give_series(s, settings, setup.coordinator, waiting.series_id, provider="carlos")
        assert done.given == waiting.visits
    _settled(engine, settings, setup, waiting, to=waiting.carl)


def test_given_with_its_series_to_a_remote_provider(
    engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    with db.session_scope(engine) as s:
        given_series.give_series(s, settings, setup.coordinator, waiting.series_id, provider=BOB)
    _settled(engine, settings, setup, waiting, to=None)
    assert [kind for kind, _uri, _to in sent_to_remote(engine)] == ["Offer", "Offer"]


def test_unassigning_leaves_it_waiting(
    engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    with db.session_scope(engine) as s:
        given.assign(s, settings, setup.coordinator, waiting.visit_id, "")
        assert [line.visit.id for line, _row in replacement.waiting(s, setup.coordinator)] == [
            waiting.visit_id
        ]
        assert {a.state for a in s.exec(select(ReplacementApplication))} == {"applied"}


def test_the_visit_page_asks_then_gives_to_a_remote_provider(
    client: TestClient, engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    login(client, "coord")
    fr = {"Accept-Language": "fr"}
    assert (
        f'action="/telemanagement/replacements/{waiting.visit_id}"'
        in client.get("/telemanagement/replacements").text
    )
    page_path = f"/telemanagement/visits/{waiting.visit_id}"
    action = f"{page_path}/assign"
    page = client.get(page_path, headers=fr)
    assert f'action="{action}"' in page.text and "data-confirm=" in page.text
    assert "l’adresse de son acteur sur un autre nœud" in page.text
    fields = {"csrf_token": form_token(page.text, action), "provider": BOB}
    # Without the dialog (no JavaScript): a page asks, naming whom, and nothing is given yet.
    asked = client.post(action, data=fields, headers=fr)
    assert asked.status_code == 200 and 'name="confirmed" value="1"' in asked.text
    assert f"À\u00a0: {BOB}" in asked.text and f'value="{BOB}"' in asked.text
    assert sent_to_remote(engine) == []
    for wrong in ("nobody", "https://bagnolet.test/users/bob with spaces"):
        refused = client.post(action, data={**fields, "provider": wrong, "confirmed": "1"}, headers=fr)
        assert refused.status_code == 422 and 'id="e-provider"' in refused.text, wrong
    assert sent_to_remote(engine) == []
    done = client.post(action, data={**fields, "confirmed": "1"})
    assert done.status_code == 303 and done.headers["location"] == f"{page_path}?done=assigned"
    with db.session_scope(engine) as s:
        row = s.get(RemoteAssignment, waiting.visit_id)
        assert row is not None and row.actor_uri == BOB
    _settled(engine, settings, setup, waiting, to=None)
    listed = client.get("/telemanagement/replacements").text
    assert f'action="/telemanagement/replacements/{waiting.visit_id}"' not in listed
    assert client.get(action).status_code == 303  # GET sends back to the visit


def test_the_visit_page_gives_to_one_of_ours(
    client: TestClient, engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    login(client, "coord")
    action = f"/telemanagement/visits/{waiting.visit_id}/assign"
    token = form_token(client.get(f"/telemanagement/visits/{waiting.visit_id}").text, action)
    done = client.post(action, data={"csrf_token": token, "provider": "carlos", "confirmed": "1"})
    assert done.status_code == 303
    _settled(engine, settings, setup, waiting, to=waiting.carl)
