"""A cooperative group across three real nodes (FEP-1b12), as issue 13 describes it.

A holds the SCIC "coop", founded by Alice (A). Bob (B) asks to join from his node and is accepted; Carol
(C) asks and is accepted. The group's offer reaches its followers on B and C as the group's ``Announce``
of the ``Create``, verified by its origin and stored as the group's offer. Rita's demand on B is answered
by the group; Rita accepts; the group assigns Bob (on B); both confirm, the agreement completes; Rita and
the group evaluate each other, and Rita's evaluation counts for the group and for Bob, on A and on B.
A notice to the members reaches Bob and Carol; once Carol is removed, the next one reaches only Bob.
Everything travels as signed HTTP between real
``asasap serve`` processes (C on PostgreSQL when ``ASASAP_TEST_DATABASE_URL`` is set).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.market import proposal_fields
from tests.support.nodes import AS, Node, wait_until

pytestmark = pytest.mark.process


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def membership(node: Node, user: str, group: str) -> dict[str, Any] | None:
    return next((g for g in node.ok("GET", "/me/groups", user=user) if g["group"] == group), None)


def test_a_cooperative_group_across_three_nodes(three_nodes: list[Node]) -> None:
    a, b, c = three_nodes
    a.add_people("alice")
    b.add_people("bob", "rita")
    c.add_people("carol")
    for node, name in ((a, "alice"), (b, "bob"), (b, "rita"), (c, "carol")):
        ok(
            node.api(
                "PATCH", "/me", {"provider_status": "cooperative_member", "offers_services": True}, user=name
            )
        )
    # Alice follows Rita: her node receives Rita's demands and, later, her public evaluations.
    ok(a.api("POST", "/follows", {"target": f"rita@{b.domain}"}, user="alice"), 201)
    wait_until("Alice follows Rita", lambda: a.following_state("alice", b.uri("rita")) == "accepted")

    group = ok(
        a.api(
            "POST",
            "/groups",
            {"name": "coop", "display_name": "Coop Montreuil", "legal_shape": "scic"},
            user="alice",
        ),
        201,
    )
    group_id = group["id"]
    actor = httpx.get(group_id, headers=AS, timeout=10).json()
    assert actor["type"] == "Group" and actor["inbox"] == group_id + "/inbox"

    # Bob (B) and Carol (C) ask to join from their nodes; Alice accepts both.
    for node, name in ((b, "bob"), (c, "carol")):
        asked = ok(
            node.api(
                "POST", "/groups/remote/join", {"group": f"coop@{a.domain}", "message": "Bonjour"}, user=name
            ),
            201,
        )
        assert asked["state"] == "pending"
        assert node.api("POST", "/groups/remote/join", {"group": group_id}, user=name).status_code == 409
    wait_until("A has both requests", lambda: len(a.ok("GET", "/groups/coop/members", user="alice")) == 3)
    members = {m["actor"]: m for m in a.ok("GET", "/groups/coop/members", user="alice")}
    bob, carol = b.uri("bob"), c.uri("carol")
    for uri in (bob, carol):
        ok(
            a.api(
                "POST", f"/groups/coop/members/{members[uri]['id']}/decision", {"accept": True}, user="alice"
            )
        )
    wait_until(
        "Bob's node knows he is a member",
        lambda: (membership(b, "bob", group_id) or {}).get("state") == "active",
    )
    wait_until(
        "Carol's node knows she is a member",
        lambda: (membership(c, "carol", group_id) or {}).get("state") == "active",
    )
    assert (
        a.collection_total("/groups/coop/followers") == 2 and a.collection_total("/groups/coop/members") == 3
    )

    # The group's offer reaches B and C as the group's Announce, stored as the group's offer.
    offer = ok(
        a.api(
            "POST",
            "/groups/coop/offers",
            proposal_fields("offer", "Ménage en coopérative", hours=2),
            user="alice",
        ),
        201,
    )
    for node in (b, c):
        wait_until(
            f"{node.domain} stored the group's offer",
            lambda node=node: (
                node.sql("SELECT author_uri FROM proposals WHERE ap_id = :p", p=offer["ap_id"])  # type: ignore[misc]
                == [(group_id,)]
            ),
        )
    kinds = c.sql(
        "SELECT type, kind, state FROM inbox WHERE actor_uri = :g AND type = 'Announce'", g=group_id
    )
    assert ("Announce", "group-announce", "done") in kinds

    # Rita's demand on B, answered by the group; Rita accepts; the group assigns Bob.
    demand = ok(
        b.api(
            "POST",
            "/proposals",
            proposal_fields("request", "Grand ménage de printemps", hours=3),
            user="rita",
        ),
        201,
    )
    wait_until(
        "A received Rita's demand",
        lambda: a.sql("SELECT count(*) FROM proposals WHERE ap_id = :p", p=demand["ap_id"]) == [(1,)],
    )
    ok(
        a.api(
            "POST",
            "/groups/coop/bids",
            {"proposal": demand["ap_id"], "amount": "21", "message": "La coop s'en occupe"},
            user="alice",
        ),
        201,
    )
    wait_until(
        "B received the group's answer",
        lambda: len(b.ok("GET", f"/bids?proposal={demand['ap_id']}", user="rita")) == 1,
    )
    answer = b.ok("GET", f"/bids?proposal={demand['ap_id']}", user="rita")[0]
    assert answer["bidder"] == group_id
    held = ok(b.api("POST", f"/bids/{answer['id']}/accept", user="rita"), 201)
    assert held["provider"] == group_id
    wait_until(
        "A mirrors the group's agreement",
        lambda: len(a.ok("GET", "/groups/coop/agreements", user="alice")) == 1,
    )
    mirror = a.ok("GET", "/groups/coop/agreements", user="alice")[0]
    assigned = ok(
        a.api("POST", f"/groups/coop/agreements/{mirror['id']}/assign", {"member": bob}, user="alice")
    )
    assert assigned["member"] == bob
    wait_until(
        "B knows Bob carries it out",
        lambda: b.ok("GET", f"/agreements/{held['id']}", user="rita")["performer"] == bob,
    )

    # Both confirm; the holder (B) completes and tells A.
    ok(a.api("POST", f"/groups/coop/agreements/{mirror['id']}/confirm", user="alice"))
    wait_until(
        "B took the group's confirmation",
        lambda: b.ok("GET", f"/agreements/{held['id']}", user="rita")["state"] == "confirmed_by_one",
    )
    ok(b.api("POST", f"/agreements/{held['id']}/confirm", user="rita"))
    wait_until(
        "A sees it completed",
        lambda: a.ok("GET", "/groups/coop/agreements", user="alice")[0]["state"] == "completed",
    )
    assert a.ok("GET", "/groups/coop/agreements", user="alice")[0]["performer"] == bob

    # Evaluations: Rita evaluates the group, the group Rita; Rita's counts for the group and for Bob.
    ok(
        b.api(
            "POST",
            f"/agreements/{held['id']}/evaluations",
            {"overall": 5, "criteria": {"quality": 5}},
            user="rita",
        ),
        201,
    )
    ok(a.api("POST", f"/groups/coop/agreements/{mirror['id']}/evaluation", {"overall": 4}, user="alice"), 201)
    for node in (a, b):
        wait_until(
            f"{node.domain} counts Rita's evaluation for the group and for Bob",
            lambda node=node: (  # type: ignore[misc]
                node.ok("GET", f"/actors/coop@{a.domain}/reputation")["count"] == 1
                and node.ok("GET", f"/actors/bob@{b.domain}/reputation")["count"] == 1
            ),
        )
    assert a.ok("GET", f"/actors/bob@{b.domain}/reputation")["mean"] == "5.00"

    # Notices to members: both get the first; Carol, removed, does not get the second.
    ok(a.api("POST", "/groups/coop/notices", {"text": "Réunion jeudi 18 h"}, user="alice"), 201)
    for node, name in ((b, "bob"), (c, "carol")):
        wait_until(
            f"{name} has the notice",
            lambda node=node: node.sql("SELECT count(*) FROM group_notices") == [(1,)],  # type: ignore[misc]
        )
    ok(a.api("DELETE", f"/groups/coop/members/{members[carol]['id']}", user="alice"))
    wait_until(
        "Carol's node knows she was removed",
        lambda: (membership(c, "carol", group_id) or {}).get("state") == "removed",
    )
    ok(a.api("POST", "/groups/coop/notices", {"text": "Compte rendu de la réunion"}, user="alice"), 201)
    wait_until("Bob has the second notice", lambda: b.sql("SELECT count(*) FROM group_notices") == [(2,)])
    assert c.sql("SELECT count(*) FROM group_notices") == [(1,)]
    assert not c.sql("SELECT * FROM group_notices WHERE content LIKE '%Compte rendu%'")
    for node in (a, b, c):
        failed = node.sql("SELECT type, error FROM inbox WHERE state = 'failed'")
        assert failed == [], (node.domain, failed)
