"""Clocking survives ``kill -9``: providers' phones send check-ins and check-outs to a real node from
four threads, the node is killed in the middle, restarted, and the phones send again what got no answer
(the same event ids). Every event answered before the crash is there, none is recorded twice, every
visit ends done, and ``asasap telemanagement verify-log`` finds the chain whole."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support.nodes import Node, NodeProcess

pytestmark = pytest.mark.process

PARIS = ZoneInfo("Europe/Paris")
VISITS = 24


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[Node]:
    process = NodeProcess(tmp_path_factory.mktemp("tm-kill"), module_database_url)
    process.init()
    process.start()
    yield Node(process)
    process.stop()


def _plan_visits(node: Node) -> list[int]:
    node.add_people("coord", "aline")
    assert node.process.cli("user", "set-role", "coord", "coordinator").returncode == 0
    funder = node.ok("POST", "/funders", {"name": "CD 93", "kind": "apa", "billing": "direct"}, user="coord")
    home = node.ok("POST", "/beneficiaries", {"name": "Mme Martin", "commune": "Montreuil"}, user="coord")
    today = datetime.now(PARIS).date()
    plan = node.ok(
        "POST",
        "/plans",
        {
            "beneficiary_id": home["id"],
            "funder_id": funder["id"],
            "folder_number": "APA-1",
            "valid_from": (today - timedelta(days=2)).isoformat(),
            "hourly_rate": "24.58",
            "participation": "10",
            "hours": {"housework": "40"},
        },
        user="coord",
    )
    start = (datetime.now(UTC) - timedelta(hours=3)).astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")
    made = node.ok(
        "POST",
        "/visits",
        {
            "plan_id": plan["id"],
            "category": "housework",
            "start": start,
            "minutes": 15,
            "provider": "aline",
            "rule": f"FREQ=MINUTELY;INTERVAL=20;COUNT={VISITS}",
        },
        user="coord",
    )
    return [visit["id"] for visit in made]


def test_kill_9_while_clocking_loses_nothing_and_keeps_the_chain(node: Node) -> None:
    visit_ids = _plan_visits(node)
    events = {visit: [(kind, uuid.uuid4().hex) for kind in ("in", "out")] for visit in visit_ids}
    answered: set[str] = set()
    lock = threading.Lock()
    enough = threading.Event()
    headers = {"Authorization": f"Bearer {node.tokens['aline']}"}

    def send(client: httpx.Client, visit: int, kind: str, client_id: str) -> bool:
        body = {"visit_id": visit, "kind": kind, "manual_reason": "other", "client_id": client_id}
        try:
            response = client.post(node.url + "/api/v1/clock-events", json=body, headers=headers)
        except httpx.HTTPError:
            return False
        assert response.status_code == 201, response.text
        with lock:
            answered.add(client_id)
            if len(answered) >= VISITS // 2:
                enough.set()
        return True

    def phone(visits: list[int]) -> None:
        with httpx.Client(timeout=10) as client:
            for visit in visits:
                for kind, client_id in events[visit]:
                    if not send(client, visit, kind, client_id):
                        return  # the network is gone for this phone: it keeps the rest

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(phone, visit_ids[i::4]) for i in range(4)]
        assert enough.wait(60)
        node.process.kill()
        for future in futures:
            future.result()
    before_crash = set(answered)
    assert 0 < len(before_crash) < 2 * VISITS

    node.process.start(timeout=60)
    with httpx.Client(timeout=10) as client:
        for visit in visit_ids:  # every phone sends again what got no answer, in its order
            for kind, client_id in events[visit]:
                if client_id not in before_crash:
                    assert send(client, visit, kind, client_id)

    visits = {v["id"]: v for v in node.ok("GET", "/visits", user="coord")}
    assert all(visits[visit]["state"] == "done" for visit in visit_ids)
    checked = node.process.cli("telemanagement", "verify-log")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == f"clock log intact: {2 * VISITS} links"
