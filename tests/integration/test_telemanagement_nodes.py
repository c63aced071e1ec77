"""A visit held on node A, clocked on node B by the provider it was given to: the check-in (with the
home's code) and the check-out (by hand, kept offline) travel as EconomicEvents signed by the provider
and addressed to A's node actor only, carrying nothing private; A moves the visit and chains both events
into its clock log, which ``verify-log`` finds whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from node.activitypub.models import OutboxActivity
from node.core import db
from node.settings import load_settings
from node.telemanagement import clocking, plans
from tests.support.nodes import Node, wait_until
from tests.support.telemanagement import api_plan, started_ago

pytestmark = pytest.mark.process

PRIVATE = ("12 rue de Paris", "4812B", "GIR 2", "Mme Martin", "Montreuil", "APA-77")


def _state(a: Node, visit_id: int) -> str:
    return str({v["id"]: v for v in a.ok("GET", "/visits", user="coord")}[visit_id]["state"])


def test_a_visit_held_on_a_is_clocked_on_b(two_nodes: list[Node]) -> None:
    a, b = two_nodes
    a.add_people("coord")
    assert a.process.cli("user", "set-role", "coord", "coordinator").returncode == 0
    b.add_people("bob")
    home = {"name": "Mme Martin", "commune": "Montreuil", "address": "12 rue de Paris", "door_code": "4812B",
            "health": "GIR 2"}  # fmt: skip
    plan = api_plan(a, "coord", home, folder="APA-77")
    start = started_ago(40)
    [visit] = a.ok(
        "POST", "/visits", {"plan_id": plan["id"], "category": "housework", "start": start, "minutes": 60},
        user="coord",
    )  # fmt: skip
    given = a.ok("POST", f"/visits/{visit['id']}/remote-provider", {"actor": b.uri("bob")}, user="coord")
    assert given["visit"] == f"{a.url}/telemanagement/visits/{visit['id']}"
    settings = load_settings(env=a.process.env)
    engine = db.make_engine(a.process.database_url)
    with db.session_scope(engine) as s:
        token = clocking.home_token(settings, plans.beneficiary(s, plan["beneficiary_id"]))
    engine.dispose()

    holder = a.url + "/actor"
    sent = b.api("POST", "/remote-clock-events", {"holder": holder, "visit": given["visit"], "kind": "in",
                                                  "token": token}, user="bob")  # fmt: skip
    assert sent.status_code == 202, sent.text
    wait_until("A has the check-in", lambda: _state(a, visit["id"]) == "in_progress")
    on_phone = datetime.now(UTC).replace(microsecond=0)  # kept on the phone, sent later
    sent = b.api(
        "POST",
        "/remote-clock-events",
        {"holder": holder, "visit": given["visit"], "kind": "out", "manual_reason": "qr_damaged",
         "at": on_phone.isoformat(), "offline": True},
        user="bob",
    )  # fmt: skip
    assert sent.status_code == 202, sent.text
    wait_until("A has the check-out", lambda: _state(a, visit["id"]) == "done")
    [done] = [v for v in a.ok("GET", "/visits", user="coord") if v["id"] == visit["id"]]
    assert datetime.fromisoformat(done["checked_out_at"]) == on_phone
    checked = a.process.cli("telemanagement", "verify-log")
    assert checked.returncode == 0 and checked.stdout.strip() == "clock log intact: 2 links", checked.stderr

    engine = db.make_engine(b.process.database_url)
    with db.session_scope(engine) as s:
        payloads = [json.loads(row.payload) for row in s.exec(select(OutboxActivity))]
    engine.dispose()
    events = [p for p in payloads if isinstance(p.get("object"), dict) and "clockKind" in p["object"]]
    assert len(events) == 2 and all(p["to"] == [holder] and "cc" not in p for p in events)
    assert not any(private in json.dumps(events, ensure_ascii=False) for private in PRIVATE)
