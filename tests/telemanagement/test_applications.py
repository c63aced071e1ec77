"""Replacement by providers applying: a visit freed by an absence is offered to the absent provider's
colleagues who are qualified and free; they see it on their day page and apply (twice is once; someone
it is not offered to gets 403); the beneficiary with an account, or a coordinator, chooses; the visit
is theirs and the others are told it is taken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import func, select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.accounts.models import User
from node.core import db
from node.core.errors import Conflict, PermissionDenied
from node.groups.colleagues import colleagues_of
from node.market.models import Notification
from node.settings import Settings
from node.telemanagement import applications, replacement
from node.telemanagement.lifecycles import APPLICATION_LIFECYCLE, ApplicationState
from node.telemanagement.models import Visit
from node.telemanagement.tables import ReplacementApplication
from tests.support.pages import csrf, form_token, login
from tests.support.replacements import absent_tomorrow, colleagues, qualified_provider, visit_tomorrow
from tests.support.telemanagement import Setup, beneficiary_account, care_setup


@pytest.fixture
def setup(engine: Engine, settings: Settings) -> Setup:
    return care_setup(engine, settings, valid_from=datetime.now(UTC).date() - timedelta(days=5))


def _freed_visit(engine: Engine, settings: Settings, setup: Setup) -> tuple[int, User, User, User, User]:
    """A visit of aline's tomorrow, freed by her absence; beatrice and carlos are her colleagues,
    daniel is not; martin is the beneficiary's account."""
    bea, carl = colleagues(engine, settings, setup)
    dan = qualified_provider(engine, "daniel")
    martin = beneficiary_account(engine, setup)
    visit_id = visit_tomorrow(engine, setup)
    absent_tomorrow(engine, settings, setup)
    return visit_id, bea, carl, dan, martin


def _applications(engine: Engine) -> int:
    with db.session_scope(engine) as s:
        return s.exec(select(func.count()).select_from(ReplacementApplication)).one()


def test_the_lifecycle_of_an_application() -> None:
    A = ApplicationState
    assert set(APPLICATION_LIFECYCLE.edges()) == {(A.APPLIED, A.CHOSEN), (A.APPLIED, A.DECLINED)}
    assert APPLICATION_LIFECYCLE.terminal == {A.CHOSEN, A.DECLINED}
    assert not APPLICATION_LIFECYCLE.allows(A.DECLINED, A.CHOSEN)


def test_colleagues_apply_and_the_beneficiary_chooses(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    visit_id, bea, carl, dan, martin = _freed_visit(engine, settings, setup)
    with db.session_scope(engine) as s:
        assert [o.line.visit.id for o in applications.offers(s, bea, colleagues_of)] == [visit_id]
        assert applications.offers(s, dan, colleagues_of) == []
        with pytest.raises(PermissionDenied):
            applications.apply(s, dan, visit_id, colleagues_of)
    with db.session_scope(engine) as s:
        first = applications.apply(s, bea, visit_id, colleagues_of)
        again = applications.apply(s, bea, visit_id, colleagues_of)
        assert (first.visit_id, first.user_id) == (again.visit_id, again.user_id)
        applications.apply(s, carl, visit_id, colleagues_of)
    assert _applications(engine) == 2
    with db.session_scope(engine) as s:
        for stranger in (dan, bea):  # a provider does not choose, even one who applied
            with pytest.raises(PermissionDenied):
                applications.choose(s, settings, stranger, visit_id, carl.id or 0)
        with pytest.raises(Conflict):
            applications.choose(s, settings, martin, visit_id, dan.id or 0)  # did not apply
        assert [p.username for p in applications.applicants(s, martin, visit_id)] == ["beatrice", "carlos"]
    with db.session_scope(engine) as s:
        done = applications.choose(s, settings, martin, visit_id, carl.id or 0)
        assert done.provider.id == carl.id
    with db.session_scope(engine) as s:
        assert s.get(Visit, visit_id).provider_id == carl.id  # type: ignore[union-attr]
        states = {row.user_id: row.state for row in s.exec(select(ReplacementApplication))}
        assert states == {bea.id: "declined", carl.id: "chosen"}
        told = {(n.user_id, n.kind) for n in s.exec(select(Notification))}
        assert (bea.id, "visit_taken") in told and (carl.id, "visit_given") in told
        assert (carl.id, "visit_taken") not in told
        assert applications.offers(s, bea, colleagues_of) == []
        with pytest.raises(Conflict):
            applications.choose(s, settings, setup.coordinator, visit_id, bea.id or 0)


def test_a_coordinator_giving_the_visit_declines_the_applications(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    visit_id, bea, carl, _dan, _martin = _freed_visit(engine, settings, setup)
    with db.session_scope(engine) as s:
        applications.apply(s, bea, visit_id, colleagues_of)
    with db.session_scope(engine) as s:
        replacement.reassign(s, settings, setup.coordinator, visit_id, "carlos")
    with db.session_scope(engine) as s:
        assert s.exec(select(ReplacementApplication)).one().state == "declined"
        assert s.get(Visit, visit_id).provider_id == carl.id  # type: ignore[union-attr]


def test_applying_and_choosing_on_the_pages(
    client: TestClient, engine: Engine, settings: Settings, setup: Setup
) -> None:
    visit_id, bea, _carl, _dan, _martin = _freed_visit(engine, settings, setup)
    action = f"/me/replacements/{visit_id}/apply"
    login(client, "beatrice")
    day = client.get("/me/visits")
    assert 'id="offers"' in day.text
    token = form_token(day.text, action)
    assert client.get(action).status_code == 303
    for _ in range(2):
        assert client.post(action, data={"csrf_token": token}).status_code == 303
    assert _applications(engine) == 1
    assert f'data-testid="applied-{visit_id}"' in client.get("/me/visits").text
    client.cookies.clear()
    login(client, "daniel")
    assert 'id="offers"' not in client.get("/me/visits").text
    assert client.post(action, data={"csrf_token": csrf(client, "/me/absence")}).status_code == 403
    assert _applications(engine) == 1
    client.cookies.clear()
    login(client, "coord")
    assert f'data-testid="applied-{visit_id}-beatrice"' in client.get("/telemanagement/replacements").text
    client.cookies.clear()
    login(client, "martin")
    choose = f"/me/replacements/{visit_id}/choose"
    day = client.get("/me/visits")
    assert 'id="waiting"' in day.text and "beatrice" in day.text
    token = form_token(day.text, choose)
    assert client.post(choose, data={"csrf_token": token, "applicant": "x"}).status_code == 409
    done = client.post(choose, data={"csrf_token": token, "applicant": str(bea.id)})
    assert done.status_code == 303
    with db.session_scope(engine) as s:
        assert s.get(Visit, visit_id).provider_id == bea.id  # type: ignore[union-attr]


def test_applying_and_choosing_through_the_api(
    client: TestClient, engine: Engine, settings: Settings, setup: Setup
) -> None:
    visit_id, bea, _carl, dan, _martin = _freed_visit(engine, settings, setup)
    with db.session_scope(engine) as s:
        heads = {
            user.username: {
                "Authorization": f"Bearer {credentials.create_api_token(user, 't', session=s)[1]}"
            }
            for user in (bea, dan, setup.coordinator)
        }
    offers = client.get("/api/v1/replacement-offers", headers=heads["beatrice"])
    assert offers.status_code == 200 and [o["visit_id"] for o in offers.json()] == [visit_id]
    assert not offers.json()[0]["applied"] and "address" not in offers.json()[0]
    path = f"/api/v1/visits/{visit_id}/applications"
    assert client.post(path, headers=heads["daniel"]).status_code == 403
    first, second = (client.post(path, headers=heads["beatrice"]) for _ in range(2))
    assert first.status_code == second.status_code == 200 and first.json() == second.json()
    assert first.json()["state"] == "applied" and _applications(engine) == 1
    choice = f"/api/v1/visits/{visit_id}/choice"
    assert client.post(choice, headers=heads["daniel"], json={"applicant_id": bea.id}).status_code == 403
    given = client.post(choice, headers=heads["coord"], json={"applicant_id": bea.id})
    assert given.status_code == 200 and given.json()["provider_id"] == bea.id
    assert client.post(choice, headers=heads["coord"], json={"applicant_id": bea.id}).status_code == 409
    assert client.post(path, headers=heads["daniel"]).status_code == 409  # no longer waiting
