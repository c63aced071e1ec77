"""Domain blocks: one rule of what a block covers (the domain, its ports, its subdomains), the same when
blocking (deliveries, follows, pending inbox rows) as at the inbox and in deliveries."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.activitypub import moderation
from node.activitypub.actors.remote import covers
from node.activitypub.models import Delivery, Follow, InboxActivity
from node.core.db import session_scope
from node.core.errors import Conflict, ValidationFailed
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.delivery import add_follower, add_remote_actor, local_person, publish_note


def test_what_a_block_covers() -> None:
    assert covers("example.org", "example.org") and covers("example.org", "example.org:8443")
    assert covers("example.org", "social.example.org") and covers("example.org", "a.b.example.org:81")
    assert not covers("example.org", "notexample.org") and not covers("example.org", "example.org.evil")
    assert covers("example.org:8443", "example.org:8443") and not covers("example.org:8443", "example.org")
    assert covers("10.0.0.1", "10.0.0.1:8080") and not covers("0.0.1", "10.0.0.1")


def _store(engine: Engine, actor_uri: str, state: str = "pending") -> None:
    activity = {"id": actor_uri + "/a/1", "type": "Follow", "actor": actor_uri, "object": "x"}
    with session_scope(engine) as session:
        session.add(
            InboxActivity(
                activity_id=activity["id"],
                actor_uri=actor_uri,
                type="Follow",
                payload=json.dumps(activity),
                key_id=actor_uri + "#main-key",
                state=state,
            )
        )


def test_a_block_covers_subdomains_and_ports_everywhere(settings: Settings, engine: Engine) -> None:
    make_user(engine, "alice")
    alice = local_person(settings, engine, "alice")
    near = add_remote_actor(engine, "https://social.example.org:8443", "bob", shared=False)
    same = add_remote_actor(engine, "https://example.org", "carla", shared=False)
    other = add_remote_actor(engine, "https://notexample.org", "dan", shared=False)
    tricky = add_remote_actor(engine, "https://evil.example/example.org", "eve", shared=False)
    for actor in (near, same, other, tricky):
        add_follower(engine, alice, actor.uri)
    publish_note(settings, engine, alice, to_followers=True)
    _store(engine, near.uri)
    _store(engine, other.uri)
    _store(engine, "https://example.org:9/users/fred", state="done")
    with session_scope(engine) as session:
        result = moderation.block_domain("Example.org", reason="spam", session=session)
    assert (result.domain, result.cancelled_deliveries, result.removed_follows, result.dropped_inbox) == (
        "example.org",
        2,
        2,
        1,
    )
    with Session(engine) as session:
        states = {d.domain: d.state for d in session.exec(select(Delivery)).all()}
        followers = set(session.exec(select(Follow.follower_uri)).all())
        inbox = {row.actor_uri: row.state for row in session.exec(select(InboxActivity))}
        done = session.exec(select(InboxActivity).where(col(InboxActivity.state) == "done")).one()
    assert states == {
        "social.example.org:8443": "cancelled",
        "example.org": "cancelled",
        "notexample.org": "pending",
        "evil.example": "pending",
    }
    assert followers == {other.uri, tricky.uri}
    assert inbox[near.uri] == "ignored" and inbox[other.uri] == "pending" and done.error == ""
    with session_scope(engine) as session:
        with pytest.raises(Conflict):
            moderation.block_domain("example.org", session=session)
        with pytest.raises(ValidationFailed):
            moderation.block_domain("not a domain!", session=session)
