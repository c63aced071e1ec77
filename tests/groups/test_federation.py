"""Groups between two nodes in one process (A: Montreuil holds the group, B: Bagnolet), through the real
inbox processing: a person of B joins and is accepted, becomes coordinator by the group's announced
``Add``, receives a notice to members; and what is refused: a role change of A's group sent from B, an
``Announce`` of an activity by an actor that is not a group, and an announced activity whose origin does
not verify."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlmodel import Session, col, select

from node.activitypub import addressing
from node.activitypub.inbox import verify as inbox
from node.activitypub.models import Delivery, InboxActivity, OutboxActivity, Peer, RemoteActor
from node.core import db
from node.core.timeutil import utcnow
from node.groups import memberships, records, service
from node.groups import profile as group_profile
from node.groups import work as group_work
from node.groups.models import Group, Notice, RemoteMembership
from node.market.proposals import service as proposals
from tests.support.data import CAPTURED
from tests.support.federation import Federation, Node, federation  # noqa: F401
from tests.support.market import person


def stored_group(session: Session, group_id: int) -> Group:
    found = session.get(Group, group_id)
    assert found is not None
    return found


def cache(node: Node, uri: str, kind: str = "Person") -> RemoteActor:
    """``uri`` (an actor of another node) as ``node``'s cache knows it."""
    base = addressing.origin(uri)
    row = RemoteActor(
        uri=uri,
        type=kind,
        domain=addressing.domain_of(uri),
        inbox=uri + "/inbox",
        shared_inbox=f"{base}/inbox",
        preferred_username=uri.rsplit("/", 1)[1],
        name=uri.rsplit("/", 1)[1].title(),
    )
    with db.session_scope(node.engine) as session:
        session.add(row)
    return row


def receive(node: Node, payload: dict[str, Any]) -> None:
    """``payload`` arrives at ``node``'s inbox, signed by its actor (with the inbox's origin checks)."""
    stored, _ = inbox.sanitise(payload, payload["actor"])
    with db.session_scope(node.engine) as session:
        session.add(
            InboxActivity(
                activity_id=payload["id"],
                actor_uri=payload["actor"],
                type=payload["type"],
                payload=json.dumps(stored),
                key_id=payload["actor"] + "#main-key",
            )
        )


def row_of(node: Node, activity_id: object) -> InboxActivity:
    with node.session() as session:
        found = session.exec(
            select(InboxActivity).where(col(InboxActivity.activity_id) == activity_id)
        ).first()
        assert found is not None
        return found


def setup(federation: Federation) -> tuple[Node, Node, int, str, str]:  # noqa: F811
    a, b = federation.nodes
    alice, bob = person(a.engine, "alice"), person(b.engine, "bob")
    with db.session_scope(a.engine) as s:
        group = group_profile.create_group(
            a.settings,
            alice,
            group_profile.GroupInput(name="coop", display_name="Coop", legal_shape="scic"),
            session=s,
        )
        group_id = group.pk
    group_uri, bob_uri = a.settings.url("/groups/coop"), b.uri("bob")
    remote_group = cache(b, group_uri, "Group")
    cache(a, bob_uri)
    with db.session_scope(b.engine) as s:
        memberships.join_remote(b.settings, bob, remote_group, "Bonjour", session=s)
    federation.settle()
    with db.session_scope(a.engine) as s:
        group = stored_group(s, group_id)
        pending = records.member_by_uri(group, bob_uri, session=s)
        assert pending is not None and pending.state == "pending" and pending.message == "Bonjour"
        assert pending.id is not None
        service.decide_request(a.settings, alice, group, pending.id, accept=True, session=s)
    federation.settle()
    return a, b, group_id, group_uri, bob_uri


def test_a_member_of_another_node_joins_gets_a_role_and_notices(federation: Federation) -> None:  # noqa: F811
    a, b, group_id, group_uri, bob_uri = setup(federation)
    with b.session() as s:
        [mirror] = s.exec(select(RemoteMembership)).all()
        assert (mirror.state, mirror.role, mirror.group_uri) == ("active", "member", group_uri)
    alice = person(a.engine, "alice2")
    with db.session_scope(a.engine) as s:
        group = stored_group(s, group_id)
        founder = records.coordinators(group, session=s)[0]
        assert founder.local_user_id is not None
        alice = s.get(type(alice), founder.local_user_id) or alice
        bob = records.member_by_uri(group, bob_uri, session=s)
        assert bob is not None and bob.id is not None
        service.set_role(a.settings, alice, group, bob.id, "coordinator", session=s)
        service.post_notice(a.settings, alice, group, "Réunion jeudi", session=s)
    federation.settle()
    with b.session() as s:
        assert s.exec(select(RemoteMembership)).one().role == "coordinator"
        assert [n.content for n in s.exec(select(Notice)).all()] == ["Réunion jeudi"]
    kinds = {(r.type, r.kind, r.state) for r in federation.inbox_rows(b)}
    assert ("Announce", "group-announce", "done") in kinds and (
        "Accept",
        "group-join-answer",
        "done",
    ) in kinds


def test_role_changes_from_elsewhere_and_announces_that_do_not_verify_are_refused(
    federation: Federation,  # noqa: F811
) -> None:
    a, b, _, group_uri, bob_uri = setup(federation)
    # A role change of A's group sent from B: refused, answered with the group's Reject; nothing changed.
    add = {
        "id": f"{bob_uri}/activities/{uuid.uuid4()}",
        "type": "Add",
        "actor": bob_uri,
        "object": bob_uri,
        "target": group_uri + "/moderators",
    }
    receive(a, add)
    federation.process(a)
    assert row_of(a, add["id"]).state == "ignored"
    with a.session() as s:
        group = s.exec(select(Group)).one()
        assert [m.member_uri for m in records.coordinators(group, session=s)] == [a.uri("alice")]
        reject = [
            json.loads(r.payload)
            for r in s.exec(select(OutboxActivity).where(col(OutboxActivity.type) == "Reject")).all()
        ]
    assert [(r["actor"], r["object"]) for r in reject] == [(group_uri, add["id"])]

    # An Announce of an activity by someone who is not a group: refused.
    create = {
        "id": f"{bob_uri}/activities/{uuid.uuid4()}",
        "type": "Create",
        "actor": bob_uri,
        "object": {"id": f"{bob_uri}/notes/1", "type": "Note", "attributedTo": bob_uri, "content": "x"},
    }
    announce = {
        "id": f"{bob_uri}/activities/{uuid.uuid4()}",
        "type": "Announce",
        "actor": bob_uri,
        "object": create,
    }
    receive(a, announce)
    federation.process(a)
    assert row_of(a, announce["id"]).state == "failed"
    assert "not a group" in row_of(a, announce["id"]).error

    # The group announces an activity attributed to another origin: only its id is kept, its origin does not
    # serve it, and it is refused; nothing of it is stored.
    evil = "https://evil.example/users/mallory"
    forged = {
        "id": f"{group_uri}/forged/1",
        "type": "Create",
        "actor": evil,
        "object": {
            "id": f"{group_uri}/forged/1/note",
            "type": "Note",
            "attributedTo": evil,
            "content": "faux",
        },
    }
    wrapped = {
        "id": f"{group_uri}/announces/{uuid.uuid4()}",
        "type": "Announce",
        "actor": group_uri,
        "object": forged,
        "to": [group_uri + "/members"],
    }
    receive(b, wrapped)
    federation.process(b)
    assert row_of(b, wrapped["id"]).state == "failed"
    with b.session() as s:
        assert s.exec(select(Notice)).all() == []


def test_a_mastodon_user_follows_the_group_and_gets_its_posts(federation: Federation) -> None:  # noqa: F811
    a, _ = federation.nodes
    alice = person(a.engine, "alice")
    with db.session_scope(a.engine) as s:
        group = group_profile.create_group(
            a.settings,
            alice,
            group_profile.GroupInput(name="coop", display_name="Coop", legal_shape="scic"),
            session=s,
        )
    group_uri, claire = a.settings.url("/groups/coop"), "https://masto.example/users/claire"
    cache(a, claire)
    with db.session_scope(a.engine) as s:
        s.add(Peer(domain="masto.example", software="mastodon", nodeinfo_fetched_at=utcnow()))
    # Mastodon's Follow (captured shape): the group accepts at once, as FEP-1b12 asks.
    follow = {
        **json.loads((CAPTURED / "mastodon-follow.json").read_text()),
        "actor": claire,
        "object": group_uri,
    }
    follow["id"] = "https://masto.example/" + str(uuid.uuid4())
    receive(a, follow)
    federation.process(a)
    assert row_of(a, follow["id"]).state == "done"
    with db.session_scope(a.engine) as s:
        group = stored_group(s, group.pk)
        group_work.publish_offer(
            a.settings,
            alice,
            group,
            proposals.ProposalInput(
                purpose="offer",
                title="Ménage en coopérative",
                category="housework",
                postal_code="93100",
                commune_name="Montreuil",
                quantity="2",
                price="22",
                lifetime_days="30",
            ),
            session=s,
        )
    with a.session() as s:
        sent = [
            (json.loads(activity.payload), delivery.target)
            for activity, delivery in s.exec(
                select(OutboxActivity, Delivery).join(
                    Delivery, col(Delivery.outbox_id) == col(OutboxActivity.id)
                )
            ).all()
        ]
    accept = next(p for p, target in sent if p["type"] == "Accept")
    assert accept["actor"] == group_uri and accept["object"]["id"] == follow["id"]
    [(announce, target)] = [(p, t) for p, t in sent if p["type"] == "Announce"]
    # What Mastodon shows: the group's boost of a readable Note written by the group.
    assert target == "https://masto.example/inbox" and announce["actor"] == group_uri
    assert announce["object"]["type"] == "Create" and announce["object"]["object"]["type"] == "Note"
    assert announce["object"]["object"]["attributedTo"] == group_uri
