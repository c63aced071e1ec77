"""The social graph's services and inbox handlers, on a real database: relays, answers to our follows,
undoing follows, and answers from actors that have no say."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.inbox.context import Outcome, ProcessingContext
from node.activitypub.models import Delivery, Follow, InboxActivity, OutboxActivity, Relay, RemoteActor
from node.activitypub.social import audience, follows, relays
from node.activitypub.vocab import parse_activity
from node.core import db
from node.core.errors import Conflict, NotFound, ValidationFailed
from node.settings import Settings
from node.worker import inbox_dispatcher
from tests.support.accounts import make_user

RELAY_INBOX = "https://relay.example/inbox"
BOB = "https://social.example/users/bob"


def _context(
    session: Session, settings: Settings, signer: str, activity: dict[str, Any]
) -> ProcessingContext:
    row = InboxActivity(
        activity_id=str(activity["id"]),
        actor_uri=signer,
        type=str(activity["type"]),
        payload=json.dumps(activity),
        key_id=signer + "#main-key",
    )
    return ProcessingContext(session=session, settings=settings, row=row)


def _process(session: Session, settings: Settings, signer: str, activity: dict[str, Any]) -> Outcome:
    """``activity`` signed by ``signer``, processed as the node's dispatcher processes a stored row."""
    signed = {"actor": signer, **activity}
    return inbox_dispatcher().dispatch(_context(session, settings, signer, signed), parse_activity(signed))


def _remote(session: Session, uri: str) -> RemoteActor:
    actor = RemoteActor(
        uri=uri,
        domain=addressing.domain_of(uri),
        inbox=uri + "/inbox",
        shared_inbox=addressing.origin(uri) + "/inbox",
        preferred_username=uri.rsplit("/", 1)[1],
    )
    session.add(actor)
    session.flush()
    return actor


def test_relay_subscription_and_its_answer(engine: Engine, settings: Settings) -> None:
    with db.session_scope(engine) as s:
        relay = relays.add_relay(settings, RELAY_INBOX, session=s)
        follow_id = relay.follow_activity_id
    with db.session_scope(engine) as s:
        outbox = s.exec(select(OutboxActivity)).one()
        sent = json.loads(outbox.payload)
        assert sent["type"] == "Follow" and sent["object"] == addressing.PUBLIC and sent["id"] == follow_id
        assert [d.inbox_url for d in s.exec(select(Delivery)).all()] == [RELAY_INBOX]
        with pytest.raises(Conflict):
            relays.add_relay(settings, RELAY_INBOX, session=s)
        with pytest.raises(ValidationFailed):
            relays.add_relay(settings, "ftp://relay.example/inbox", session=s)
    answer = {"id": "https://relay.example/activities/1", "type": "Accept", "object": follow_id}
    with db.session_scope(engine) as s:  # an Accept from anyone but the relay is ignored
        assert _process(s, settings, BOB, answer) == Outcome.IGNORED
    with db.session_scope(engine) as s:
        assert s.exec(select(Relay)).one().state == "pending"
        assert _process(s, settings, "https://relay.example/actor", answer) == Outcome.DONE
    with db.session_scope(engine) as s:
        assert audience.public_audience(settings, session=s) == ([], [RELAY_INBOX])
        relays.remove_relay(settings, RELAY_INBOX, session=s)
    with db.session_scope(engine) as s:
        assert s.exec(select(Relay)).all() == []
        undo = [json.loads(o.payload) for o in s.exec(select(OutboxActivity)).all() if o.type == "Undo"]
        assert undo and undo[0]["object"]["id"] == follow_id
        with pytest.raises(NotFound):
            relays.remove_relay(settings, RELAY_INBOX, session=s)


def test_only_the_followee_answers_and_only_the_follower_undoes(engine: Engine, settings: Settings) -> None:
    alice = make_user(engine, "alice")
    with db.session_scope(engine) as s:
        bob = _remote(s, BOB)
        eve = _remote(s, "https://evil.example/users/eve")
        row = follows.follow(settings, follower=local.person(settings, alice), target=bob, session=s)
        follow_id = row.activity_id
        eve_uri = eve.uri
    forged = {"id": "https://evil.example/a/1", "type": "Accept", "object": follow_id}
    with db.session_scope(engine) as s:
        assert _process(s, settings, eve_uri, forged) == Outcome.IGNORED
    with db.session_scope(engine) as s:
        assert s.exec(select(Follow)).one().state == "pending"
        real = {
            "id": "https://social.example/a/1",
            "type": "Accept",
            "object": {"type": "Follow", "actor": local.person(settings, alice).uri, "object": BOB},
        }
        assert _process(s, settings, BOB, real) == Outcome.DONE
    with db.session_scope(engine) as s:
        assert s.exec(select(Follow)).one().state == "accepted"
    # Bob follows Alice; an Undo signed by someone else does nothing, Bob's own removes the follow.
    follow = {
        "id": "https://social.example/a/2",
        "type": "Follow",
        "object": local.person(settings, alice).uri,
    }
    with db.session_scope(engine) as s:
        assert _process(s, settings, BOB, follow) == Outcome.DONE
    with db.session_scope(engine) as s:
        accept_sent = [
            json.loads(o.payload) for o in s.exec(select(OutboxActivity)).all() if o.type == "Accept"
        ]
        assert accept_sent and accept_sent[0]["object"]["id"] == follow["id"]
        undo = {"id": "https://evil.example/a/3", "type": "Undo", "object": follow["id"]}
        assert _process(s, settings, eve_uri, undo) == Outcome.IGNORED
    with db.session_scope(engine) as s:
        assert len(s.exec(select(Follow)).all()) == 2
        undo = {"id": "https://social.example/a/3", "type": "Undo", "object": follow["id"]}
        assert _process(s, settings, BOB, undo) == Outcome.DONE
    with db.session_scope(engine) as s:
        assert [f.follower_uri for f in s.exec(select(Follow)).all()] == [local.person(settings, alice).uri]


def test_follow_of_someone_not_here_is_ignored(engine: Engine, settings: Settings) -> None:
    follow = {"id": "https://social.example/a/9", "type": "Follow", "object": settings.url("/users/nobody")}
    with db.session_scope(engine) as s:
        assert _process(s, settings, BOB, follow) == Outcome.IGNORED
        assert s.exec(select(Follow)).all() == []
