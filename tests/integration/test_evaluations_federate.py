"""Three real nodes on loopback — the whole marketplace flow of the issue in one test: node B and C
follow node A; Alice (A) posts a demand open to bids, Bob (B) and Carol (C) bid, Alice accepts Bob (not
the cheapest), Carol's node records the rejection, both parties confirm completion, both evaluate.
Each evaluation stays hidden — on A, B and C — until both are in; then both are published, and Bob's
reputation reads the same on the three nodes, each node having checked the evaluations against the
agreement fetched from A, its holder.

Node C runs on PostgreSQL when ``ASASAP_TEST_DATABASE_URL`` is set (as in CI), A and B on SQLite.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from node.core.timeutil import utcnow
from tests.support.accounts import PASSWORD
from tests.support.databases import DatabaseFactory
from tests.support.nodes import NodeProcess

pytestmark = pytest.mark.process

AS = {"Accept": "application/activity+json"}


def wait_until(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
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

    @property
    def domain(self) -> str:
        return self.url.split("://", 1)[1]

    def add_person(self, username: str) -> None:
        created = self.process.cli("user", "create", username, "--password-stdin", stdin=PASSWORD)
        assert created.returncode == 0, created.stderr
        self.tokens[username] = self.process.cli("user", "token", username).stdout.strip()

    def api(
        self, method: str, path: str, body: dict[str, Any] | None = None, user: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.request(method, self.url + "/api/v1" + path, json=body, headers=headers, timeout=30)

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None, user: str | None = None) -> Any:
        response = self.api(method, path, body, user)
        assert response.status_code in (200, 201), f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def follow_node(self, other: Node) -> None:
        followed = self.process.cli("federation", "follow", other.url, "--json")
        assert followed.returncode == 0, followed.stderr

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = create_engine(self.process.database_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as connection:
                return list(connection.execute(text(query), params))
        finally:
            engine.dispose()

    def evaluation_states(self) -> list[str]:
        return sorted(row[0] for row in self.sql("SELECT state FROM evaluations"))

    def states_are(self, *states: str) -> Callable[[], bool]:
        return lambda: self.evaluation_states() == sorted(states)

    def reputation(self, handle: str) -> dict[str, Any]:
        found: dict[str, Any] = self.ok("GET", f"/actors/{handle}/reputation")
        return found

    def agreement_id(self, user: str) -> int:
        """The caller's only agreement, as their node numbers it."""
        items = self.ok("GET", "/agreements", user=user)
        assert len(items) == 1, items
        return int(items[0]["id"])

    def agreement_state(self, user: str) -> str:
        items = self.ok("GET", "/agreements", user=user)
        return str(items[0]["state"]) if len(items) == 1 else ""


@pytest.fixture
def nodes(
    tmp_path: Path, database_factories: dict[str, DatabaseFactory]
) -> Iterator[tuple[Node, Node, Node]]:
    sqlite = database_factories["sqlite"]
    third = database_factories.get("postgresql", sqlite)
    urls = [sqlite.create(), sqlite.create(), third.create()]
    processes = [NodeProcess(tmp_path / name, url) for name, url in zip("abc", urls, strict=True)]
    try:
        for process in processes:
            assert process.cli("init").returncode == 0
            process.start()
        yield Node(processes[0]), Node(processes[1]), Node(processes[2])
    finally:
        for process in processes:
            process.stop()
        for factory, url in zip((sqlite, sqlite, third), urls, strict=True):
            factory.drop(url)


def complete_an_agreement(a: Node, b: Node, c: Node) -> None:
    """Alice (A) posts a demand open to bids, Bob (B) and Carol (C) bid, Alice accepts Bob (not the
    cheapest), Carol receives the rejection, both parties confirm completion."""
    deadline = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT18:00")
    demand = a.ok(
        "POST",
        "/proposals",
        {
            "purpose": "request",
            "title": "Ménage de printemps",
            "category": "housework",
            "postal_code": "93100",
            "commune_name": "Montreuil",
            "quantity_hours": "3",
            "price": "60",
            "price_basis": "total",
            "bidding_deadline": deadline,
        },
        user="alice",
    )
    for node in (b, c):
        wait_until(
            f"the demand reaches {node.domain}",
            lambda node=node: any(  # type: ignore[misc]
                p["ap_id"] == demand["ap_id"] for p in node.ok("GET", "/proposals?origin=remote")["items"]
            ),
        )
    b.ok(
        "POST",
        "/bids",
        {"proposal": demand["ap_id"], "amount": "55", "message": "Disponible samedi."},
        user="bob",
    )
    c.ok(
        "POST",
        "/bids",
        {"proposal": demand["ap_id"], "amount": "50", "message": "Je peux venir dimanche."},
        user="carol",
    )

    def received() -> list[dict[str, Any]]:
        bids: list[dict[str, Any]] = a.ok("GET", f"/bids?proposal={demand['ap_id']}", user="alice")
        return bids

    wait_until("A receives both bids", lambda: len(received()) == 2)
    bobs = next(bid for bid in received() if bid["bidder"] == f"{b.url}/users/bob")
    agreement = a.ok("POST", f"/bids/{bobs['id']}/accept", user="alice")
    assert agreement["role"] == "requester" and agreement["provider"] == f"{b.url}/users/bob"
    wait_until("B mirrors the agreement", lambda: b.agreement_state("bob") == "accepted")
    wait_until(
        "Carol's node records the rejection",
        lambda: [bid["state"] for bid in c.ok("GET", "/bids", user="carol")] == ["rejected"],
    )
    a.ok("POST", f"/agreements/{a.agreement_id('alice')}/confirm", user="alice")
    wait_until("B sees Alice's confirmation", lambda: b.agreement_state("bob") == "confirmed_by_one")
    b.ok("POST", f"/agreements/{b.agreement_id('bob')}/confirm", user="bob")
    wait_until("A completes the agreement", lambda: a.agreement_state("alice") == "completed")
    wait_until("B's mirror is completed", lambda: b.agreement_state("bob") == "completed")


def test_evaluations_are_double_blind_across_three_nodes(nodes: tuple[Node, Node, Node]) -> None:
    a, b, c = nodes
    a.add_person("alice")
    b.add_person("bob")
    c.add_person("carol")
    for node, name in ((b, "bob"), (c, "carol")):
        node.ok("PATCH", "/me", {"offers_services": True, "provider_status": "private_individual"}, user=name)
    b.follow_node(a)
    c.follow_node(a)
    c.follow_node(b)
    wait_until(
        "A and B accept the nodes following them",
        lambda: (
            httpx.get(a.url + "/actor/followers", headers=AS).json()["totalItems"] == 2
            and httpx.get(b.url + "/actor/followers", headers=AS).json()["totalItems"] == 1
        ),
    )
    complete_an_agreement(a, b, c)
    bob = f"bob@{b.domain}"
    alice = f"alice@{a.domain}"

    # Alice evaluates Bob: sent to B at once, but hidden everywhere.
    on_a = f"/agreements/{a.agreement_id('alice')}/evaluations"
    first = a.ok(
        "POST",
        on_a,
        {"overall": 4, "criteria": {"punctuality": 5, "quality": 4}, "comment": "Travail soigné, merci !"},
        user="alice",
    )
    assert first["state"] == "submitted"
    wait_until("B holds Alice's evaluation, hidden", lambda: b.evaluation_states() == ["submitted"])
    on_b = f"/agreements/{b.agreement_id('bob')}/evaluations"
    assert b.ok("GET", on_b, user="bob") == []
    for node in (a, b, c):
        assert node.reputation(bob)["count"] == 0
    assert c.evaluation_states() == []
    assert httpx.get(f"{b.url}/users/bob/evaluations", headers=AS).json()["totalItems"] == 0

    # Bob evaluates Alice: both are published, on the three nodes.
    b.ok("POST", on_b, {"overall": 5, "criteria": {"welcome": 5, "payment": 5}}, user="bob")
    for node in (a, b, c):
        wait_until(
            f"{node.domain} holds both evaluations, published", node.states_are("published", "published")
        )
    expected = {
        "actor": f"{b.url}/users/bob",
        "mean": "4.00",
        "count": 1,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0},
        "criteria": {"punctuality": "5.00", "quality": "4.00"},
        "by_node": [{"domain": a.domain, "count": 1}],
        "nodes": 1,
    }
    assert [node.reputation(bob) for node in (a, b, c)] == [expected] * 3
    assert {node.reputation(alice)["mean"] for node in (a, b, c)} == {"5.00"}
    seen_by_bob = b.ok("GET", on_b, user="bob")
    assert {e["comment"] for e in seen_by_bob} == {"Travail soigné, merci !", ""}
    assert httpx.get(f"{b.url}/users/bob/evaluations", headers=AS).json()["totalItems"] == 1
    # A second evaluation is refused, and changes nothing anywhere.
    again = b.api("POST", on_b, {"overall": 1}, user="bob")
    assert again.status_code == 409
    assert [node.reputation(alice)["count"] for node in (a, b, c)] == [1, 1, 1]
