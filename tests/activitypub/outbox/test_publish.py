"""Publishing: one outbox row and one delivery per distinct inbox, in the caller's transaction."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.addressing import PUBLIC_ADDRESSES
from node.activitypub.models import (
    Delivery,
    DeliveryState,
    DomainBlock,
    FollowState,
    OutboxActivity,
)
from node.activitypub.outbox.admin import count_by_state
from node.activitypub.outbox.publish import cancel_for_domain, publish
from node.core.db import session_scope
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.delivery import (
    add_follower,
    add_remote_actor,
    deliveries,
    local_person,
    publish_note,
)

A = "https://a.example"
B = "https://b.example"


@pytest.fixture
def alice(settings: Settings, engine: Engine) -> LocalActor:
    make_user(engine, "alice")
    return local_person(settings, engine, "alice")


def targets(engine: Engine) -> dict[str, str | None]:
    return {d.target: d.inbox_url for d in deliveries(engine)}


def test_publish_stamps_the_activity_and_stores_it(
    settings: Settings, engine: Engine, alice: LocalActor
) -> None:
    row = publish_note(settings, engine, alice)
    stored = json.loads(row.payload)
    assert stored["@context"] == "https://www.w3.org/ns/activitystreams"
    assert stored["actor"] == alice.uri
    assert local.is_local(settings, stored["id"]) and stored["id"] == row.activity_id
    assert stored["published"].endswith("Z")
    assert row.type == "Create" and row.object_id == stored["object"]["id"] and row.public
    assert row.actor_uri == alice.uri


def test_publish_keeps_a_given_id_and_context(settings: Settings, engine: Engine, alice: LocalActor) -> None:
    given = settings.url("/activities/fixed")
    context = ["https://www.w3.org/ns/activitystreams", {"vf": "https://w3id.org/valueflows/ont/vf#"}]
    with session_scope(engine, write=True) as session:
        row = publish(
            settings,
            actor=alice,
            activity={"id": given, "@context": context, "type": "Update", "object": alice.uri},
            session=session,
        )
    assert row.activity_id == given
    assert json.loads(row.payload)["@context"] == context
    assert row.object_id == alice.uri and not row.public


@pytest.mark.parametrize(
    "activity",
    [
        {"object": "x"},  # no type
        {"type": "Create", "actor": "https://evil.example/users/mallory"},
        {"type": "Create", "id": "https://evil.example/activities/1"},
    ],
)
def test_publish_refuses_what_cannot_be_ours(
    settings: Settings, engine: Engine, alice: LocalActor, activity: dict[str, str]
) -> None:
    with pytest.raises(ValueError), session_scope(engine, write=True) as session:
        publish(settings, actor=alice, activity=activity, session=session)
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(OutboxActivity)).one() == 0


def test_followers_get_one_delivery_per_shared_inbox(
    settings: Settings, engine: Engine, alice: LocalActor
) -> None:
    for name in ("bob", "carol", "dan"):
        add_follower(engine, alice, add_remote_actor(engine, A, name).uri)
    add_follower(engine, alice, add_remote_actor(engine, B, "erin", shared=False).uri)
    add_follower(engine, alice, add_remote_actor(engine, B, "fred", shared=False).uri)
    publish_note(settings, engine, alice, to_followers=True)
    assert targets(engine) == {
        A + "/inbox": A + "/inbox",
        B + "/users/erin/inbox": B + "/users/erin/inbox",
        B + "/users/fred/inbox": B + "/users/fred/inbox",
    }
    rows = deliveries(engine)
    assert {d.domain for d in rows} == {"a.example", "b.example"}
    assert all(d.state == DeliveryState.PENDING.value and d.attempts == 0 for d in rows)


def test_only_accepted_followers_of_this_actor_that_are_not_gone(
    settings: Settings, engine: Engine, alice: LocalActor
) -> None:
    make_user(engine, "bruno")
    bruno = local_person(settings, engine, "bruno")
    add_follower(engine, alice, add_remote_actor(engine, A, "pending", shared=False).uri, FollowState.PENDING)
    add_follower(
        engine, alice, add_remote_actor(engine, A, "rejected", shared=False).uri, FollowState.REJECTED
    )
    add_follower(engine, bruno, add_remote_actor(engine, A, "other", shared=False).uri)
    add_follower(engine, alice, add_remote_actor(engine, A, "ghost", shared=False, gone=True).uri)
    add_follower(engine, alice, bruno.uri)  # a local follower is served locally, never over HTTP
    add_follower(engine, alice, add_remote_actor(engine, B, "kept", shared=False).uri)
    publish_note(settings, engine, alice, to_followers=True)
    assert list(targets(engine)) == [B + "/users/kept/inbox"]


def test_an_uncached_follower_is_left_for_the_worker_to_resolve(
    settings: Settings, engine: Engine, alice: LocalActor
) -> None:
    add_follower(engine, alice, B + "/users/unknown")
    publish_note(settings, engine, alice, to_followers=True)
    (row,) = deliveries(engine)
    assert (row.target, row.inbox_url, row.domain) == (B + "/users/unknown", None, "b.example")


def test_explicit_recipients_and_inboxes(settings: Settings, engine: Engine, alice: LocalActor) -> None:
    bob = add_remote_actor(engine, A, "bob")
    carol = add_remote_actor(engine, A, "carol")
    erin = add_remote_actor(engine, B, "erin", shared=False)
    gone = add_remote_actor(engine, B, "gone", gone=True)
    recipients = [
        bob.uri,
        carol.uri,
        erin.uri,
        erin.uri,
        gone.uri,
        "https://c.example/users/new",
        alice.uri,
        *PUBLIC_ADDRESSES,
    ]
    publish_note(
        settings, engine, alice, recipients=recipients, inboxes=["https://relay.example/inbox", A + "/inbox"]
    )
    assert targets(engine) == {
        A + "/inbox": A + "/inbox",
        B + "/users/erin/inbox": B + "/users/erin/inbox",
        "https://c.example/users/new": None,
        "https://relay.example/inbox": "https://relay.example/inbox",
    }


def test_blocked_domains_get_nothing(settings: Settings, engine: Engine, alice: LocalActor) -> None:
    with session_scope(engine, write=True) as session:
        session.add(DomainBlock(domain="b.example"))
    add_follower(engine, alice, add_remote_actor(engine, A, "bob").uri)
    add_follower(engine, alice, add_remote_actor(engine, B, "erin").uri)
    add_follower(engine, alice, add_remote_actor(engine, "https://sub.b.example", "sub").uri)
    publish_note(
        settings,
        engine,
        alice,
        to_followers=True,
        recipients=["https://b.example:8443/users/x"],
        inboxes=["https://b.example/relay"],
    )
    assert list(targets(engine)) == [A + "/inbox"]


def test_nothing_is_stored_when_the_transaction_rolls_back(
    settings: Settings, engine: Engine, alice: LocalActor
) -> None:
    add_follower(engine, alice, add_remote_actor(engine, A, "bob").uri)
    with pytest.raises(RuntimeError), session_scope(engine, write=True) as session:
        publish(settings, actor=alice, activity={"type": "Create"}, to_followers=True, session=session)
        raise RuntimeError("the change being announced failed")
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(OutboxActivity)).one() == 0
        assert count_by_state(session=session)[DeliveryState.PENDING.value] == 0


def test_publish_writes_in_the_callers_transaction(
    settings: Settings, engine: Engine, alice: LocalActor
) -> None:
    add_follower(engine, alice, add_remote_actor(engine, A, "bob").uri)
    with Session(engine) as session:
        publish(settings, actor=alice, activity={"type": "Create"}, to_followers=True, session=session)
        # Not committed: another connection sees nothing yet.
        assert deliveries(engine) == []
        session.commit()
    assert len(deliveries(engine)) == 1


def test_cancel_for_domain(settings: Settings, engine: Engine, alice: LocalActor) -> None:
    inboxes = [
        "https://b.example/inbox",
        "https://b.example:8443/inbox",
        "https://sub.b.example/inbox",
        "https://notb.example/inbox",
        "https://a.example/inbox",
    ]
    publish_note(settings, engine, alice, inboxes=inboxes)
    publish_note(settings, engine, alice, inboxes=["https://b.example/inbox"])
    with session_scope(engine, write=True) as session:
        session.execute(
            update(Delivery).where(col(Delivery.id) == deliveries(engine)[-1].id).values(state="delivered")
        )
        assert cancel_for_domain("B.example", session=session) == 3
    states = {(d.inbox_url, d.state) for d in deliveries(engine)}
    assert states == {
        ("https://b.example/inbox", "cancelled"),
        ("https://b.example:8443/inbox", "cancelled"),
        ("https://sub.b.example/inbox", "cancelled"),
        ("https://notb.example/inbox", "pending"),
        ("https://a.example/inbox", "pending"),
        ("https://b.example/inbox", "delivered"),
    }
    with session_scope(engine, write=True) as session:
        assert (
            cancel_for_domain("a.example:8443", session=session) == 0
        )  # a port in the block: that port only
        assert cancel_for_domain("a.example", session=session) == 1
