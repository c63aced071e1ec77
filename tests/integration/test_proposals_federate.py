"""Two real nodes on loopback: node B follows node A; an offer and a demand posted on A appear on B (API
and browse page, as remote proposals), a change follows, and a withdrawal on A withdraws them on B.

Node B runs on PostgreSQL when ``ASASAP_TEST_DATABASE_URL`` is set (as in CI), A on SQLite.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.core.timeutil import utcnow
from tests.support.accounts import PASSWORD
from tests.support.databases import DatabaseFactory
from tests.support.nodes import NodeProcess

pytestmark = pytest.mark.process

AS = {"Accept": "application/activity+json"}


def wait_until(what: str, check: Callable[[], bool], timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.2)


class Node:
    def __init__(self, process: NodeProcess) -> None:
        self.process = process
        self.tokens: dict[str, str] = {}

    @property
    def url(self) -> str:
        return self.process.base_url

    def add_person(self, username: str) -> None:
        created = self.process.cli("user", "create", username, "--password-stdin", stdin=PASSWORD)
        assert created.returncode == 0, created.stderr
        self.tokens[username] = self.process.cli("user", "token", username).stdout.strip()

    def api(
        self, method: str, path: str, body: dict[str, Any] | None = None, user: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.request(method, self.url + "/api/v1" + path, json=body, headers=headers, timeout=30)

    def remote(self) -> list[dict[str, Any]]:
        response = self.api("GET", "/proposals?origin=remote")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture
def nodes(tmp_path: Path, database_factories: dict[str, DatabaseFactory]) -> Iterator[tuple[Node, Node]]:
    sqlite = database_factories["sqlite"]
    second = database_factories.get("postgresql", sqlite)
    urls = [sqlite.create(), second.create()]
    processes = [NodeProcess(tmp_path / name, url) for name, url in zip("ab", urls, strict=True)]
    try:
        for process in processes:
            assert process.cli("init").returncode == 0
            process.start()
        yield Node(processes[0]), Node(processes[1])
    finally:
        for process in processes:
            process.stop()
        for factory, url in zip((sqlite, second), urls, strict=True):
            factory.drop(url)


def test_proposals_federate_from_a_followed_node(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    a.add_person("alice")
    followed = b.process.cli("federation", "follow", a.url, "--json")
    assert followed.returncode == 0, followed.stderr
    wait_until(
        "A accepts B's node",
        lambda: httpx.get(a.url + "/actor/followers", headers=AS).json()["totalItems"] == 1,
    )

    offer = {
        "purpose": "offer",
        "title": "Repassage en soirée",
        "description": "<p>Chemises et draps.</p>",
        "category": "laundry-delivery",
        "postal_code": "93100",
        "commune_name": "Montreuil",
        "quantity_hours": "2",
        "price": "18.50",
    }
    deadline = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT18:00")
    demand = {
        "purpose": "request",
        "title": "Courses avec ma mère",
        "category": "grocery-delivery",
        "postal_code": "93100",
        "commune_name": "Montreuil",
        "price": "40",
        "price_basis": "total",
        "bidding_deadline": deadline,
    }
    created = [a.api("POST", "/proposals", body, user="alice") for body in (offer, demand)]
    assert [r.status_code for r in created] == [201, 201], [r.text for r in created]
    ap_ids = {r.json()["ap_id"] for r in created}

    wait_until("both proposals reach B", lambda: {p["ap_id"] for p in b.remote()} == ap_ids)
    received = {p["ap_id"]: p for p in b.remote()}
    remote_offer = received[created[0].json()["ap_id"]]
    assert remote_offer["local"] is False and remote_offer["origin"] == a.url.split("://")[1]
    assert remote_offer["author"] == a.url + "/users/alice"
    assert remote_offer["price"] == {"amount": "18.50", "currency": "EUR", "basis": "per_hour"}
    assert remote_offer["commune"]["insee"] == "93048"
    remote_demand = received[created[1].json()["ap_id"]]
    assert remote_demand["purpose"] == "request" and remote_demand["bidding_deadline"] is not None
    assert b.api("GET", "/proposals?origin=local").json()["items"] == []
    page = httpx.get(b.url + "/proposals", params={"origin": "remote"}, timeout=30).text
    assert "Repassage en soirée" in page and "Courses avec ma mère" in page
    detail = httpx.get(b.url + remote_offer["url"].removeprefix(b.url), timeout=30)
    assert detail.status_code == 200 and created[0].json()["ap_id"] in detail.text

    # A change on A reaches B.
    offer_id = created[0].json()["id"]
    changed = a.api("PATCH", f"/proposals/{offer_id}", {"title": "Repassage et pliage"}, user="alice")
    assert changed.status_code == 200, changed.text
    wait_until("the change reaches B", lambda: any(p["title"] == "Repassage et pliage" for p in b.remote()))

    # Withdrawn on A, withdrawn on B.
    assert a.api("POST", f"/proposals/{offer_id}/withdraw", user="alice").status_code == 200
    wait_until(
        "the withdrawal reaches B", lambda: [p["title"] for p in b.remote()] == ["Courses avec ma mère"]
    )
    assert httpx.get(created[0].json()["ap_id"], headers=AS, timeout=10).status_code == 410
    # Before publishing, A learnt from B's NodeInfo that B reads proposals: B got no Note.
    peers = a.process.cli("federation", "peers", "--json")
    assert peers.returncode == 0, peers.stderr
    software = {peer["domain"]: peer["software"] for peer in json.loads(peers.stdout)}
    assert software[b.url.split("://")[1]] == "asasap"
