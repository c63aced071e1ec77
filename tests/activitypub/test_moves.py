"""``Move`` of a followed account (Mastodon's account migration): our people's follows move to the new
account, only when it lists the old one in ``alsoKnownAs``."""

from __future__ import annotations

import asyncio
import json
import uuid

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.activitypub.actors.remote import RemoteActors
from node.activitypub.inbox.processing import InboxJob
from node.activitypub.models import Follow, FollowState, InboxActivity, OutboxActivity
from node.activitypub.social.moves import also_known_as
from node.core.db import session_scope
from node.settings import Settings
from node.worker import inbox_dispatcher
from tests.support.accounts import make_user
from tests.support.actors import (  # noqa: F401 - fixtures used by name
    ActorServer,
    RemoteTestActor,
    actor_on,
    actor_server_fixture,
    loopback_settings_fixture,
)


def follow_of(settings: Settings, engine: Engine, username: str, followee: str) -> None:
    user = make_user(engine, username)
    with session_scope(engine) as session:
        session.add(
            Follow(
                follower_uri=settings.url(f"/users/{username}"),
                followee_uri=followee,
                activity_id=settings.url(f"/activities/{uuid.uuid4()}"),
                local_follower_id=user.pk,
                state=FollowState.ACCEPTED.value,
            )
        )


def receive_move(settings: Settings, engine: Engine, old: RemoteTestActor, new: RemoteTestActor) -> str:
    """Store ``old``'s ``Move`` to ``new`` as the inbox does, process it; the row's final state."""
    move = old.activity("Move", object=old.uri, target=new.uri)
    with session_scope(engine) as session:
        session.add(
            InboxActivity(
                activity_id=move["id"],
                actor_uri=old.uri,
                type="Move",
                payload=json.dumps(move),
                key_id=old.key_id,
            )
        )

    async def main() -> None:
        remote = RemoteActors(settings, engine)
        job = InboxJob(settings, engine, remote=remote, dispatcher=inbox_dispatcher())
        try:
            while await job.run_once():
                pass
        finally:
            await job.aclose()
            await remote.aclose()

    asyncio.run(main())
    with Session(engine) as session:
        return session.exec(select(InboxActivity.state)).one()


def test_follows_move_to_the_account_that_lists_the_old_one(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    old = actor_on(actor_server, "amina")
    new = actor_on(actor_server, "amina-new", key_number=1)
    new.publish(alsoKnownAs=[old.uri])
    old.publish(movedTo=new.uri)
    follow_of(loopback_settings, engine, "bob", old.uri)
    assert receive_move(loopback_settings, engine, old, new) == "done"
    with Session(engine) as session:
        rows = session.exec(select(Follow.followee_uri, Follow.state)).all()
        sent = [
            json.loads(p)
            for p in session.exec(select(OutboxActivity.payload).order_by(col(OutboxActivity.id)))
        ]
    assert rows == [(new.uri, FollowState.PENDING.value)]
    assert [(a["type"], a["object"] if a["type"] == "Follow" else a["object"]["object"]) for a in sent] == [
        ("Undo", old.uri),
        ("Follow", new.uri),
    ]


def test_a_move_whose_target_does_not_list_the_source_changes_nothing(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    old = actor_on(actor_server, "amina")
    impostor = actor_on(actor_server, "someone-else", key_number=1)
    follow_of(loopback_settings, engine, "bob", old.uri)
    assert receive_move(loopback_settings, engine, old, impostor) == "failed"
    with Session(engine) as session:
        assert session.exec(select(Follow.followee_uri)).all() == [old.uri]
        assert session.exec(select(OutboxActivity)).all() == []


def test_also_known_as_shapes() -> None:
    assert also_known_as({"alsoKnownAs": "https://a.example/u/x"}) == {"https://a.example/u/x"}
    assert also_known_as({"alsoKnownAs": [{"id": "https://a.example/u/x"}, 3]}) == {"https://a.example/u/x"}
    assert also_known_as({}) == set()
