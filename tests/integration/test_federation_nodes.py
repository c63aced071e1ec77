"""Three real nodes on loopback federating: people following each other across nodes (with and without
approval), a node following another node, profile updates, key rotation, account deletion and a domain
block — every activity delivered over signed HTTP between real ``asasap serve`` processes.

Node C runs on PostgreSQL when ``ASASAP_TEST_DATABASE_URL`` is set (as in CI), A and B on SQLite.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.accounts import PASSWORD
from tests.support.nodes import AS, Node, wait_until

pytestmark = pytest.mark.process


def test_three_nodes_federate(three_nodes: list[Node]) -> None:
    a, b, c = three_nodes
    a.add_person("alice")
    b.add_person("bob")
    c.add_person("carol")
    alice = f"{a.url}/users/alice"
    bob = f"{b.url}/users/bob"

    # Bob (B) follows Alice (A) by handle: WebFinger, Follow, automatic Accept.
    response = b.api("POST", "/follows", {"target": f"alice@{a.domain}"}, user="bob")
    assert response.status_code == 201, response.text
    wait_until("B sees the follow accepted", lambda: b.following_state("bob", alice) == "accepted")
    wait_until("A lists bob as a follower", lambda: a.collection_total("/users/alice/followers") == 1)
    assert httpx.get(alice + "/followers?page=1", headers=AS).json()["orderedItems"] == [bob]

    # Carol (C) follows Bob, who approves followers himself.
    assert b.api("PUT", "/follows/approval", {"approve_followers": True}, user="bob").status_code == 200
    assert httpx.get(bob, headers=AS).json()["manuallyApprovesFollowers"] is True
    assert c.api("POST", "/follows", {"target": f"bob@{b.domain}"}, user="carol").status_code == 201
    carol = f"{c.url}/users/carol"
    wait_until(
        "B holds Carol's request",
        lambda: [r["uri"] for r in b.api("GET", "/follows", user="bob").json()["requests"]] == [carol],
    )
    assert c.following_state("carol", bob) == "pending"
    assert b.api("POST", "/follows/requests/accept", {"uri": carol}, user="bob").status_code == 204
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
    following = c.cli_json("federation", "following")
    assert [(f["followee"], f["state"]) for f in following] == [(f"{a.url}/actor", "accepted")]
    assert following[0]["since"].endswith("Z")
    with_people = c.cli_json("federation", "following", "--people")
    assert (carol, bob, "accepted") in {(f["follower"], f["followee"], f["state"]) for f in with_people}

    # Alice changes her profile: Update(Person) reaches her follower's node B and the following node C.
    assert a.api("PATCH", "/me", {"display_name": "Alice Martin"}, user="alice").status_code == 200
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
    assert a.api("PATCH", "/me", {"display_name": "Alice M."}, user="alice").status_code == 200
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
