"""Listings read their cards' authors, ratings, pictures, badges and nodes in one query per kind for the
whole page, not one per card: the number of SQL statements a listing runs does not grow with its cards.

Half the cards are local (each author with an avatar), half come from other nodes (each node with its
own name, which the cards show instead of its host)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session
from starlette.testclient import TestClient

from node.accounts.models import User
from node.activitypub.models import RemoteActor
from node.core import db
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.delivery import add_remote_actor
from tests.support.market import make_proposal, person
from tests.support.pages import login


def add_cards(engine: Engine, settings: Settings, first: int, count: int) -> None:
    """``count`` open offers by as many authors, every other one from another node."""
    with Session(engine) as session:
        for number in range(first, first + count):
            if number % 2:
                base = f"https://n{number}.example"
                add_remote_actor(engine, base, f"p{number}")
                with db.session_scope(engine, write=True) as write:
                    write.add(
                        RemoteActor(
                            uri=base + "/actor",
                            type="Application",
                            domain=f"n{number}.example",
                            inbox=base + "/inbox",
                            name=f"Nœud {number}",
                        )
                    )
                make_proposal(session, settings, author_uri=f"{base}/users/p{number}", purpose="offer")
            else:
                author = person(engine, f"local{number}")
                with db.session_scope(engine, write=True) as write:
                    row = write.get(User, author.pk)
                    assert row is not None
                    row.avatar = f"{number:032x}"
                make_proposal(session, settings, author, purpose="offer")


def own_cards(engine: Engine, settings: Settings, count: int) -> None:
    with Session(engine) as session:
        alice = session.get(User, 1)
        assert alice is not None and alice.username == "alice"
        for _ in range(count):
            make_proposal(session, settings, alice, purpose="offer")


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on the node's database while the test reads it."""
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def page_statements(client: TestClient, path: str, seen: list[str]) -> tuple[int, str]:
    client.get(path)  # once before, so that first-use work does not count
    seen.clear()
    response = client.get(path)
    assert response.status_code == 200, response.text
    return len(seen), response.text


def card_count(page_html: str) -> int:
    return len(re.findall(r'<li class="proposal-card', page_html))


@pytest.mark.parametrize("logged_in", [False, True])
def test_the_search_page_runs_as_many_statements_for_20_cards_as_for_5(
    client: TestClient, engine: Engine, settings: Settings, statements: list[str], logged_in: bool
) -> None:
    make_user(engine, "alice")
    if logged_in:
        login(client, "alice")
    add_cards(engine, settings, 0, 5)
    few, page = page_statements(client, "/proposals?sort=date", statements)
    assert card_count(page) == 5 and "Nœud 1" in page
    add_cards(engine, settings, 5, 15)
    many, page = page_statements(client, "/proposals?sort=date", statements)
    assert card_count(page) == 20 and "Sur Nœud 19" in page
    assert page.count('class="avatar small" src="/avatars/') == 10
    assert many == few, "\n".join(statements)
    # the person and their unread count, the origins and their nodes' names (the origin filter's choices),
    # the blocked domains, the count, the page, its rows, the ratings, the authors' accounts (once, for
    # names and badges), the remote authors, the local ones' cooperatives, the cards' nodes' names
    assert many <= (13 if logged_in else 11), "\n".join(statements)


def test_my_proposals_runs_as_many_statements_for_20_cards_as_for_5(
    client: TestClient, engine: Engine, settings: Settings, statements: list[str]
) -> None:
    make_user(engine, "alice")
    login(client, "alice")
    own_cards(engine, settings, 5)
    few, page = page_statements(client, "/me/proposals", statements)
    assert card_count(page) == 5
    own_cards(engine, settings, 15)
    many, page = page_statements(client, "/me/proposals", statements)
    assert card_count(page) == 20
    assert many == few, "\n".join(statements)


def test_my_proposals_come_20_a_page(client: TestClient, engine: Engine, settings: Settings) -> None:
    make_user(engine, "alice")
    login(client, "alice")
    own_cards(engine, settings, 21)
    first = client.get("/me/proposals").text
    assert card_count(first) == 20
    assert 'href="/me/proposals?page=2" rel="next"' in first and 'rel="prev"' not in first
    second = client.get("/me/proposals?page=2").text
    assert card_count(second) == 1
    assert 'href="/me/proposals?page=1" rel="prev"' in second and 'rel="next"' not in second
    assert card_count(client.get("/me/proposals?page=abc").text) == 20  # a bad page number: the first
