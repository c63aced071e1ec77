"""Clocking survives ``kill -9``: providers' phones send check-ins and check-outs to a real node from
four threads, the node is killed in the middle, restarted, and the phones send again what got no answer
(the same event ids). Every event answered before the crash is there, none is recorded twice, every
visit ends done, and ``asasap telemanagement verify-log`` finds the chain whole."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.nodes import Node, node_fixture  # noqa: F401 - a fixture used by name
from tests.support.telemanagement import api_plan, started_ago

pytestmark = pytest.mark.process

VISITS = 24


def _plan_visits(node: Node) -> list[int]:
    node.add_people("coord", "aline")
    assert node.process.cli("user", "set-role", "coord", "coordinator").returncode == 0
    plan = api_plan(node, "coord", {"name": "Mme Martin", "commune": "Montreuil"}, folder="APA-1", hours="40")
    start = started_ago(180)
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
