"""Likes, boosts and mentions of our proposals from other servers (Mastodon's ``Like`` and ``Announce``,
and their ``Undo``; notes that link a proposal): likes and boosts counted once per actor, taken back by
an undo, mentions once per actor and note; shown to the author only."""

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
from node.conversations import messages
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
        assert reactions.counts(pid, session=session) == {"like": 2, "boost": 1, "mention": 0}
    undo = {"id": BOB + "#likes/1/undo", "type": "Undo", "actor": BOB, "object": like}
    assert receive(undo) is Outcome.DONE
    forged = {"id": CAROL + "/undo/1", "type": "Undo", "actor": CAROL, "object": {**boost, "actor": CAROL}}
    assert receive(forged) is Outcome.IGNORED  # only its own reaction can be undone
    with db.session_scope(engine) as session:
        assert reactions.counts(pid, session=session) == {"like": 1, "boost": 1, "mention": 0}


def note(actor: str, number: int, **fields: Any) -> dict[str, Any]:
    """A public ``Create(Note)`` of ``actor``, as Mastodon sends one."""
    uri = f"{actor}/statuses/{number}"
    return {
        "id": uri + "/activity",
        "type": "Create",
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": uri,
            "type": "Note",
            "attributedTo": actor,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "content": "<p>Bonjour</p>",
            **fields,
        },
    }


def test_notes_linking_a_proposal_count_once_per_actor_and_note(settings: Settings, engine: Engine) -> None:
    alice = make_user(engine, "alice")
    with db.session_scope(engine) as session:
        proposal = make_proposal(session, settings, alice)
        other = make_proposal(session, settings, alice)
        pid, ap_id, other_id = proposal.id or 0, proposal.ap_id, other.id or 0
    receive = receiver(engine, settings)
    linked = f'<p>Vu ici : <a href="{ap_id}" rel="nofollow">{ap_id}</a>, et <a href="{ap_id}#x">là</a></p>'
    assert receive(note(BOB, 1, content=linked)) is Outcome.DONE
    assert receive(note(BOB, 1, content=linked)) is Outcome.DONE  # the same note again: still one
    assert receive(note(BOB, 2, content=f"<a href='{ap_id}?utm=x'>encore</a>")) is Outcome.DONE
    tagged = note(CAROL, 7, tag=[{"type": "Link", "href": ap_id}, {"type": "Mention", "href": other.ap_id}])
    assert receive(tagged) is Outcome.DONE
    # A proposal of another node, an address that only looks like ours, a note said to be someone else's:
    assert receive(note(BOB, 3, content='<a href="https://elsewhere.example/proposals/1">x</a>')) is (
        Outcome.IGNORED
    )
    assert receive(note(BOB, 4, content=f'<a href="{ap_id}-not">x</a>')) is Outcome.IGNORED
    forged = note(CAROL, 8, content=linked)
    forged["object"]["attributedTo"] = BOB
    assert receive(forged) is Outcome.IGNORED
    with db.session_scope(engine) as session:
        assert reactions.counts(pid, session=session) == {"like": 0, "boost": 0, "mention": 3}
        assert reactions.counts(other_id, session=session)["mention"] == 1


def test_a_direct_message_linking_a_proposal_is_counted_and_delivered(
    settings: Settings, engine: Engine
) -> None:
    alice = make_user(engine, "alice")
    with db.session_scope(engine) as session:
        pid, ap_id = (row := make_proposal(session, settings, alice)).id or 0, row.ap_id
    me = settings.url("/users/alice")
    message = note(BOB, 9, content=f'<p>Est-ce encore libre ? <a href="{ap_id}">{ap_id}</a></p>', to=[me])
    message["to"] = [me]
    message["object"]["tag"] = [{"type": "Mention", "href": me}]
    assert receiver(engine, settings)(message) is Outcome.DONE
    with db.session_scope(engine) as session:
        assert reactions.counts(pid, session=session)["mention"] == 1
        assert [
            c.conversation.subject_uri for c in messages.conversations_of(alice.pk, session=session)
        ] != []


def test_the_author_sees_the_counts(settings: Settings, engine: Engine, client: TestClient) -> None:
    alice = make_user(engine, "alice")
    make_user(engine, "dan")
    with db.session_scope(engine) as session:
        ap_id = make_proposal(session, settings, alice).ap_id
    receiver(engine, settings)({"id": BOB + "#likes/1", "type": "Like", "actor": BOB, "object": ap_id})
    path = ap_id.removeprefix(settings.base_url)
    login(client, "alice")
    assert "1 j’aime" in client.get(path).text or "1 j'aime" in client.get(path).text
    assert "0 mention" in client.get(path).text
    client.cookies.clear()
    login(client, "dan")
    assert "j’aime" not in client.get(path).text and "j'aime" not in client.get(path).text
