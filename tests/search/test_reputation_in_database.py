"""A minimum reputation and the order by reputation are worked out by the database (the authors' standings
joined to the proposals): the same reputations as :func:`reputations_of` gives, so the same pages as
filtering and ordering every match here, on SQLite and PostgreSQL, whether the search counts every match
or stops at the cap, with or without a radius, and for the saved searches' new matches."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, col, select

from node.core.timeutil import utcnow
from node.market.evaluations import standings
from node.market.evaluations.reputation import Reputation
from node.market.evaluations.service import reputations_of
from node.market.models import Proposal, Standing
from node.search import by_reputation, engine
from node.search.filters import parse_search
from node.settings import Settings
from tests.support.evaluations import scored
from tests.support.search import every_page, indexed

AUTHORS = [f"https://b.example/users/u{n}" for n in range(10)]
GROUP = "https://b.example/groups/menage-solidaire"
# the overall scores each author received (published); some means sit on a rounding boundary
SCORES: dict[int, tuple[int, ...]] = {
    0: (5, 5),  # 5.00
    1: (4, 4, 4, 5, 4, 4, 4, 4),  # 4.125: 4.13 rounded half up (4.12 by rounding half to even)
    2: (4,),  # 4.00, one evaluation
    3: (4, 4),  # 4.00, two
    4: (5, 4, 4),  # 4.333…: 4.33
    5: (3, 4),  # 3.50
    6: (1,),  # 1.00
    # 7: carried out a group's services (below)
    8: (5, 5),  # tied with 0
    # 9: nothing that counts
}
COMMUNES = ("93048", "93006", "94080", "75056")  # Montreuil, Bagnolet, Vincennes, Paris


@pytest.fixture
def corpus(session: Session, settings: Settings) -> None:
    now = utcnow()
    for i in range(60):
        indexed(
            session,
            settings,
            "Ménage de l'appartement" if i % 2 else "Repassage et un peu de ménage",
            insee=COMMUNES[i % len(COMMUNES)],
            published=now - timedelta(hours=(i * 7) % 60),
            author_uri=AUTHORS[i % len(AUTHORS)],
            origin="b.example",
        )
    for author, scores in SCORES.items():
        session.add_all(scored(AUTHORS[author], score) for score in scores)
    # a group's evaluations count for the group and for the member who carried the service out, once when
    # they are the same; a hidden (submitted) one and scores out of range do not count
    session.add_all(
        [
            scored(GROUP, 5, performer=AUTHORS[7]),
            scored(GROUP, 4, performer=AUTHORS[7]),
            scored(AUTHORS[6], 2, performer=AUTHORS[6]),
            scored(AUTHORS[8], 5, state="submitted"),
            scored(AUTHORS[9], 0),
            scored(AUTHORS[9], 6),
        ]
    )
    standings.restate([*AUTHORS, GROUP], session=session)  # stored here without the services
    session.commit()


@pytest.mark.usefixtures("corpus")
def test_the_standings_are_the_reputations(session: Session) -> None:
    found = {row.uri: (row.hundredths, row.count) for row in session.exec(select(Standing)).all()}
    reputations = reputations_of([*AUTHORS, GROUP], session=session)
    expected = {uri: (int(r.mean * 100), r.count) for uri, r in reputations.items() if r.mean is not None}
    assert found == expected
    assert found[AUTHORS[1]] == (413, 8) and found[AUTHORS[7]] == (450, 2) and found[AUTHORS[6]] == (150, 2)
    assert found[AUTHORS[8]] == (500, 2) and AUTHORS[9] not in found


def _reference(session: Session, params: dict[str, str]) -> tuple[list[int], dict[int, Reputation]]:
    """Every match of ``params`` without its reputation, newest first, and each author's reputation."""
    plain = {k: v for k, v in params.items() if k not in ("min_reputation", "sort")}
    ids = every_page(session, {**plain, "sort": "date"})[0]
    rows = {row.id or 0: row for row in session.exec(select(Proposal).where(col(Proposal.id).in_(ids))).all()}
    reputations = reputations_of([row.author_uri for row in rows.values()], session=session)
    return ids, {i: reputations[rows[i].author_uri] for i in ids}


SEARCHES: list[dict[str, str]] = [
    {"q": "ménage"},
    {"q": "repassage", "sort": "date"},
    {},
    {"commune": "93048", "radius": "3"},  # Montreuil and Bagnolet: a small box, read and checked here
    {"commune": "93048", "sort": "distance"},
]


@pytest.mark.usefixtures("corpus")
@pytest.mark.parametrize("cap", [100, 5], ids=["counted", "capped"])
@pytest.mark.parametrize("minimum", ["3.5", "4.13", "4.14", "5"])
@pytest.mark.parametrize(
    "params", SEARCHES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "all"
)
def test_a_minimum_reputation_keeps_the_matches_of_reputable_authors(
    session: Session, monkeypatch: pytest.MonkeyPatch, params: dict[str, str], minimum: str, cap: int
) -> None:
    monkeypatch.setattr(engine, "PAGE_SIZE", 4)
    monkeypatch.setattr(engine, "COUNT_CAP", cap)
    ids, reputations = _reference(session, params)
    sort = params.get("sort", "date")
    expected = [i for i in ids if (m := reputations[i].mean) is not None and m >= Decimal(minimum)]
    found = every_page(session, {**params, "sort": sort, "min_reputation": minimum})[0]
    if sort == "date":
        assert found == expected
    else:
        assert sorted(found) == sorted(expected)
    if minimum == "4.13" and any(reputations[i].count == 8 for i in ids):  # 4.125 rounds half up: in
        assert any(reputations[i].count == 8 for i in found)


@pytest.mark.usefixtures("corpus")
@pytest.mark.parametrize("first", [8, 1], ids=["", "author-by-author"])
@pytest.mark.parametrize("cap", [100, 5], ids=["counted", "capped"])
@pytest.mark.parametrize(
    "params", SEARCHES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "all"
)
def test_the_order_by_reputation_is_the_better_mean_then_the_more_evaluations(
    session: Session, monkeypatch: pytest.MonkeyPatch, params: dict[str, Any], cap: int, first: int
) -> None:
    monkeypatch.setattr(engine, "PAGE_SIZE", 4)
    monkeypatch.setattr(engine, "COUNT_CAP", cap)
    monkeypatch.setattr(by_reputation, "FIRST_AUTHORS", first)  # read the standings a few at a time
    monkeypatch.setattr(by_reputation, "CHUNK", 2 if first == 1 else by_reputation.CHUNK)
    ids, reputations = _reference(session, params)
    centred = "commune" in params
    pages = every_page(session, {**params, "sort": "reputation"})
    found = pages[0]
    distance = {hit.proposal.id: hit.distance_km for page in pages[1] for hit in page.hits}

    def key(i: int) -> tuple[Any, ...]:
        r = reputations[i]
        return (r.mean is None, -(r.mean or 0), -r.count, distance[i] if centred else 0)

    assert found == sorted(ids, key=key)  # a stable sort of the newest first
    assert len(found) == len(ids)


@pytest.mark.usefixtures("corpus")
def test_a_saved_search_with_a_minimum_reputation_is_told_of_reputable_authors_only(
    session: Session, settings: Settings
) -> None:
    last = max(i or 0 for i in session.exec(select(Proposal.id)).all())
    good = indexed(session, settings, "Ménage du soir", author_uri=AUTHORS[0], origin="b.example")
    indexed(session, settings, "Ménage du matin", author_uri=AUTHORS[6], origin="b.example")
    indexed(session, settings, "Ménage de nuit", author_uri=AUTHORS[9], origin="b.example")
    filters, _ = parse_search({"q": "ménage", "min_reputation": "4"})
    newer = engine.newer_matches(filters, session=session, now=utcnow(), after_id=last)
    assert [row.id for row in newer] == [good.id]
