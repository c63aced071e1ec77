"""A node backed up while it serves, restored onto an empty machine, carries on as itself: on each
backend, node A holds people, a demand, an answer, an agreement, an incoming follow not yet processed
and an outgoing follow not yet delivered (its worker is off); `asasap backup` archives it while it
serves, `asasap restore` refuses to overwrite the live node, then restores onto a fresh database and
data folder; the restored node processes and delivers what was pending, and its peer B (which had
cached A's keys before) accepts its signatures: both follows end accepted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import DatabaseFactory, backends
from tests.support.market import proposal_fields
from tests.support.nodes import AS, Node, NodeProcess, running_nodes, wait_until

pytestmark = pytest.mark.process

TABLES = ("users", "proposals", "bids", "agreements", "follows", "deliveries", "inbox")


@pytest.fixture(scope="module")
def peer(
    tmp_path_factory: pytest.TempPathFactory, database_factories: dict[str, DatabaseFactory]
) -> Iterator[Node]:
    with running_nodes(tmp_path_factory.mktemp("peer"), database_factories, ["sqlite"]) as nodes:
        yield nodes[0]


def counts(node: Node) -> dict[str, int]:
    return {table: node.sql(f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}


def public_key(node: Node, username: str) -> str:
    document: dict[str, Any] = httpx.get(node.uri(username), headers=AS, timeout=10).json()
    return str(document["publicKey"]["publicKeyPem"])


@pytest.mark.parametrize("backend", backends())
def test_a_restored_node_carries_on_as_itself(
    backend: str, peer: Node, tmp_path: Path, database_factories: dict[str, DatabaseFactory]
) -> None:
    factory = database_factories[backend]
    original_url, restored_url = factory.create(), factory.create_empty()
    original = NodeProcess(tmp_path / "a", original_url, extra_env={"ASASAP_EMBEDDED_WORKER": "false"})
    restored = NodeProcess(tmp_path / "restored", restored_url, port=original.port)
    try:
        original.init()
        original.start()
        a = Node(original)
        a.add_person("amina")
        a.add_person("bilal")
        chloe = f"chloe_{backend[:2]}"
        peer.add_person(chloe)

        a.ok("PATCH", "/me", {"provider_status": "volunteer", "offers_services": True}, user="bilal")
        demand = a.ok("POST", "/proposals", proposal_fields("request", "Courses du mardi"), user="amina")
        bid = a.ok("POST", "/bids", {"proposal": demand["ap_id"], "amount": "18"}, user="bilal")
        a.ok("POST", f"/bids/{bid['id']}/accept", user="amina")
        peer.ok("POST", "/follows", {"target": a.uri("amina")}, user=chloe)
        wait_until("A stored the follow from B", lambda: a.sql("SELECT count(*) FROM inbox")[0][0] == 1)
        a.ok("POST", "/follows", {"target": peer.uri(chloe)}, user="amina")
        before = counts(a)
        assert before["deliveries"] >= 1 and a.sql("SELECT state FROM inbox") == [("pending",)]
        key = public_key(a, "amina")

        archive = tmp_path / "a.tar.gz"
        made = original.cli("backup", "--output", str(archive))
        assert made.returncode == 0, made.stderr
        refused = original.cli("restore", str(archive))
        assert refused.returncode == 1 and "already holds" in refused.stderr and "--force" in refused.stderr
        assert counts(a) == before
        original.stop()

        done = restored.cli("restore", str(archive))
        assert done.returncode == 0, done.stderr
        restored.start()
        again = Node(restored)
        again.tokens = dict(a.tokens)  # API tokens are rows of the database: they came back too
        assert public_key(again, "amina") == key
        wait_until(
            "B's follow of amina was accepted by the restored node",
            lambda: peer.following_state(chloe, a.uri("amina")) == "accepted",
        )
        wait_until(
            "the restored node's pending follow reached B, which accepted it",
            lambda: again.following_state("amina", peer.uri(chloe)) == "accepted",
        )
        after = counts(again)
        assert {t: after[t] for t in ("users", "proposals", "bids", "agreements")} == {
            t: before[t] for t in ("users", "proposals", "bids", "agreements")
        }
        assert again.ok("GET", "/agreements", user="amina")[0]["state"]
    finally:
        original.stop()
        restored.stop()
        factory.drop(original_url)
        factory.drop(restored_url)
