"""A visit held on node A, clocked on node B by the provider it was given to: the check-in (with the
home's code) and the check-out (by hand, kept offline) travel as EconomicEvents signed by the provider
and addressed to A's node actor only, carrying nothing private; A moves the visit and chains both events
into its clock log, which ``verify-log`` finds whole.

Then what a provider sees: visits A gives to a provider of B are offered to B's node (a Commitment from
A's node actor, to the provider only, nothing private in it) and listed on the provider's day on B,
marked with A's name; the check-in made from that page reaches A and chains into its log; a visit
cancelled on A leaves B's page; another server cannot take back A's visit. A visit freed by an absence on
A, given to a provider of B, no longer waits on A's replacements page; given then to someone on A from
the visit's page, it leaves B's page too."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from node.activitypub.models import OutboxActivity
from node.core import db
from node.settings import load_settings
from node.telemanagement import clocking, plans
from tests.support.accounts import PASSWORD
from tests.support.actors import ActorServer, actor_on
from tests.support.databases import DatabaseFactory
from tests.support.nodes import Node, running_nodes, wait_until
from tests.support.telemanagement import PARIS, api_plan, started_ago

pytestmark = pytest.mark.process
A_NAME = "SAAD Montreuil Est"


@pytest.fixture(scope="module")
def two_nodes(
    tmp_path_factory: pytest.TempPathFactory, database_factories: dict[str, DatabaseFactory]
) -> Iterator[list[Node]]:
    """Nodes A (SQLite, named) and B (PostgreSQL when configured)."""
    with running_nodes(
        tmp_path_factory.mktemp("nodes"),
        database_factories,
        ["sqlite", "postgresql"],
        each_env=[{"ASASAP_NODE_NAME": A_NAME}],
    ) as nodes:
        yield nodes


PRIVATE = ("12 rue de Paris", "4812B", "GIR 2", "Mme Martin", "Montreuil", "APA-77")


def _state(a: Node, visit_id: int, coordinator: str = "coord") -> str:
    return str({v["id"]: v for v in a.ok("GET", "/visits", user=coordinator)}[visit_id]["state"])


def test_a_visit_held_on_a_is_clocked_on_b(two_nodes: list[Node]) -> None:
    a, b = two_nodes
    a.add_people("coord")
    assert a.process.cli("user", "set-role", "coord", "coordinator").returncode == 0
    b.add_people("bob")
    home = {
        "name": "Mme Martin",
        "commune": "Montreuil",
        "address": "12 rue de Paris",
        "door_code": "4812B",
        "health": "GIR 2",
    }
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


def _outbox(node: Node) -> list[dict[str, Any]]:
    engine = db.make_engine(node.process.database_url)
    with db.session_scope(engine) as s:
        payloads = [json.loads(row.payload) for row in s.exec(select(OutboxActivity))]
    engine.dispose()
    return payloads


def test_visits_given_to_a_provider_of_b_are_on_their_day_on_b(two_nodes: list[Node]) -> None:
    a, b = two_nodes
    a.add_people("coord2")
    assert a.process.cli("user", "set-role", "coord2", "coordinator").returncode == 0
    b.add_person("bea")
    home = {
        "name": "M. Durand",
        "commune": "Rosny-sous-Bois",
        "address": "8 rue Lenain",
        "door_code": "77A1",
        "health": "GIR 3",
    }
    plan = api_plan(a, "coord2", home, folder="APA-88")
    ids = []
    for minutes in (10, 5):
        [visit] = a.ok(
            "POST", "/visits", {"plan_id": plan["id"], "category": "housework", "start": started_ago(minutes),
                                "minutes": 60}, user="coord2",
        )  # fmt: skip
        a.ok("POST", f"/visits/{visit['id']}/remote-provider", {"actor": b.uri("bea")}, user="coord2")
        ids.append(visit["id"])
    kept, cancelled = (f"{a.url}/telemanagement/visits/{n}" for n in ids)

    def remote_ids() -> dict[str, int]:
        query = "SELECT v.id, v.uri FROM tm_remote_visits v JOIN users u ON u.id = v.provider_id"
        query += " WHERE u.username = 'bea'"
        return {uri: n for n, uri in b.sql(query)}

    wait_until("B has both visits", lambda: set(remote_ids()) == {kept, cancelled})
    offers = [p for p in _outbox(a) if p["type"] == "Offer" and p["object"]["id"] in (kept, cancelled)]
    assert len(offers) == 2 and all(p["to"] == [b.uri("bea")] and "cc" not in p for p in offers)
    assert all(p["actor"] == a.url + "/actor" for p in offers)
    assert not any(
        x in json.dumps(offers, ensure_ascii=False) for x in ("Durand", "Lenain", "77A1", "GIR", "APA")
    )

    with httpx.Client(base_url=b.url, follow_redirects=False, timeout=30) as phone:
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', phone.get("/login").text)
        assert token
        logged = phone.post(
            "/login", data={"csrf_token": token.group(1), "username": "bea", "password": PASSWORD}
        )
        assert logged.status_code == 303
        day = phone.get("/me/visits").text
        number = remote_ids()[kept]
        held = re.search(rf'data-testid="held-r{number}">([^<]*)<', day)
        assert held and A_NAME in held.group(1) and a.domain not in held.group(1), held
        assert "Rosny-sous-Bois" in day and "Lenain" not in day and "77A1" not in day
        action = f"/me/remote-visits/{number}/clock"
        assert f'action="{action}"' in day
        form = re.search(rf'action="{action}".*?name="csrf_token" value="([^"]+)"', day, re.S)
        assert form
        settings = load_settings(env=a.process.env)
        engine = db.make_engine(a.process.database_url)
        with db.session_scope(engine) as s:
            home_code = clocking.home_token(settings, plans.beneficiary(s, plan["beneficiary_id"]))
        engine.dispose()
        fields = {"csrf_token": form.group(1), "kind": "in", "token": home_code, "client_id": "phone-1"}
        sent = phone.post(action, data=fields)
        assert sent.status_code == 303 and sent.headers["location"] == "/me/visits?done=in", sent.text
        wait_until("A has the check-in", lambda: _state(a, ids[0], "coord2") == "in_progress")
        assert phone.post(action, data=fields).status_code == 303  # the phone sends its kept event again
        # The page now offers the check-out of that visit.
        assert re.search(rf'action="{action}".*?name="kind" value="out"', phone.get("/me/visits").text, re.S)

        # A cancels the other visit: it leaves Bea's day.
        a.ok("POST", f"/visits/{ids[1]}/cancel", {"reason": "beneficiary_absent"}, user="coord2")
        wait_until("B forgot the cancelled visit", lambda: set(remote_ids()) == {kept})
        assert f"held-r{number}" in phone.get("/me/visits").text

    links = a.sql("SELECT kind, origin FROM tm_clock_log WHERE visit_id = :v", v=ids[0])
    assert [k for k, _ in links] == ["in"] and links[0][1].startswith(b.url + "/telemanagement/clock-events/")
    checked = a.process.cli("telemanagement", "verify-log")
    assert checked.returncode == 0 and "intact" in checked.stdout, checked.stderr

    # Another server, not A: its Delete of A's visit is refused at B's door, and its own "visit" offered
    # to Bea by a person's actor (not a node's) is refused by the handler; A's visit stays, nothing added.
    with ActorServer() as server:
        xavier = actor_on(server, "xavier", key_number=3)
        url = b.url + "/inbox"

        def post(number: int, kind: str, obj: Any) -> httpx.Response:
            activity = {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": server.url(f"/activities/{number}"),
                "type": kind,
                "actor": xavier.uri,
                "object": obj,
                "to": [b.uri("bea")],
            }
            body = json.dumps(activity).encode()
            return httpx.post(url, content=body, headers=xavier.signed_headers(url, body), timeout=30)

        assert post(1, "Delete", kept).status_code == 400
        forged = {
            "type": "Commitment",
            "id": server.url("/visits/1"),
            "action": "deliverService",
            "provider": b.uri("bea"),
            "receiver": xavier.uri,
            "hasBeginning": "2026-12-07T09:00:00+00:00",
            "hasEnd": "2026-12-07T10:00:00+00:00",
            "resourceClassifiedAs": "housework",
        }
        assert post(2, "Offer", forged).status_code == 202
        wait_until(
            "B refused the offer",
            lambda: (
                b.sql("SELECT state FROM inbox WHERE activity_id = :i", i=server.url("/activities/2"))
                == [("failed",)]
            ),
        )
    assert set(remote_ids()) == {kept}


@contextmanager
def _logged_in(node: Node, username: str) -> Iterator[httpx.Client]:
    """A browser-like client of ``node``'s pages, logged in as ``username``."""
    with httpx.Client(base_url=node.url, follow_redirects=False, timeout=30) as client:
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/login").text)
        assert token
        fields = {"csrf_token": token.group(1), "username": username, "password": PASSWORD}
        logged = client.post("/login", data=fields)
        assert logged.status_code == 303, logged.text
        yield client


def _form_token(page: str, action: str) -> str:
    form = re.search(rf'action="{re.escape(action)}".*?name="csrf_token" value="([^"]+)"', page, re.S)
    assert form, f"no form posting to {action}"
    return form.group(1)


def test_a_visit_given_to_b_then_replaced_after_an_absence_leaves_b(two_nodes: list[Node]) -> None:
    """Carla on A is away tomorrow: her visit waits for someone; A's coordinator gives it to Bea on B
    (it no longer waits), then to Dora on A from the visit's page. B's page for Bea no longer lists it."""
    a, b = two_nodes
    a.add_people("coord3", "carla", "dora")
    assert a.process.cli("user", "set-role", "coord3", "coordinator").returncode == 0
    if "bea" not in b.tokens:
        b.add_person("bea")
    home = {"name": "M. Petit", "commune": "Noisy-le-Sec", "address": "3 rue Jean Jaurès", "door_code": "12B"}
    plan = api_plan(a, "coord3", home, folder="APA-99")
    tomorrow = datetime.now(PARIS).date() + timedelta(days=1)
    [visit] = a.ok(
        "POST", "/visits", {"plan_id": plan["id"], "category": "housework", "start": f"{tomorrow}T10:00",
                            "minutes": 60, "provider": "carla"}, user="coord3",
    )  # fmt: skip
    uri = f"{a.url}/telemanagement/visits/{visit['id']}"
    with _logged_in(a, "carla") as carla:
        token = _form_token(carla.get("/me/absence").text, "/me/absence")
        day = tomorrow.isoformat()
        away = carla.post("/me/absence", data={"csrf_token": token, "first_day": day, "last_day": day})
        assert away.status_code == 303 and "freed=1" in away.headers["location"], away.text
    with _logged_in(a, "coord3") as coordinator:
        waiting = coordinator.get("/telemanagement/replacements").text
        assert f"/telemanagement/replacements/{visit['id']}" in waiting
    a.ok("POST", f"/visits/{visit['id']}/remote-provider", {"actor": b.uri("bea")}, user="coord3")

    def on_bea_day() -> bool:
        query = "SELECT v.uri FROM tm_remote_visits v JOIN users u ON u.id = v.provider_id"
        return (uri,) in [tuple(row) for row in b.sql(query + " WHERE u.username = 'bea'")]

    wait_until("B lists the visit for Bea", on_bea_day)
    with _logged_in(b, "bea") as bea:
        assert "Noisy-le-Sec" in bea.get(f"/me/visits?day={tomorrow}").text
    with _logged_in(a, "coord3") as coordinator:
        waiting = coordinator.get("/telemanagement/replacements").text
        assert f"/telemanagement/replacements/{visit['id']}" not in waiting
        action = f"/telemanagement/visits/{visit['id']}/assign"
        token = _form_token(coordinator.get(f"/telemanagement/visits/{visit['id']}").text, action)
        given = coordinator.post(action, data={"csrf_token": token, "provider": "dora", "confirmed": "1"})
        assert given.status_code == 303, given.text
    deletes = [p for p in _outbox(a) if p["type"] == "Delete" and p["object"].get("id") == uri]
    assert len(deletes) == 1 and deletes[0]["to"] == [b.uri("bea")]
    wait_until("B forgot the visit", lambda: not on_bea_day())
    with _logged_in(b, "bea") as bea:
        assert "Noisy-le-Sec" not in bea.get(f"/me/visits?day={tomorrow}").text
