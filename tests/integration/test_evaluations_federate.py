"""Three real nodes on loopback — the whole marketplace flow of the issue in one test: node B and C
follow node A; Alice (A) posts a demand open to bids, Bob (B) and Carol (C) bid, Alice accepts Bob (not
the cheapest), Carol's node records the rejection, both parties confirm completion, both evaluate.
Each evaluation stays hidden — on A, B and C — until both are in; then both are published, and Bob's
reputation reads the same on the three nodes, each node having checked the evaluations against the
agreement fetched from A, its holder.

Node C runs on PostgreSQL when ``ASASAP_TEST_DATABASE_URL`` is set (as in CI), A and B on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from node.core.timeutil import utcnow
from tests.support.nodes import AS, Node, wait_until

pytestmark = pytest.mark.process


def evaluation_states(node: Node) -> list[str]:
    return sorted(row[0] for row in node.sql("SELECT state FROM evaluations"))


def states_are(node: Node, *states: str) -> Callable[[], bool]:
    return lambda: evaluation_states(node) == sorted(states)


def reputation(node: Node, handle: str) -> dict[str, Any]:
    found: dict[str, Any] = node.ok("GET", f"/actors/{handle}/reputation")
    return found


def agreement_id(node: Node, user: str) -> int:
    """The caller's only agreement, as their node numbers it."""
    items = node.ok("GET", "/agreements", user=user)
    assert len(items) == 1, items
    return int(items[0]["id"])


def agreement_state(node: Node, user: str) -> str:
    items = node.ok("GET", "/agreements", user=user)
    return str(items[0]["state"]) if len(items) == 1 else ""


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
    wait_until("B mirrors the agreement", lambda: agreement_state(b, "bob") == "accepted")
    wait_until(
        "Carol's node records the rejection",
        lambda: [bid["state"] for bid in c.ok("GET", "/bids", user="carol")] == ["rejected"],
    )
    a.ok("POST", f"/agreements/{agreement_id(a, 'alice')}/confirm", user="alice")
    wait_until("B sees Alice's confirmation", lambda: agreement_state(b, "bob") == "confirmed_by_one")
    b.ok("POST", f"/agreements/{agreement_id(b, 'bob')}/confirm", user="bob")
    wait_until("A completes the agreement", lambda: agreement_state(a, "alice") == "completed")
    wait_until("B's mirror is completed", lambda: agreement_state(b, "bob") == "completed")


def test_evaluations_are_double_blind_across_three_nodes(three_nodes: list[Node]) -> None:
    a, b, c = three_nodes
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
    on_a = f"/agreements/{agreement_id(a, 'alice')}/evaluations"
    first = a.ok(
        "POST",
        on_a,
        {"overall": 4, "criteria": {"punctuality": 5, "quality": 4}, "comment": "Travail soigné, merci !"},
        user="alice",
    )
    assert first["state"] == "submitted"
    wait_until("B holds Alice's evaluation, hidden", lambda: evaluation_states(b) == ["submitted"])
    on_b = f"/agreements/{agreement_id(b, 'bob')}/evaluations"
    assert b.ok("GET", on_b, user="bob") == []
    for node in (a, b, c):
        assert reputation(node, bob)["count"] == 0
    assert evaluation_states(c) == []
    assert httpx.get(f"{b.url}/users/bob/evaluations", headers=AS).json()["totalItems"] == 0

    # Bob evaluates Alice: both are published, on the three nodes.
    b.ok("POST", on_b, {"overall": 5, "criteria": {"welcome": 5, "payment": 5}}, user="bob")
    for node in (a, b, c):
        wait_until(
            f"{node.domain} holds both evaluations, published", states_are(node, "published", "published")
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
    assert [reputation(node, bob) for node in (a, b, c)] == [expected] * 3
    assert {reputation(node, alice)["mean"] for node in (a, b, c)} == {"5.00"}
    seen_by_bob = b.ok("GET", on_b, user="bob")
    assert {e["comment"] for e in seen_by_bob} == {"Travail soigné, merci !", ""}
    assert httpx.get(f"{b.url}/users/bob/evaluations", headers=AS).json()["totalItems"] == 1
    # A second evaluation is refused, and changes nothing anywhere.
    again = b.api("POST", on_b, {"overall": 1}, user="bob")
    assert again.status_code == 409
    assert [reputation(node, alice)["count"] for node in (a, b, c)] == [1, 1, 1]
