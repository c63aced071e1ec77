"""Three real nodes on loopback federating: people following each other across nodes (with and without
approval), a node following another node, profile updates, key rotation, account deletion and a domain
block — every activity delivered over signed HTTP between real ``asasap serve`` processes.

Node C runs on PostgreSQL when ``ASASAP_TEST_DATABASE_URL`` is set (as in CI), A and B on SQLite.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

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
    """A running node with its people's API tokens."""

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
        self, username: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return httpx.request(
            method,
            self.url + "/api/v1" + path,
            json=body,
            timeout=30,
            headers={"Authorization": f"Bearer {self.tokens[username]}"},
        )

    def cli_json(self, *args: str) -> Any:
        result = self.process.cli(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = create_engine(self.process.database_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as connection:
                return list(connection.execute(text(query), params))
        finally:
            engine.dispose()

    def collection_total(self, path: str) -> int:
        total: int = httpx.get(self.url + path, headers=AS, timeout=10).json()["totalItems"]
        return total

    def following_state(self, username: str, target: str) -> str | None:
        lines = self.api(username, "GET", "/follows").json()["following"]
        return next((line["state"] for line in lines if line["uri"] == target), None)


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


def test_three_nodes_federate(nodes: tuple[Node, Node, Node]) -> None:
    a, b, c = nodes
    a.add_person("alice")
    b.add_person("bob")
    c.add_person("carol")
    alice = f"{a.url}/users/alice"
    bob = f"{b.url}/users/bob"

    # Bob (B) follows Alice (A) by handle: WebFinger, Follow, automatic Accept.
    response = b.api("bob", "POST", "/follows", {"target": f"alice@{a.domain}"})
    assert response.status_code == 201, response.text
    wait_until("B sees the follow accepted", lambda: b.following_state("bob", alice) == "accepted")
    wait_until("A lists bob as a follower", lambda: a.collection_total("/users/alice/followers") == 1)
    assert httpx.get(alice + "/followers?page=1", headers=AS).json()["orderedItems"] == [bob]

    # Carol (C) follows Bob, who approves followers himself.
    assert b.api("bob", "PUT", "/follows/approval", {"approve_followers": True}).status_code == 200
    assert httpx.get(bob, headers=AS).json()["manuallyApprovesFollowers"] is True
    assert c.api("carol", "POST", "/follows", {"target": f"bob@{b.domain}"}).status_code == 201
    carol = f"{c.url}/users/carol"
    wait_until(
        "B holds Carol's request",
        lambda: [r["uri"] for r in b.api("bob", "GET", "/follows").json()["requests"]] == [carol],
    )
    assert c.following_state("carol", bob) == "pending"
    assert b.api("bob", "POST", "/follows/requests/accept", {"uri": carol}).status_code == 204
    wait_until("C sees the follow accepted", lambda: c.following_state("carol", bob) == "accepted")

    # Node C follows node A: A's node actor accepts, and C then receives A's public activity.
    followed = c.cli_json("federation", "follow", a.url)
    assert followed["followee"] == f"{a.url}/actor"
    wait_until("A's node lists C's node as a follower", lambda: a.collection_total("/actor/followers") == 1)
    wait_until(
        "C's node sees its follow accepted",
        lambda: (
            c.sql("SELECT state FROM follows WHERE followee_uri = :u", u=f"{a.url}/actor") == [("accepted",)]
        ),
    )
    assert a.domain in {peer["domain"] for peer in c.cli_json("federation", "peers")}

    # Alice changes her profile: Update(Person) reaches her follower's node B and the following node C.
    assert a.api("alice", "PATCH", "/me", {"display_name": "Alice Martin"}).status_code == 200
    wait_until(
        "B has the new name",
        lambda: b.sql("SELECT name FROM remote_actors WHERE uri = :u", u=alice) == [("Alice Martin",)],
    )
    wait_until(
        "C, which follows node A, received the Update",
        lambda: (
            c.sql("SELECT count(*) FROM inbox WHERE actor_uri = :u AND type = 'Update'", u=alice) == [(1,)]
        ),
    )
    deliveries = a.cli_json("federation", "deliveries")["deliveries"]
    assert deliveries and {d["state"] for d in deliveries} == {"delivered"}

    # Key rotation: the next Update is signed with the new key, which B fetches once and accepts.
    rotated = a.cli_json("federation", "keys", "rotate", "--user", "alice")
    assert rotated["key_id"] == alice + "#main-key"
    new_pem = httpx.get(alice, headers=AS).json()["publicKey"]["publicKeyPem"]
    assert a.api("alice", "PATCH", "/me", {"display_name": "Alice M."}).status_code == 200
    wait_until(
        "B accepted Alice's update signed with the new key",
        lambda: (
            b.sql("SELECT name, public_key_pem FROM remote_actors WHERE uri = :u", u=alice)
            == [("Alice M.", new_pem)]
        ),
    )

    # Alice deletes her account: B forgets her and Bob's follow of her.
    with httpx.Client(base_url=a.url, follow_redirects=False, timeout=30) as browser:
        login_page = browser.get("/login").text
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', login_page)
        assert token
        assert (
            browser.post(
                "/login", data={"csrf_token": token.group(1), "username": "alice", "password": PASSWORD}
            ).status_code
            == 303
        )
        deleted = browser.post(
            "/settings/delete",
            data={"csrf_token": token.group(1), "confirm_username": "alice", "password": PASSWORD},
        )
        assert deleted.status_code == 200
    wait_until(
        "B forgot Alice",
        lambda: b.sql("SELECT count(*) FROM remote_actors WHERE uri = :u", u=alice) == [(0,)],
    )
    assert b.following_state("bob", alice) is None
    assert httpx.get(alice, headers=AS).status_code == 404

    # A blocks C: C's Undo of its node follow is refused with 403 and fails for good on C.
    blocked = a.cli_json("federation", "block", c.domain, "--reason", "test")
    assert blocked["domain"] == c.domain
    c.cli_json("federation", "unfollow", f"{a.url}/actor")
    wait_until(
        "C's Undo was refused",
        lambda: any(
            d["last_status"] == 403 for d in c.cli_json("federation", "deliveries", "--failed")["deliveries"]
        ),
    )
    assert a.sql("SELECT count(*) FROM inbox WHERE actor_uri LIKE :p", p=f"{c.url}/%")[0][0] >= 0
