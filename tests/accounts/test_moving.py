"""One of our people moves to an account on another server (Mastodon-compatible): refused until the new
account lists this one in ``alsoKnownAs``, then ``Move`` to every follower and ``movedTo`` on the actor."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.accounts import actors, moving
from node.activitypub.actors import local
from node.activitypub.models import Delivery, Follow, FollowState, OutboxActivity, RemoteActor
from node.core import db
from node.core.errors import ValidationFailed
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.pages import login, post_form

NEW = "https://elsewhere.example/users/alice"
FOLLOWER = "https://bagnolet.example/users/bob"


def cache(engine: Engine, uri: str, **document: object) -> RemoteActor:
    domain = uri.split("/")[2]
    with db.session_scope(engine) as session:
        row = session.exec(select(RemoteActor).where(RemoteActor.uri == uri)).first() or RemoteActor(
            uri=uri, domain=domain, inbox=uri + "/inbox"
        )
        row.raw = json.dumps({"id": uri, "type": "Person", "inbox": uri + "/inbox", **document})
        session.add(row)
        session.flush()
        session.expunge(row)
        return row


def test_moving_needs_the_alias_then_tells_every_follower(settings: Settings, engine: Engine) -> None:
    alice = make_user(engine, "alice")
    me = local.person(settings, alice).uri
    cache(engine, FOLLOWER)
    with db.session_scope(engine) as session:
        session.add(
            Follow(
                follower_uri=FOLLOWER,
                followee_uri=me,
                activity_id=f"https://bagnolet.example/follows/{uuid.uuid4()}",
                state=FollowState.ACCEPTED.value,
                local_followee_id=alice.pk,
            )
        )
    target = cache(engine, NEW, alsoKnownAs=[])
    with pytest.raises(ValidationFailed), db.session_scope(engine) as session:
        moving.move_away(settings, alice, target, session=session)
    with db.session_scope(engine) as session:
        assert moving.moved_to(alice.pk, session=session) is None
        assert session.exec(select(OutboxActivity).where(OutboxActivity.type == "Move")).first() is None
    target = cache(engine, NEW, alsoKnownAs=[me])
    with db.session_scope(engine) as session:
        moving.move_away(settings, alice, target, session=session)
    with db.session_scope(engine) as session:
        sent = session.exec(select(OutboxActivity).where(OutboxActivity.type == "Move")).one()
        document = json.loads(sent.payload)
        assert (document["actor"], document["object"], document["target"]) == (me, me, NEW)
        inboxes = session.exec(select(Delivery.target).where(Delivery.outbox_id == sent.id)).all()
        assert FOLLOWER + "/inbox" in inboxes
        person = actors.person_document(settings, "alice", session=session, create_key=True)
        assert person is not None and person["movedTo"] == NEW
        assert {"movedTo": {"@id": "as:movedTo", "@type": "@id"}} in person["@context"]


def test_moving_to_an_account_of_this_node_is_refused(settings: Settings, engine: Engine) -> None:
    alice, other = make_user(engine, "alice"), make_user(engine, "alice2")
    with pytest.raises(ValidationFailed), db.session_scope(engine) as session:
        fake = RemoteActor(uri=local.person(settings, other).uri, domain=settings.domain, inbox="x", raw="{}")
        moving.move_away(settings, alice, fake, session=session)


def test_the_page_explains_and_refuses_a_local_target(client: TestClient, engine: Engine) -> None:
    make_user(engine, "alice")
    make_user(engine, "carol")
    login(client, "alice")
    page = client.get("/settings/move")
    assert page.status_code == 200 and "alice@testserver" in page.text
    refused = post_form(client, "/settings/move", {"target": "carol@testserver"})
    assert refused.status_code == 422
