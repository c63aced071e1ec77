"""Evaluation pages: the form (double-blind, errors shown on the form), the reputation block of
profiles, the notifications page and its counter, and the ActivityStreams side (the actor's
``evaluations`` collection, each published evaluation at its id)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.accounts.models import User
from node.market.models import Agreement, Evaluation
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.evaluations import completed_pair, make_agreement, uri
from tests.support.market import make_proposal
from tests.support.pages import csrf, login, post_form

EN = {"Accept-Language": "en"}
AS = {"Accept": "application/activity+json"}


@pytest.fixture
def pair(engine: Engine, settings: Settings) -> tuple[User, User, Agreement]:
    return completed_pair(engine, settings)


def _evaluations(engine: Engine) -> list[Evaluation]:
    with Session(engine) as session:
        return list(session.exec(select(Evaluation)).all())


def _path(agreement: Agreement) -> str:
    return f"/agreements/{agreement.ap_id.rsplit('/', 1)[1]}/evaluate"


def test_form_is_accessible_and_double_blind(
    client: TestClient, engine: Engine, pair: tuple[User, User, Agreement]
) -> None:
    _, _, agreement = pair
    path = _path(agreement)
    assert client.get(path).status_code == 303  # to the login page
    login(client, "alice")
    page = client.get(path, headers=EN)
    assert page.status_code == 200
    assert "Evaluate bob" in page.text and "double-blind" in page.text
    for value in range(1, 6):
        assert (
            f'<input type="radio" id="f-overall-{value}" name="overall" value="{value}" required>'
            in page.text
        )
        assert f'<label for="f-overall-{value}">{value} – ' in page.text
    for name in ("punctuality", "quality", "respect"):
        assert f'name="criteria.{name}"' in page.text
    assert 'name="criteria.clarity"' not in page.text  # Bob was the provider
    assert 'maxlength="1000"' in page.text and "At most 1000 characters." in page.text
    assert "<legend>Overall score" in page.text

    done = post_form(client, path, {"overall": "4", "criteria.quality": "5", "comment": "Merci !"})
    assert done.status_code == 303 and done.headers["location"] == path + "?done=1"
    mine = client.get(path + "?done=1", headers=EN)
    assert "Your evaluation is recorded." in mine.text and "Nobody else sees it yet." in mine.text
    assert "Merci !" in mine.text and '<form method="post" action="' + path not in mine.text

    client.cookies.clear()
    login(client, "bob")
    theirs = client.get(path, headers=EN)
    assert "Merci !" not in theirs.text and 'name="criteria.clarity"' in theirs.text
    post_form(client, path, {"overall": "5", "criteria.payment": "5"})
    both = client.get(path, headers=EN)
    assert "Merci !" in both.text and "Evaluation by alice" in both.text
    assert {e.state for e in _evaluations(engine)} == {"published"}


def test_errors_shown_on_the_form_and_nothing_stored(
    client: TestClient, engine: Engine, pair: tuple[User, User, Agreement]
) -> None:
    _, _, agreement = pair
    path = _path(agreement)
    login(client, "alice")
    token = csrf(client, path)
    comment = "é" * 1001
    refused = client.post(
        path,
        data={"csrf_token": token, "criteria.respect": "9", "comment": comment},
        headers=EN,
    )
    assert refused.status_code == 422
    assert 'class="alert error-summary"' in refused.text
    assert 'href="#f-overall"' in refused.text and 'href="#f-comment"' in refused.text
    assert 'href="#f-criteria.respect"' in refused.text  # a value no radio button offers
    assert re.search(r'name="overall" value="1" required aria-invalid="true"', refused.text)
    assert 'id="e-overall"' in refused.text and "Choose a score from 1 to 5." in refused.text
    assert "1001 of 1000 characters used." in refused.text and comment in refused.text
    assert _evaluations(engine) == []

    kept = client.post(path, data={"csrf_token": token, "overall": "3", "comment": "x" * 1001}, headers=EN)
    assert kept.status_code == 422 and 'value="3" checked' in kept.text
    assert client.post(path, data={"overall": "3"}).status_code == 403  # no CSRF token
    assert _evaluations(engine) == []

    assert post_form(client, path, {"overall": "3"}).status_code == 303
    again = client.post(path, data={"csrf_token": token, "overall": "1"}, headers=EN)
    assert again.status_code == 409 and "You already evaluated this agreement." in again.text
    assert [e.overall for e in _evaluations(engine)] == [3]


def test_refused_to_others_and_before_completion(
    client: TestClient, engine: Engine, settings: Settings, pair: tuple[User, User, Agreement]
) -> None:
    alice, bob, agreement = pair
    make_user(engine, "carol")
    login(client, "carol")
    assert client.get(_path(agreement)).status_code == 403
    assert client.get("/agreements/unknown/evaluate").status_code == 404
    client.cookies.clear()
    login(client, "alice")
    ongoing = make_agreement(
        engine,
        settings,
        provider=uri(settings, bob),
        requester=uri(settings, alice),
        state="confirmed_by_one",
    )
    page = client.get(_path(ongoing), headers=EN)
    assert (
        page.status_code == 200 and "once it is completed" in page.text and 'name="overall"' not in page.text
    )
    token = csrf(client, _path(agreement))
    refused = client.post(_path(ongoing), data={"csrf_token": token, "overall": "5"}, headers=EN)
    assert refused.status_code == 409
    assert _evaluations(engine) == []


def test_profile_shows_the_reputation(
    client: TestClient, engine: Engine, settings: Settings, pair: tuple[User, User, Agreement]
) -> None:
    _, bob_user, agreement = pair
    empty = client.get("/users/bob", headers=EN)
    assert "No evaluation yet." in empty.text
    login(client, "alice")
    post_form(client, _path(agreement), {"overall": "4", "criteria.respect": "5", "comment": "Très soigneux"})
    assert "No evaluation yet." in client.get("/users/bob", headers=EN).text  # still hidden
    client.cookies.clear()
    login(client, "bob")
    post_form(client, _path(agreement), {"overall": "2"})
    profile = client.get("/users/bob", headers=EN).text
    assert "★★★★☆" in profile and "4.0 out of 5" in profile
    assert "1 evaluation" in profile and "from 1 node" in profile
    assert '<meter min="0" max="1" value="1">1</meter>' in profile
    assert "Respect" in profile and "testserver: 1 evaluation" in profile
    french = client.get("/users/bob", headers={"Accept-Language": "fr"}).text
    assert "4,0" in french
    assert "Ce qu’on a écrit" in french and "Très soigneux" in french  # written comments shown
    with Session(engine) as session:  # Bob's listing shows his rating
        make_proposal(session, settings, bob_user, purpose="offer")
    card = client.get("/proposals", headers={"Accept-Language": "fr"}).text.split('class="proposal-card"')[1]
    assert '<span class="stars" aria-hidden="true">★★★★☆</span> 4,0 sur 5 · 1 évaluation' in card


def test_notifications_page_and_counter(
    client: TestClient, engine: Engine, pair: tuple[User, User, Agreement]
) -> None:
    _, _, agreement = pair
    login(client, "alice")
    assert ">Notifications</span></a>" in client.get("/notifications", headers=EN).text
    post_form(client, _path(agreement), {"overall": "5"})
    client.cookies.clear()
    login(client, "bob")
    assert "Notifications (1)" in client.get("/me", headers=EN).text
    page = client.get("/notifications", headers=EN)
    assert page.status_code == 200
    assert f'<a href="{_path(agreement)}">You were evaluated</a>' in page.text
    assert "alice" in page.text and 'class="badge state-new">New' in page.text
    # Seen: the counter clears at once, and the next visit shows nothing new.
    assert "Notifications (1)" not in page.text
    after = client.get("/notifications", headers=EN).text
    assert "Notifications (1)" not in after and 'class="badge state-new">New' not in after
    token = csrf(client, "/", "/logout")
    read = client.post("/notifications/read", data={"csrf_token": token})
    assert read.status_code == 303 and read.headers["location"] == "/notifications?done=read"
    assert client.post("/notifications/read", data={}).status_code == 403


def test_evaluations_collection_and_objects(
    client: TestClient, engine: Engine, pair: tuple[User, User, Agreement]
) -> None:
    _, _, agreement = pair
    login(client, "alice")
    post_form(client, _path(agreement), {"overall": "4", "comment": "Parfait"})
    [hidden] = _evaluations(engine)
    object_path = hidden.ap_id.removeprefix("http://testserver")
    assert client.get(object_path, headers=AS).status_code == 404  # not yet published
    collection = client.get("/users/bob/evaluations", headers=AS)
    assert collection.status_code == 200 and collection.json()["totalItems"] == 0

    client.cookies.clear()
    login(client, "bob")
    post_form(client, _path(agreement), {"overall": "5"})
    collection = client.get("/users/bob/evaluations", headers=AS).json()
    assert collection["type"] == "OrderedCollection" and collection["totalItems"] == 1
    assert collection["first"] == "http://testserver/users/bob/evaluations?page=1"
    page = client.get("/users/bob/evaluations?page=1", headers=AS)
    assert page.headers["content-type"].startswith("application/activity+json")
    [item] = page.json()["orderedItems"]
    assert (
        item["type"] == "Review" and item["id"] == hidden.ap_id and item["reviewRating"]["ratingValue"] == 4
    )
    assert item["itemReviewed"] == "http://testserver/users/bob" and item["content"] == "<p>Parfait</p>"
    assert client.get("/users/bob/evaluations?page=0", headers=AS).status_code == 400
    assert client.get("/users/nobody/evaluations", headers=AS).status_code == 404

    review = client.get(object_path, headers=AS)
    assert review.status_code == 200 and review.json()["id"] == hidden.ap_id
    assert review.json()["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    browser = client.get(object_path)
    assert browser.status_code == 303 and browser.headers["location"] == "/users/bob"
    assert client.get("/evaluations/unknown").status_code == 404
