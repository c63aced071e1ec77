"""Conversations and a report across three real nodes on loopback: Alice (A) posts a demand, which B and
C receive because they follow A; Bob (B) asks about it in a direct message and Alice answers, before Bob
bids; Carol (C) reports the demand and asks that the report be forwarded; the report reaches A as a
``Flag`` of C's node actor (Carol is never named); A's coordinator hides the demand, which B then sees
withdrawn; C's coordinator warns Alice, whose account is on A: the note reaches her conversations at A as
a direct message of C's node actor, and C's log shows where it went. Everything travels as signed HTTP
between real ``asasap serve`` processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.market import proposal_fields
from tests.support.nodes import Node, wait_until

pytestmark = pytest.mark.process


def thread_texts(node: Node, user: str) -> list[str]:
    found: list[str] = []
    for summary in node.ok("GET", "/conversations", user=user):
        thread = node.ok("GET", f"/conversations/{summary['id']}", user=user)
        found.extend(message["text"] for message in thread["messages"])
    return found


def proposal_state(node: Node, ap_id: str) -> str | None:
    rows = node.sql("SELECT state FROM proposals WHERE ap_id = :p", p=ap_id)
    return rows[0][0] if rows else None


def test_talk_bid_report_and_hide_across_three_nodes(three_nodes: list[Node]) -> None:
    a, b, c = three_nodes
    a.add_people("alice", "dora")
    assert a.process.cli("user", "set-role", "dora", "coordinator").returncode == 0
    b.add_people("bob")
    c.add_people("carol")
    alice, bob = a.uri("alice"), b.uri("bob")
    b.ok("PATCH", "/me", {"provider_status": "volunteer", "offers_services": True}, user="bob")
    for node in (b, c):
        node.follow_node(a)
    wait_until("A's node has both nodes as followers", lambda: a.collection_total("/actor/followers") == 2)
    demand: dict[str, Any] = a.ok(
        "POST",
        "/proposals",
        proposal_fields(
            "request",
            "Taille de haie",
            bidding_deadline=(datetime.now(UTC) + timedelta(days=2)).isoformat(),
        ),
        user="alice",
    )
    proposal = demand["ap_id"]
    for node in (b, c):
        wait_until(
            f"{node.domain} received the demand",
            lambda node=node: proposal_state(node, proposal) == "open",  # type: ignore[misc]
        )

    # Bob asks about the demand before bidding; Alice answers; nothing of it reaches C.
    started = b.api(
        "POST",
        "/conversations",
        {"to": [alice], "text": "La haie fait combien ?", "about": proposal},
        user="bob",
    )
    assert started.status_code == 201, started.text
    wait_until("Alice has Bob's message", lambda: len(a.ok("GET", "/conversations", user="alice")) == 1)
    (at_a,) = a.ok("GET", "/conversations", user="alice")
    assert (at_a["about"], at_a["others"], at_a["unread"]) == (proposal, [bob], 1)
    assert thread_texts(a, "alice") == ["La haie fait combien ?"]
    a.ok("POST", f"/conversations/{at_a['id']}/messages", {"text": "Vingt mètres."}, user="alice")
    wait_until(
        "Bob has Alice's answer",
        lambda: thread_texts(b, "bob") == ["La haie fait combien ?", "Vingt mètres."],
    )
    assert c.sql("SELECT count(*) FROM messages") == [(0,)]

    # Then Bob bids.
    assert b.api("POST", "/bids", {"proposal": proposal, "amount": "19"}, user="bob").status_code == 201
    wait_until(
        "A received Bob's bid", lambda: len(a.ok("GET", f"/bids?proposal={proposal}", user="alice")) == 1
    )

    # Carol reports the demand, forwarded: a Flag of C's node actor reaches A's queue.
    report = {"targets": [proposal], "reason": "spam", "comment": "Arnaque", "forward": True}
    assert c.api("POST", "/reports", report, user="carol").status_code == 201
    wait_until("A's queue has C's report", lambda: len(a.ok("GET", "/moderation/reports", user="dora")) == 1)
    (queued,) = a.ok("GET", "/moderation/reports", user="dora")
    assert (queued["origin"], queued["comment"]) == (c.domain, "Arnaque")
    assert queued["targets"] == [alice, proposal]
    assert a.sql("SELECT actor_uri, state FROM inbox WHERE type = 'Flag'") == [(c.url + "/actor", "done")]
    assert a.sql("SELECT reporter_uri FROM reports") == [(c.url + "/actor",)]
    assert "carol" not in repr(a.sql("SELECT * FROM inbox WHERE type = 'Flag'"))
    assert b.sql("SELECT count(*) FROM reports") == [(0,)]

    # A's coordinator hides the demand: withdrawn at A, and at B which follows A.
    decision = {"action": "hide", "target": proposal, "note": "Arnaque avérée"}
    a.ok("POST", f"/moderation/reports/{queued['id']}/decisions", decision, user="dora")
    assert proposal_state(a, proposal) == "withdrawn"
    assert a.ok("GET", "/moderation/reports", user="dora") == []
    assert a.sql("SELECT action, target_uri FROM moderation_decisions") == [("hide", proposal)]
    wait_until("B sees the demand withdrawn", lambda: proposal_state(b, proposal) != "open")

    # C's coordinator warns Alice about it: a direct message of C's node actor, in her conversations at A.
    c.add_people("erin")
    assert c.process.cli("user", "set-role", "erin", "coordinator").returncode == 0
    (at_c,) = c.ok("GET", "/moderation/reports", user="erin")
    warning = {"action": "warn", "target": proposal, "note": "Merci de ne plus publier d'arnaques"}
    warned = c.ok("POST", f"/moderation/reports/{at_c['id']}/decisions", warning, user="erin")
    assert (warned["action"], warned["sent_to"]) == ("warn", alice)
    logged = c.sql("SELECT action, target_uri, sent_to FROM moderation_decisions")
    assert logged == [("warn", proposal, alice)]
    wait_until(
        "Alice has the warning",
        lambda: any("Merci de ne plus publier d'arnaques" in text for text in thread_texts(a, "alice")),
    )
    warned_in = [
        summary
        for summary in a.ok("GET", "/conversations", user="alice")
        if summary["others"] == [c.url + "/actor"]
    ]
    assert len(warned_in) == 1 and warned_in[0]["about"] == proposal
    assert b.sql("SELECT count(*) FROM messages") == [(2,)]  # Bob's talk with Alice only
    assert "erin" not in repr(a.sql("SELECT payload FROM inbox WHERE actor_uri = :c", c=c.url + "/actor"))
