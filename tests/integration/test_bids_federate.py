"""A reverse auction across three real nodes: Alice (A) posts a demand open to bids, which nodes B and C
receive because they follow A; Bob (B) and Carol (C) answer through the API; Alice accepts Bob's answer
and Carol's node receives the rejection; Alice shares her address, which reaches Bob's node by a
signed fetch and nowhere else; both confirm completion, and A and B show the same completed agreement
and the same receipt. Everything travels as signed HTTP between real ``asasap serve`` processes.

Node C runs on PostgreSQL when ``ASASAP_TEST_DATABASE_URL`` is set (as in CI), A and B on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.accounts import PASSWORD
from tests.support.market import proposal_fields
from tests.support.nodes import AS, Node, wait_until

pytestmark = pytest.mark.process

ADDRESS = "12 rue de Paris, 93100 Montreuil, digicode 4521B7"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def one_agreement(node: Node, username: str) -> dict[str, Any] | None:
    found = ok(node.api("GET", "/agreements", user=username))
    assert len(found) <= 1
    return found[0] if found else None


def test_a_demand_answered_accepted_and_completed_across_three_nodes(three_nodes: list[Node]) -> None:
    a, b, c = three_nodes
    a.add_person("alice")
    b.add_person("bob")
    c.add_person("carol")
    alice, bob = f"{a.url}/users/alice", f"{b.url}/users/bob"
    for node, name in ((b, "bob"), (c, "carol")):
        ok(node.api("PATCH", "/me", {"provider_status": "volunteer", "offers_services": True}, user=name))
        node.cli_json("federation", "follow", a.url)
    wait_until("A's node has both nodes as followers", lambda: a.collection_total("/actor/followers") == 2)

    demand = ok(
        a.api(
            "POST",
            "/proposals",
            proposal_fields(
                "request",
                "Grand ménage avant un déménagement",
                hours=3,
                description="<p>Trois pièces, matériel fourni.</p>",
                bidding_deadline=(datetime.now(UTC) + timedelta(days=2)).isoformat(),
            ),
            user="alice",
        ),
        201,
    )
    proposal = demand["ap_id"]
    for node in (b, c):
        wait_until(
            f"{node.domain} received the demand",
            lambda node=node: (
                node.sql("SELECT count(*) FROM proposals WHERE ap_id = :p", p=proposal)  # type: ignore[misc]
                == [(1,)]
            ),
        )

    # Bob and Carol answer from their own nodes; each bid is sealed, sent to Alice only.
    bob_bid = ok(
        b.api(
            "POST", "/bids", {"proposal": proposal, "amount": "18.50", "message": "Disponible"}, user="bob"
        ),
        201,
    )
    ok(c.api("POST", "/bids", {"proposal": proposal, "amount": "16"}, user="carol"), 201)
    assert b.api("POST", "/bids", {"proposal": proposal, "amount": "17"}, user="bob").status_code == 409
    wait_until(
        "A received both answers",
        lambda: len(ok(a.api("GET", f"/bids?proposal={proposal}", user="alice"))) == 2,
    )
    received = {bid["bidder"]: bid for bid in ok(a.api("GET", f"/bids?proposal={proposal}", user="alice"))}
    assert received[bob]["price"] == {"amount": "18.50", "currency": "EUR", "basis": "per_hour"}
    assert received[bob]["offer"] == bob_bid["offer"] and received[bob]["message"] == "Disponible"
    assert c.sql("SELECT count(*) FROM bids WHERE bidder_uri = :u", u=bob) == [(0,)]  # sealed

    # Alice chooses Bob (not the cheapest): Accept to B, Reject to C, the demand closes everywhere.
    held = ok(a.api("POST", f"/bids/{received[bob]['id']}/accept", user="alice"), 201)
    wait_until("B keeps the agreement", lambda: one_agreement(b, "bob") is not None)
    wait_until(
        "C received the rejection", lambda: ok(c.api("GET", "/bids", user="carol"))[0]["state"] == "rejected"
    )
    assert ok(c.api("GET", "/bids", user="carol"))[0]["reject_reason"] == "Another answer was chosen."
    assert ok(b.api("GET", "/bids", user="bob"))[0]["state"] == "accepted"
    mirror = one_agreement(b, "bob")
    assert mirror is not None
    assert (mirror["ap_id"], mirror["held_here"], mirror["role"]) == (held["ap_id"], False, "provider")
    assert mirror["price"] == held["price"] and mirror["start"] == held["start"]
    for node in (b, c):
        wait_until(
            f"{node.domain} sees the demand closed",
            lambda node=node: (
                node.sql("SELECT state FROM proposals WHERE ap_id = :p", p=proposal)  # type: ignore[misc]
                == [("closed",)]
            ),
        )

    # Contact details: fetched by B from A with a signed request, readable by the two parties only.
    ok(
        a.api(
            "POST",
            f"/agreements/{held['id']}/contact",
            {"address": ADDRESS, "phone": "06 12 34 56 78"},
            user="alice",
        )
    )
    wait_until(
        "Bob can read Alice's address",
        lambda: "requester" in (one_agreement(b, "bob") or {}).get("contacts", {}),
    )
    assert one_agreement(b, "bob")["contacts"]["requester"] == {"address": ADDRESS, "phone": "06 12 34 56 78"}  # type: ignore[index]
    for node in (a, b, c):
        for table in ("outbox", "inbox", "agreement_contacts", "notifications"):
            rows = node.sql(f"SELECT * FROM {table}")
            assert "digicode" not in repr(rows), (node.domain, table)
    assert httpx.get(held["ap_id"], headers=AS, timeout=10).status_code == 401  # unsigned

    # Both confirm: the holder completes, B follows, and both show the receipt.
    ok(b.api("POST", f"/agreements/{mirror['id']}/confirm", user="bob"))
    wait_until(
        "A took Bob's confirmation",
        lambda: ok(a.api("GET", f"/agreements/{held['id']}", user="alice"))["state"] == "confirmed_by_one",
    )
    wait_until("B follows A", lambda: one_agreement(b, "bob")["state"] == "confirmed_by_one")  # type: ignore[index]
    ok(a.api("POST", f"/agreements/{held['id']}/confirm", user="alice"))
    wait_until("B sees it completed", lambda: one_agreement(b, "bob")["state"] == "completed")  # type: ignore[index]
    wait_until("B has the receipt", lambda: one_agreement(b, "bob")["receipt"] is not None)  # type: ignore[index]
    final_a = ok(a.api("GET", f"/agreements/{held['id']}", user="alice"))
    final_b = one_agreement(b, "bob")
    assert final_b is not None
    for key in (
        "state",
        "receipt",
        "confirmed_by_provider",
        "confirmed_by_requester",
        "provider",
        "requester",
    ):
        assert final_a[key] == final_b[key], key
    assert final_a["state"] == "completed" and final_a["receipt"] == held["ap_id"] + "/receipt"
    assert c.sql("SELECT count(*) FROM agreements") == [(0,)]
    assert alice == final_a["requester"] and bob == final_a["provider"]
    for node in (a, b):
        failed = node.sql("SELECT type, error FROM inbox WHERE state = 'failed'")
        assert failed == [], (node.domain, failed)

    # The three nodes' logs (JSON lines, each with its request id) hold none of what people entrusted to
    # them: the address, door code and phone number, the password, the API tokens.
    secrets = [
        ADDRESS,
        "rue de Paris",
        "4521B7",  # a code no timestamp, port or request id can contain by chance
        "06 12 34 56 78",
        PASSWORD,
        *a.tokens.values(),
        *b.tokens.values(),
    ]
    secrets += list(c.tokens.values())
    routes = {record.get("route") for record in a.log_records()}
    assert "/api/v1/agreements/{agreement_id}/contact" in routes  # requests are logged, by route template
    for node in (a, b, c):
        assert all(len(record["request_id"]) >= 8 for record in node.log_records() if "route" in record)
        found = [secret for secret in secrets if secret in node.process.log_text()]
        assert found == [], (node.domain, found)
