"""SQLite, the embedded default, under concurrent writes: a real node on SQLite (web and worker in one
process) takes 32 registrations at once, then 32 token creations from the pages at once, then 32
proposals from the API at once together with 32 API reads that record their token's first use, while
its worker writes too. None may answer 500 ("database is locked"): every one is accepted and stored.
(The reads answered 500 before API requests took SQLite's write lock up front.)"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.accounts import PASSWORD
from tests.support.databases import DatabaseFactory
from tests.support.market import proposal_fields
from tests.support.nodes import Node, running_nodes
from tests.support.pages import form_token

pytestmark = pytest.mark.process

WRITERS = 32
TOKEN = re.compile(r'id="new-token">(asa_[A-Za-z0-9_-]+)<')


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory, database_factories: dict[str, DatabaseFactory]
) -> Iterator[Node]:
    no_limits = {
        "ASASAP_LIMIT_REGISTRATIONS_PER_ADDRESS_HOUR": "0",
        "ASASAP_LIMIT_TOKENS_PER_PERSON_HOUR": "0",
    }
    with running_nodes(
        tmp_path_factory.mktemp("writers"), database_factories, ["sqlite"], no_limits
    ) as nodes:
        yield nodes[0]


def at_once(work: Callable[[int], httpx.Response], count: int = WRITERS) -> list[httpx.Response]:
    """``work(i)`` for ``count`` clients, all released at the same moment."""
    start = threading.Barrier(count)

    def one(index: int) -> httpx.Response:
        start.wait(timeout=60)
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_32_writers_of_each_kind_at_once(node: Node) -> None:
    browsers = [httpx.Client(base_url=node.url, timeout=120, follow_redirects=False) for _ in range(WRITERS)]
    try:
        forms = [form_token(browser.get("/register").text, "/register") for browser in browsers]

        def register(index: int) -> httpx.Response:
            return browsers[index].post(
                "/register",
                data={
                    "csrf_token": forms[index],
                    "username": f"voisine{index}",
                    "password": PASSWORD,
                    "password_confirm": PASSWORD,
                },
            )

        statuses(at_once(register), {303})
        assert node.sql("SELECT count(*) FROM users") == [(WRITERS,)]

        pages = [
            form_token(browser.get("/settings/account").text, "/settings/tokens") for browser in browsers
        ]

        def create_token(index: int) -> httpx.Response:
            return browsers[index].post("/settings/tokens", data={"csrf_token": pages[index], "name": "app"})

        created = at_once(create_token)
        statuses(created, {201})
        tokens = [found.group(1) for response in created if (found := TOKEN.search(response.text))]
        assert len(tokens) == WRITERS

        def propose(index: int) -> httpx.Response:
            body: dict[str, Any] = proposal_fields("request", f"Aide aux courses numéro {index}")
            return httpx.post(
                node.url + "/api/v1/proposals",
                json=body,
                headers={"Authorization": f"Bearer {tokens[index]}"},
                timeout=120,
            )

        def propose_or_read(index: int) -> httpx.Response:
            """Proposals, and as many first reads with each token (which record its first use)."""
            if index < WRITERS:
                return propose(index)
            bearer = {"Authorization": f"Bearer {tokens[index - WRITERS]}"}
            return httpx.get(node.url + "/api/v1/me", headers=bearer, timeout=120)

        statuses(at_once(propose_or_read, 2 * WRITERS), {200, 201})
        assert node.sql("SELECT count(*) FROM proposals") == [(WRITERS,)]
        assert node.sql("SELECT count(*) FROM api_tokens") == [(WRITERS,)]
    finally:
        for browser in browsers:
            browser.close()
    assert "database is locked" not in node.process.log_text()


def statuses(responses: list[httpx.Response], expected: set[int]) -> None:
    seen = [response.status_code for response in responses]
    assert set(seen) <= expected, [
        (r.status_code, r.text[:300]) for r in responses if r.status_code not in expected
    ]
