"""Likes and boosts of our proposals from other servers (Mastodon's ``Like`` and ``Announce``, and their
``Undo``): counted once per actor, taken back by an undo, shown to the author only."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from node.activitypub.inbox.context import Outcome, ProcessingContext
from node.activitypub.models import InboxActivity
from node.activitypub.vocab import parse_activity
from node.core import db
from node.market.proposals import reactions
from node.settings import Settings
from node.worker import inbox_dispatcher
from tests.support.accounts import make_user
from tests.support.market import make_proposal
from tests.support.pages import login

BOB = "https://mastodon.example/users/bob"
CAROL = "https://misskey.example/users/carol"


def receiver(engine: Engine, settings: Settings) -> Callable[[dict[str, Any]], Outcome]:
    def receive(data: dict[str, Any]) -> Outcome:
        with Session(engine, expire_on_commit=False) as session:
            row = InboxActivity(
                activity_id=data["id"],
                actor_uri=data["actor"],
                type=data["type"],
                payload=json.dumps(data),
                key_id=data["actor"] + "#main-key",
            )
            ctx = ProcessingContext(session, settings, row, {})
            outcome = inbox_dispatcher().dispatch(ctx, parse_activity(copy.deepcopy(data)))
            session.commit()
            return outcome

    return receive


def test_likes_and_boosts_are_counted_once_and_undone(settings: Settings, engine: Engine) -> None:
    alice = make_user(engine, "alice")
    with db.session_scope(engine) as session:
        proposal = make_proposal(session, settings, alice)
        pid, ap_id = proposal.id or 0, proposal.ap_id
    receive = receiver(engine, settings)
    like = {"id": BOB + "#likes/1", "type": "Like", "actor": BOB, "object": ap_id}
    assert receive(like) is Outcome.DONE
    assert receive({**like, "id": BOB + "#likes/2"}) is Outcome.DONE  # the same actor again: still one
    assert (
        receive({"id": CAROL + "/likes/9", "type": "Like", "actor": CAROL, "object": ap_id}) is Outcome.DONE
    )
    boost = {
        "id": BOB + "/statuses/5/activity",
        "type": "Announce",
        "actor": BOB,
        "object": ap_id,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    }
    assert receive(boost) is Outcome.DONE
    stranger = {
        "id": BOB + "#likes/3",
        "type": "Like",
        "actor": BOB,
        "object": "https://elsewhere.example/p/1",
    }
    assert receive(stranger) is Outcome.IGNORED
    with db.session_scope(engine) as session:
        assert reactions.counts(pid, session=session) == {"like": 2, "boost": 1}
    undo = {"id": BOB + "#likes/1/undo", "type": "Undo", "actor": BOB, "object": like}
    assert receive(undo) is Outcome.DONE
    forged = {"id": CAROL + "/undo/1", "type": "Undo", "actor": CAROL, "object": {**boost, "actor": CAROL}}
    assert receive(forged) is Outcome.IGNORED  # only its own reaction can be undone
    with db.session_scope(engine) as session:
        assert reactions.counts(pid, session=session) == {"like": 1, "boost": 1}


def test_the_author_sees_the_counts(settings: Settings, engine: Engine, client: TestClient) -> None:
    alice = make_user(engine, "alice")
    make_user(engine, "dan")
    with db.session_scope(engine) as session:
        ap_id = make_proposal(session, settings, alice).ap_id
    receiver(engine, settings)({"id": BOB + "#likes/1", "type": "Like", "actor": BOB, "object": ap_id})
    path = ap_id.removeprefix(settings.base_url)
    login(client, "alice")
    assert "1 j’aime" in client.get(path).text or "1 j'aime" in client.get(path).text
    client.cookies.clear()
    login(client, "dan")
    assert "j’aime" not in client.get(path).text and "j'aime" not in client.get(path).text
