"""Conversations with a group (issue 14): a message to one of our groups reaches its coordinators, from
this node or as a direct message from another server; a public post to the group is no conversation."""

from __future__ import annotations

from sqlalchemy import Engine

from node.activitypub.actors import local
from node.conversations import messages
from node.core import db
from node.core.errors import PermissionDenied
from node.core.timeutil import utcnow
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.groups import make_group

STRANGER = "https://elsewhere.example/users/zoe"


def test_a_message_to_a_group_reaches_its_coordinators(settings: Settings, engine: Engine) -> None:
    founder, member, alice = (
        make_user(engine, "founder"),
        make_user(engine, "member"),
        make_user(engine, "alice"),
    )
    make_group(engine, settings, founder, joining=(member,))
    group = local.group(settings, "coop").uri
    with db.session_scope(engine) as session:
        conversation, _ = messages.start(
            settings, alice, [group], "Faites-vous du jardinage ?", session=session
        )
        readers = {p.actor_uri for p in messages.participants(conversation.id or 0, session=session)}
    assert local.person(settings, founder).uri in readers  # the founder coordinates
    assert local.person(settings, member).uri not in readers  # a plain member does not read it
    with db.session_scope(engine) as session:
        assert messages.unread_total(founder.pk, session=session) == 1


def test_an_unknown_group_is_refused(settings: Settings, engine: Engine) -> None:
    alice = make_user(engine, "alice")
    with db.session_scope(engine) as session:
        try:
            messages.start(
                settings, alice, [local.group(settings, "nowhere").uri], "Bonjour", session=session
            )
        except PermissionDenied:
            return
    raise AssertionError("a message to a group that does not exist was accepted")


def test_a_direct_message_from_elsewhere_to_the_group_reaches_its_coordinators(
    settings: Settings, engine: Engine
) -> None:
    founder = make_user(engine, "founder")
    make_group(engine, settings, founder)
    group = local.group(settings, "coop").uri
    note = {
        "id": "https://elsewhere.example/notes/7",
        "type": "Note",
        "content": "<p>Bonjour</p>",
        "to": [group],
    }
    public = {
        **note,
        "id": "https://elsewhere.example/notes/8",
        "cc": ["https://www.w3.org/ns/activitystreams#Public"],
    }
    with db.session_scope(engine) as session:
        people = messages.addressed_people(settings, note, [], session=session)
        assert [p.username for p in people] == ["founder"]
        assert (
            messages.receive(settings, note, STRANGER, people, session=session, received=utcnow()) is not None
        )
        assert messages.addressed_people(settings, public, [], session=session) == []
