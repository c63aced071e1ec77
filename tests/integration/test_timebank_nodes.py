"""Time tokens across three real cooperative nodes (A and B on SQLite, C on PostgreSQL when configured):
agreements priced in tokens completed between A–B, B–C and A–C are paid through the clearing accounts;
the clearing balances mirror each other on every pair, ``asasap timebank reconcile`` reports no
difference and ``asasap timebank verify`` finds every ledger adding up."""

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


def agree_and_complete(requester: tuple[Node, str], provider: tuple[Node, str], hours: str) -> dict[str, Any]:
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
    return held


def followed_by_both(node: Node) -> bool:
    return node.collection_total("/actor/followers") == 2


def mirrored(x: Node, y: Node) -> bool:
    return clearing(x, y) == -clearing(y, x) != 0


def test_agreements_in_tokens_across_three_nodes_clear_and_reconcile(cooperatives: list[Node]) -> None:
    a, b, c = cooperatives
    people = [(a, "alice"), (a, "amir"), (b, "bob"), (b, "berthe"), (c, "carla"), (c, "chen")]
    pairs = [(node, other) for node in cooperatives for other in cooperatives if other is not node]
    with ThreadPoolExecutor(max_workers=6) as pool:  # each is an `asasap` process: side by side
        list(pool.map(lambda person: person[0].add_person(person[1]), people))
        list(pool.map(lambda pair: pair[0].follow_node(pair[1]), pairs))
    for node, name in people:
        node.ok("PATCH", "/me", {"provider_status": "volunteer", "offers_services": True}, user=name)
    for node in cooperatives:
        wait_until(f"{node.domain} is followed by both", partial(followed_by_both, node))

    start = {name: balance(node, name) for node, name in people}
    agree_and_complete((a, "alice"), (b, "bob"), "3")  # A pays B
    agree_and_complete((b, "berthe"), (c, "chen"), "1.5")  # B pays C
    agree_and_complete((c, "carla"), (a, "amir"), "2.25")  # C pays A

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
    with ThreadPoolExecutor(max_workers=6) as pool:
        verified = list(pool.map(lambda node: node.cli_json("timebank", "verify"), cooperatives))
        reports = list(pool.map(lambda pair: pair[0].cli_json("timebank", "reconcile", pair[1].url), pairs))
    assert all(report["ok"] for report in verified), verified
    for (node, other), report in zip(pairs, reports, strict=True):
        assert report["differences"] == [] and report["mirrored"] is True, (node.domain, other.domain, report)
    for node in cooperatives:
        failed = node.sql("SELECT type, error FROM inbox WHERE state = 'failed'")
        assert failed == [], (node.domain, failed)
