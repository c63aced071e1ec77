"""Matching across three real nodes on loopback: a demand posted on A reaches B and C (both follow A);
C's gardener, within her radius, is notified by C; B's cleaner, who does not garden, is not, and nothing
of either is sent to A."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.databases import DatabaseFactory
from tests.support.nodes import AS, Node, running_nodes, wait_until

pytestmark = pytest.mark.process

PROFILE = {"postal_code": "93170", "commune_name": "Bagnolet", "offers_services": True}


def kinds(node: Node, user: str) -> list[str]:
    items: list[dict[str, Any]] = node.ok("GET", "/notifications", user=user)["items"]
    return [item["kind"] for item in items]


@pytest.fixture(scope="module")
def three_nodes(
    tmp_path_factory: pytest.TempPathFactory, database_factories: dict[str, DatabaseFactory]
) -> Iterator[list[Node]]:
    """Nodes A and B (SQLite) and C (PostgreSQL when configured), whose alerts pass every second."""
    with running_nodes(
        tmp_path_factory.mktemp("nodes"),
        database_factories,
        ["sqlite", "sqlite", "postgresql"],
        extra_env={"ASASAP_ALERTS_INTERVAL_SECONDS": "1"},
    ) as nodes:
        yield nodes


def test_a_demand_on_a_notifies_a_matching_provider_on_c_only(three_nodes: list[Node]) -> None:
    a, b, c = three_nodes
    a.add_person("alice")
    for node, name, category in ((b, "bruno", "housework"), (c, "carla", "gardening")):
        node.add_person(name)
        profile = {**PROFILE, "provider_status": "private_individual", "categories": [category]}
        node.ok("PATCH", "/me", profile, user=name)
        node.ok("PUT", "/matches/settings", {"radius_km": 5, "alerts": True}, user=name)
        node.follow_node(a)
    wait_until(
        "A accepts B's and C's nodes",
        lambda: httpx.get(a.url + "/actor/followers", headers=AS).json()["totalItems"] == 2,
    )
    demand = {
        "purpose": "request",
        "title": "Tonte de pelouse",
        "description": "<p>Un petit jardin à tondre tous les quinze jours.</p>",
        "category": "gardening",
        "postal_code": "93100",
        "commune_name": "Montreuil",
    }
    created = a.api("POST", "/proposals", demand, user="alice")
    assert created.status_code == 201, created.text
    wait_until("C notifies its gardener", lambda: "match_demand" in kinds(c, "carla"), timeout=90)
    (notice,) = [
        n for n in c.ok("GET", "/notifications", user="carla")["items"] if n["kind"] == "match_demand"
    ]
    assert notice["data"]["title"] == "Tonte de pelouse" and notice["url"].startswith("/proposals/remote/")
    assert [m["proposal"]["title"] for m in c.ok("GET", "/matches", user="carla")["demands"]] == [
        "Tonte de pelouse"
    ]
    wait_until(
        "the demand reaches B",
        lambda: any(
            p["title"] == "Tonte de pelouse" for p in b.ok("GET", "/proposals?origin=remote")["items"]
        ),
    )
    assert b.ok("GET", "/matches", user="bruno")["demands"] == []
    assert "match_demand" not in kinds(b, "bruno")
    assert "match_demand" not in kinds(a, "alice")
