"""Time tokens across three real cooperative nodes (A and B on SQLite, C on PostgreSQL when configured):
agreements priced in tokens completed between A–B, B–C and A–C (side by side) are paid through the
clearing accounts; each agreement shows its payment as paid on both nodes, the clearing balances mirror
each other on every pair, ``asasap timebank reconcile`` reports no difference and ``asasap timebank
verify`` finds every ledger adding up. People are made in the test's process and each node follows only
the node whose demand it answers: the processes started are the nodes and the commands under test."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from tests.support.databases import DatabaseFactory
from tests.support.market import proposal_fields
from tests.support.nodes import Node, running_nodes, wait_until

pytestmark = pytest.mark.process

COOPERATIVE = {"ASASAP_MODE": "cooperative", "ASASAP_TIMEBANK_RETRY_SECONDS": "1"}


@pytest.fixture(scope="module")
def cooperatives(
    tmp_path_factory: pytest.TempPathFactory, database_factories: dict[str, DatabaseFactory]
) -> Iterator[list[Node]]:
    with running_nodes(
        tmp_path_factory.mktemp("coops"), database_factories, ["sqlite", "sqlite", "postgresql"], COOPERATIVE
    ) as nodes:
        yield nodes


def balance(node: Node, user: str) -> Decimal:
    return Decimal(node.ok("GET", "/timebank/me", user=user)["balance"])


def clearing(node: Node, other: Node) -> Decimal:
    rows = node.sql("SELECT balance FROM timebank_accounts WHERE peer = :p", p=other.domain)
    return Decimal(rows[0][0]) / 100 if rows else Decimal(0)


def agree_and_complete(
    requester: tuple[Node, str], provider: tuple[Node, str], hours: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An agreement in tokens made and completed across two nodes: the holder's copy, the mirror."""
    (rnode, rname), (pnode, pname) = requester, provider
    demand = rnode.ok(
        "POST",
        "/proposals",
        proposal_fields(
            "request", f"Aide de {pname} pour {rname}", price=hours, currency="HOUR", price_basis="total"
        ),
        user=rname,
    )
    wait_until(
        f"{pnode.domain} has the demand",
        lambda: pnode.sql("SELECT count(*) FROM proposals WHERE ap_id = :p", p=demand["ap_id"]) == [(1,)],
    )
    pnode.ok("POST", "/bids", {"proposal": demand["ap_id"], "amount": hours}, user=pname)
    wait_until(
        "the bid arrives", lambda: len(rnode.ok("GET", f"/bids?proposal={demand['ap_id']}", user=rname)) == 1
    )
    bid = rnode.ok("GET", f"/bids?proposal={demand['ap_id']}", user=rname)[0]
    held: dict[str, Any] = rnode.ok("POST", f"/bids/{bid['id']}/accept", user=rname)
    wait_until(
        "the provider's node mirrors the agreement",
        lambda: any(a["ap_id"] == held["ap_id"] for a in pnode.ok("GET", "/agreements", user=pname)),
    )
    mirror = next(a for a in pnode.ok("GET", "/agreements", user=pname) if a["ap_id"] == held["ap_id"])
    pnode.ok("POST", f"/agreements/{mirror['id']}/confirm", user=pname)
    wait_until(
        "the holder has the confirmation",
        lambda: rnode.ok("GET", f"/agreements/{held['id']}", user=rname)["state"] == "confirmed_by_one",
    )
    rnode.ok("POST", f"/agreements/{held['id']}/confirm", user=rname)
    return held, mirror


def followed(node: Node) -> bool:
    return node.collection_total("/actor/followers") == 1


def mirrored(x: Node, y: Node) -> bool:
    return clearing(x, y) == -clearing(y, x) != 0


def test_agreements_in_tokens_across_three_nodes_clear_and_reconcile(cooperatives: list[Node]) -> None:
    a, b, c = cooperatives
    people = [(a, "alice"), (a, "amir"), (b, "bob"), (b, "berthe"), (c, "carla"), (c, "chen")]
    pairs = [(a, b), (b, c), (c, a)]  # each pair reconciled once: a statement covers both directions
    for node in cooperatives:
        node.add_people(*(name for owner, name in people if owner is node))
    # Each node follows the node whose demand it answers (A's demand goes to B, B's to C, C's to A).
    with ThreadPoolExecutor(max_workers=3) as pool:  # each is an `asasap` process: side by side
        list(pool.map(lambda pair: pair[1].follow_node(pair[0]), pairs))
    for node, name in people:
        node.ok("PATCH", "/me", {"provider_status": "volunteer", "offers_services": True}, user=name)
    for node in cooperatives:
        wait_until(f"{node.domain} is followed", partial(followed, node))

    start = {name: balance(node, name) for node, name in people}
    trades = [
        ((a, "alice"), (b, "bob"), "3"),  # A pays B
        ((b, "berthe"), (c, "chen"), "1.5"),  # B pays C
        ((c, "carla"), (a, "amir"), "2.25"),  # C pays A
    ]
    with ThreadPoolExecutor(max_workers=3) as pool:  # three conversations, side by side
        agreements = list(pool.map(lambda trade: agree_and_complete(*trade), trades))

    change = {
        "alice": Decimal(-3),
        "bob": Decimal(3),
        "berthe": Decimal("-1.5"),
        "chen": Decimal("1.5"),
        "carla": Decimal("-2.25"),
        "amir": Decimal("2.25"),
    }
    for node, name in people:
        wait_until(f"{name} is paid or has paid", lambda: balance(node, name) == start[name] + change[name])  # noqa: B023 - awaited in this iteration
    for x, y, owed in ((a, b, Decimal(3)), (b, c, Decimal("1.5")), (c, a, Decimal("2.25"))):
        wait_until(f"{x.domain} and {y.domain} mirror", partial(mirrored, x, y))
        assert clearing(x, y) == owed and clearing(y, x) == -owed
    for ((rnode, rname), (pnode, pname), _), (held, mirror) in zip(trades, agreements, strict=True):
        # Both parties' nodes show the payment as paid on the agreement (the provider's once received).
        paid = rnode.ok("GET", f"/agreements/{held['id']}", user=rname)["payment"]
        assert paid["state"] == "paid" and paid["kind"] == "payment", paid
        received = pnode.ok("GET", f"/agreements/{mirror['id']}", user=pname)["payment"]
        assert received["state"] == "paid" and received["transfer"] == paid["transfer"], received
    with ThreadPoolExecutor(max_workers=6) as pool:
        verified = list(pool.map(lambda node: node.cli_json("timebank", "verify"), cooperatives))
        reports = list(pool.map(lambda pair: pair[0].cli_json("timebank", "reconcile", pair[1].url), pairs))
    assert all(report["ok"] for report in verified), verified
    for (node, other), report in zip(pairs, reports, strict=True):
        assert report["differences"] == [] and report["mirrored"] is True, (node.domain, other.domain, report)
    for node in cooperatives:
        failed = node.sql("SELECT type, error FROM inbox WHERE state = 'failed'")
        assert failed == [], (node.domain, failed)
