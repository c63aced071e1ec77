"""Past the count's cap, a page in date order is looked for among windows of the newest proposals (on
databases whose backend checks a window in one read of its index, SQLite): whichever window holds the
page, or none (the search then reads every match), the pages are exactly those of a search that counts
and sorts everything."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from node.search import engine
from node.settings import Settings
from tests.support.search import every_page, housework_corpus

QUERIES: list[dict[str, str]] = [
    {"q": "ménage"},
    {"q": "ménage", "sort": "date"},
    {"q": "vitres"},
    {"q": "ménage", "purpose": "offer"},
]
# the windows tried, so many rows per row of the page: none holds a page (every match is read), the
# first one holds the page of common words only, or a larger one holds it
WINDOWS = [(1,), (1, 2), (2, 64)]


@pytest.fixture
def corpus(session: Session, settings: Settings) -> None:
    """40 proposals, "ménage" in a title one time in three and in a description another time in three,
    published in an order that is not the order they were stored in."""
    housework_corpus(session, settings, 40)


@pytest.mark.usefixtures("corpus")
@pytest.mark.parametrize("windows", WINDOWS, ids=str)
@pytest.mark.parametrize("params", QUERIES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
def test_pages_walked_through_windows_are_those_of_sorting_every_match(
    session: Session, monkeypatch: pytest.MonkeyPatch, params: dict[str, Any], windows: tuple[int, ...]
) -> None:
    monkeypatch.setattr(engine, "PAGE_SIZE", 4)
    exact_ids = every_page(session, params)[0]
    assert len(exact_ids) > 5
    walks: list[list[int] | None] = []
    walked_page = engine.walked_page

    def spy(*args: Any, **kwargs: Any) -> list[int] | None:
        walks.append(walked_page(*args, **kwargs))
        return walks[-1]

    monkeypatch.setattr(engine, "walked_page", spy)
    monkeypatch.setattr(engine, "COUNT_CAP", 5)
    monkeypatch.setattr(engine, "WALK_WINDOWS", windows)
    assert every_page(session, params)[0] == exact_ids
    if session.get_bind().dialect.name == "sqlite":
        assert walks, "the date order past the cap walks the windows"
        if windows == (1,) and params.get("q") == "vitres":  # rare words: no window of 1 holds a page
            assert None in walks
        if windows == (2, 64):  # 64 rows per row of a page of 4 hold all 40 proposals
            assert None not in walks
    else:
        assert not walks  # PostgreSQL's planner walks the date index itself
