"""A group on one node, through the API and the services: creation, joining (twice is refused), roles
(only coordinators; never the last one away), categories of associates and the SCIC checklist, capital
and college bounds, the group's Group actor and collections, WebFinger; then its work: an offer in its
name (announced, FEP-1b12), a bid accepted, members assigned by round robin, completion, contributions
in the month summary, and evaluations counting for the group and for the member who did the work."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.accounts.models import User
from node.activitypub.models import OutboxActivity
from node.core import db
from node.core.timeutil import utcnow
from node.demo import groups as demo_groups
from node.demo.loader import load_demo
from node.demo.tables import DemoDataError
from node.groups import associates, calendar, legal, records, service
from node.groups import export as group_export
from node.groups import profile as group_profile
from node.groups import work as group_work
from node.groups.models import Group
from node.market.agreements import service as agreements
from node.market.bids import service as bids
from node.market.evaluations import service as evaluations
from node.market.evaluations.service import EvaluationInput
from node.market.models import Agreement
from node.settings import Settings
from tests.support.market import make_proposal, person

AS = {"Accept": "application/activity+json"}


def stored_group(session: Session, group_id: int) -> Group:
    found = session.get(Group, group_id)
    assert found is not None
    return found


def auth(engine: Engine, user: User) -> dict[str, str]:
    with db.session_scope(engine) as s:
        return {"Authorization": f"Bearer {credentials.create_api_token(user, 'tests', session=s)[1]}"}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


def outbox(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        return [
            json.loads(r.payload)
            for r in session.exec(select(OutboxActivity).order_by(col(OutboxActivity.id))).all()
        ]


SCIC = {
    "name": "coop_montreuil",
    "display_name": "Coop Montreuil",
    "legal_shape": "scic",
    "territory": "Montreuil",
}


def test_a_scic_is_created_joined_and_checked(client: TestClient, engine: Engine, settings: Settings) -> None:
    alice, bob, carol, dora = (person(engine, n) for n in ("alice", "bob", "carol", "dora"))
    as_alice, as_bob, as_carol, as_dora = (auth(engine, u) for u in (alice, bob, carol, dora))
    group = ok(client.post("/api/v1/groups", json=SCIC, headers=as_alice), 201)
    assert group["id"] == "http://testserver/groups/coop_montreuil" and group["members"] == 1
    refused(client.post("/api/v1/groups", json=SCIC, headers=as_bob), 422)  # name taken
    refused(client.post("/api/v1/groups", json={**SCIC, "name": "bob"}, headers=as_bob), 422)  # a username

    # Joining by request and approval; asking twice is a conflict; only coordinators decide.
    request = ok(
        client.post("/api/v1/groups/coop_montreuil/join", json={"message": "Bonjour"}, headers=as_bob)
    )
    assert request["state"] == "pending"
    refused(client.post("/api/v1/groups/coop_montreuil/join", json={}, headers=as_bob), 409)
    refused(
        client.post(
            f"/api/v1/groups/coop_montreuil/members/{request['id']}/decision",
            json={"accept": True},
            headers=as_bob,
        ),
        403,
    )
    assert (
        ok(
            client.post(
                f"/api/v1/groups/coop_montreuil/members/{request['id']}/decision",
                json={"accept": True},
                headers=as_alice,
            )
        )["state"]
        == "active"
    )
    invited = ok(
        client.post("/api/v1/groups/coop_montreuil/invitations", json={"person": "carol"}, headers=as_alice),
        201,
    )
    assert invited["state"] == "invited"
    ok(client.post("/api/v1/groups/coop_montreuil/invitation", json={"accept": True}, headers=as_carol))

    members = {
        m["actor"].rsplit("/", 1)[1]: m
        for m in ok(client.get("/api/v1/groups/coop_montreuil/members", headers=as_alice))
    }
    refused(client.get("/api/v1/groups/coop_montreuil/members", headers=as_dora), 403)
    # A role change by a non-coordinator is refused and changes nothing.
    refused(
        client.patch(
            f"/api/v1/groups/coop_montreuil/members/{members['carol']['id']}",
            json={"role": "coordinator"},
            headers=as_bob,
        ),
        403,
    )
    # The founder, last coordinator, cannot leave.
    refused(client.post("/api/v1/groups/coop_montreuil/leave", headers=as_alice), 409)

    def checklist() -> dict[str, dict[str, Any]]:
        return {
            c["rule"]: c for c in ok(client.get("/api/v1/groups/coop_montreuil/checklist", headers=as_bob))
        }

    first = checklist()
    assert not first["scic.three_categories"]["ok"] and first["scic.three_categories"]["article"].endswith(
        "19 septies"
    )
    assert first["scic.beneficiaries"]["missing"] == "An associate of the category beneficiaries is missing."
    for name, category, capital in (
        ("alice", "employee", "30"),
        ("bob", "beneficiary", "30"),
        ("carol", "public_body", "40"),
    ):
        ok(
            client.patch(
                f"/api/v1/groups/coop_montreuil/members/{members[name]['id']}",
                json={"category": category, "capital_percent": capital},
                headers=as_alice,
            )
        )
    assert [r for r, c in checklist().items() if not c["ok"]] == []
    # Capital over 100 %, a category the shape does not know, a college out of bounds: 422, nothing changed.
    body = refused(
        client.patch(
            f"/api/v1/groups/coop_montreuil/members/{members['carol']['id']}",
            json={"capital_percent": "41"},
            headers=as_alice,
        ),
        422,
    )
    assert "capital_percent" in body["fields"]
    refused(
        client.patch(
            f"/api/v1/groups/coop_montreuil/members/{members['bob']['id']}",
            json={"category": "entrepreneur"},
            headers=as_alice,
        ),
        422,
    )
    body = refused(
        client.post(
            "/api/v1/groups/coop_montreuil/colleges",
            json={"name": "Salariés", "weight": "60"},
            headers=as_alice,
        ),
        422,
    )
    assert "weight" in body["fields"]
    ok(
        client.post(
            "/api/v1/groups/coop_montreuil/colleges",
            json={"name": "Salariés", "weight": "40"},
            headers=as_alice,
        ),
        201,
    )
    assert not checklist()["scic.college_count"]["ok"]  # one college: statutes with colleges set three
    assert checklist()["scic.public_capital"]["ok"]

    # Roles: the group announces Add on its moderators collection; then the founder may leave.
    ok(
        client.patch(
            f"/api/v1/groups/coop_montreuil/members/{members['bob']['id']}",
            json={"role": "coordinator"},
            headers=as_alice,
        )
    )
    announce = next(a for a in outbox(engine) if a["type"] == "Announce" and a["object"]["type"] == "Add")
    assert announce["actor"] == group["id"] and announce["object"]["target"] == group["id"] + "/moderators"
    assert announce["object"]["object"] == "http://testserver/users/bob"
    moderators = ok(client.get("/groups/coop_montreuil/moderators", headers=AS))
    assert moderators["orderedItems"] == ["http://testserver/users/alice", "http://testserver/users/bob"]

    # A coordinator changes the profile: the group announces its Update; anyone else is refused.
    change = {"display_name": "Coop Montreuil 93", "summary": "Ménage et aide à domicile."}
    refused(client.put("/api/v1/groups/coop_montreuil", json=change, headers=as_dora), 403)
    assert (
        ok(client.put("/api/v1/groups/coop_montreuil", json=change, headers=as_bob))["display_name"]
        == "Coop Montreuil 93"
    )
    update = next(a for a in outbox(engine) if a["type"] == "Announce" and a["object"]["type"] == "Update")
    assert (
        update["object"]["object"]["type"] == "Group"
        and update["object"]["object"]["name"] == "Coop Montreuil 93"
    )

    # The Group actor, its members collection, WebFinger, the constitution.
    actor = ok(client.get("/groups/coop_montreuil", headers=AS))
    assert actor["type"] == "Group" and actor["attributedTo"] == group["id"] + "/moderators"
    assert (
        actor["memberCount"] == 3
        and actor["legalShape"] == "scic"
        and actor["publicKey"]["owner"] == group["id"]
    )
    assert ok(client.get("/groups/coop_montreuil/members", headers=AS))["totalItems"] == 3
    finger = ok(client.get("/.well-known/webfinger", params={"resource": "acct:coop_montreuil@testserver"}))
    assert finger["links"][0]["href"] == group["id"] and finger["links"][0]["properties"]
    summary = ok(client.get("/api/v1/groups/coop_montreuil/constitution", headers=as_carol))
    assert set(summary["associates_by_category"]) == {"employee", "beneficiary", "public_body"}
    assert summary["capital_percent_total"] == "100"
    assert client.get("/groups/coop_montreuil/constitution").status_code in (303, 404)  # members only

    removed = ok(
        client.delete(f"/api/v1/groups/coop_montreuil/members/{members['carol']['id']}", headers=as_alice)
    )
    assert removed["state"] == "removed"
    assert client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/groups/{name}/checklist"]["get"]


def test_the_group_at_work_shares_and_counts(engine: Engine, settings: Settings, session: Session) -> None:
    alice, bob, carol = (person(engine, n) for n in ("alice", "bob", "carol"))
    dora, eve = person(engine, "dora", status="none"), person(engine, "eve", status="none")
    with db.session_scope(engine) as s:
        group = group_profile.create_group(
            settings,
            alice,
            group_profile.GroupInput(name="brigade", display_name="La Brigade", legal_shape="collective"),
            session=s,
        )
        for user in (bob, carol):
            service.join(settings, user, group, session=s)
        s.flush()
        for member in records.members(group, session=s, states=["pending"]):
            assert member.id is not None
            service.decide_request(settings, alice, group, member.id, accept=True, session=s)
            associates.set_associate(
                settings, alice, group, member.id, associates.AssociateInput(offers=["housework"]), session=s
            )
        group_profile.update_rules(
            settings,
            alice,
            group,
            group_profile.RulesInput(sharing_rule="round_robin", contribution_rate="10"),
            session=s,
        )
        group_id = group.pk
    actor_uri = settings.url("/groups/brigade")

    # Two demands answered by the group; the requesters accept; members are assigned in turn.
    made = []
    for requester in (dora, eve):
        with db.session_scope(engine) as s:
            demand = make_proposal(s, settings, requester, hours=Decimal("2"), amount=Decimal("20"))
            group = stored_group(s, group_id)
            bid = group_work.answer(settings, alice, group, demand, bids.BidInput(), session=s)
            assert bid.bidder_uri == actor_uri and bid.local_bidder_id is None
        with db.session_scope(engine) as s:
            fresh = s.get(type(bid), bid.id)
            assert fresh is not None
            made.append(bids.accept_bid(settings, requester, fresh, session=s))
    with db.session_scope(engine) as s:
        assert group_work.assign_due(settings, session=s) == 2
    with Session(engine) as s:
        rows = [s.get(Agreement, a.id) for a in made]
        performers = [r.performer_uri for r in rows if r is not None]
    assert performers == [settings.url("/users/bob"), settings.url("/users/carol")]

    # The group and the requester confirm; both evaluate; the evaluation counts for the group and for Bob.
    with db.session_scope(engine) as s:
        group = stored_group(s, group_id)
        assert made[0].id is not None
        group_work.confirm(settings, alice, group, made[0].id, session=s)
    with db.session_scope(engine) as s:
        row = s.get(Agreement, made[0].id)
        assert row is not None
        agreements.confirm_completion(settings, dora, row, session=s)
        assert row.state == "completed"
    with db.session_scope(engine) as s:
        row = s.get(Agreement, made[0].id)
        assert row is not None
        evaluations.submit(
            settings, dora, row, EvaluationInput(overall=5, criteria={"quality": 5}), session=s
        )
    with db.session_scope(engine) as s:
        group = stored_group(s, group_id)
        group_work.evaluate(settings, alice, group, made[0].id, EvaluationInput(overall=4), session=s)
    with Session(engine) as s:
        assert evaluations.reputation_of(actor_uri, session=s).count == 1
        assert evaluations.reputation_of(settings.url("/users/bob"), session=s).count == 1
        assert evaluations.reputation_of(settings.url("/users/carol"), session=s).count == 0
        group = stored_group(s, group_id)
        now = utcnow().astimezone(calendar.PARIS)
        lines = calendar.month(settings, group, now.year, now.month, session=s)
        week = calendar.week(
            settings,
            group,
            calendar.monday_of((made[1].starts_at or utcnow()).astimezone(calendar.PARIS).date()),
            session=s,
        )
    assert [(line.name, line.agreements, line.amounts, line.contributions) for line in lines] == [
        ("bob", 1, {"EUR": Decimal("40.00")}, {"EUR": Decimal("4.00")})
    ]
    assert any(e.member_uri == settings.url("/users/carol") for day in week.days for e in day.entries)


def test_an_offer_in_the_group_name_is_announced(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob")
    as_alice, as_bob = auth(engine, alice), auth(engine, bob)
    ok(client.post("/api/v1/groups", json={**SCIC, "name": "coop"}, headers=as_alice), 201)
    offer = {
        "purpose": "offer",
        "title": "Ménage et repassage en coopérative",
        "category": "housework",
        "postal_code": "93100",
        "commune_name": "Montreuil",
        "quantity_hours": "2",
        "price": "22",
    }
    refused(client.post("/api/v1/groups/coop/offers", json=offer, headers=as_bob), 403)
    created = ok(client.post("/api/v1/groups/coop/offers", json=offer, headers=as_alice), 201)
    assert created["author"] == "http://testserver/groups/coop"
    activities = outbox(engine)
    inner = next(a for a in activities if a["type"] == "Create")
    announce = next(a for a in activities if a["type"] == "Announce")
    assert announce["object"] == inner and inner["object"]["attributedTo"] == "http://testserver/groups/coop"
    assert inner["audience"] == "http://testserver/groups/coop" and announce["actor"] == inner["actor"]
    assert ok(client.get("/groups/coop/outbox?page=1", headers=AS))["orderedItems"][0]["type"] == "Announce"


def test_export_and_erasure_of_a_member(client: TestClient, engine: Engine, settings: Settings) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob")
    as_alice, as_bob = auth(engine, alice), auth(engine, bob)
    ok(client.post("/api/v1/groups", json={**SCIC, "name": "coop"}, headers=as_alice), 201)
    ok(client.post("/api/v1/groups/coop/join", json={"message": "Je fais du ménage"}, headers=as_bob))
    exported = ok(client.get("/api/v1/me/export", headers=as_bob))
    [membership] = exported["group_memberships"]
    assert (membership["group"], membership["state"]) == ("coop", "pending")
    with db.session_scope(engine) as s:
        fresh = s.get(User, bob.id)
        assert fresh is not None
        group_export.erase(fresh, session=s)
    with Session(engine) as s:
        group = s.exec(select(Group)).one()
        row = records.member_of_user(group, bob, session=s)
        assert row is not None and (row.state, row.name, row.message) == ("left", "", "")


def test_the_demo_tables_describe_a_valid_scic() -> None:
    demo = load_demo()
    groups = demo_groups.load_groups({n.slug: {p.username for p in n.people} for n in demo.nodes})
    [scic] = groups
    assert scic.node == "cooperative" and scic.legal_shape == "scic" and len(scic.colleges) == 3
    associates = [legal.Associate(m.username, m.category, Decimal(m.capital)) for m in scic.members]
    colleges = {name: Decimal(weight) for name, weight in scic.colleges}
    assert legal.complete(legal.checklist(legal.Shape.SCIC, legal.Snapshot(associates, colleges)))
    with pytest.raises(DemoDataError):
        demo_groups.load_groups({"montreuil": set()})
