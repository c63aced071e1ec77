"""Messages between people of one node, blocks, and the rules a message must follow."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from node.accounts import blocks
from node.accounts import service as accounts
from node.activitypub.models import OutboxActivity
from node.conversations import messages
from node.conversations.models import Conversation, Message
from node.core import db
from node.core.errors import PermissionDenied, Throttled, ValidationFailed
from node.market.bids import service as bids
from node.market.models import Notification
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.market import make_proposal


def test_two_people_of_one_node_write_to_each_other(settings: Settings, engine: Engine) -> None:
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    with db.session_scope(engine) as session:
        conversation, _ = messages.start(
            settings, alice, [settings.url("/users/bob")], "Bonjour <b>Bob</b>\n\nÀ demain", session=session
        )
        conversation_id = conversation.id
    assert conversation_id is not None
    with db.session_scope(engine) as session:
        (summary,) = messages.conversations_of(bob.pk, session=session)
        assert summary.unread == 1 and summary.others == (settings.url("/users/alice"),)
        assert messages.unread_total(bob.pk, session=session) == 1
        assert messages.unread_total(alice.pk, session=session) == 0
        assert session.exec(select(Notification.kind)).all() == ["message"]
        _, _, shown = messages.thread(settings, bob.pk, conversation_id, session=session)
        assert [s.text for s in shown] == ["Bonjour Bob\n\nÀ demain"]
        messages.reply(settings, bob, conversation_id, "Merci !", session=session)
    with db.session_scope(engine) as session:
        assert messages.unread_total(bob.pk, session=session) == 0
        assert messages.unread_total(alice.pk, session=session) == 1
        assert session.exec(select(OutboxActivity)).all() == []  # nobody elsewhere: nothing federated
        raw = session.exec(select(Message.sealed_text)).all()
        assert all("Bonjour" not in text and "Merci" not in text for text in raw)
    carol = make_user(engine, "carol")
    with db.session_scope(engine) as session, pytest.raises(Exception, match="conversation"):
        messages.thread(settings, carol.pk, conversation_id, session=session)


@pytest.mark.parametrize(
    ("recipients", "text", "field"),
    [
        ([], "Bonjour", "to"),
        (["https://b.example/users/x"], "   <script>alert(1)</script>  ", "text"),
        (["https://b.example/users/x"], "a" * 5001, "text"),
        ([f"https://b.example/users/{n}" for n in range(21)], "Bonjour", "to"),
        (["not a uri"], "Bonjour", "to"),
    ],
)
def test_bad_messages_are_refused_and_store_nothing(
    settings: Settings, engine: Engine, recipients: list[str], text: str, field: str
) -> None:
    alice = make_user(engine, "alice")
    with db.session_scope(engine) as session, pytest.raises(ValidationFailed) as refused:
        messages.start(settings, alice, recipients, text, session=session)
    assert field in refused.value.fields
    with Session(engine) as session:
        assert session.exec(select(Conversation)).all() == []
        assert session.exec(select(OutboxActivity)).all() == []


def test_blocked_suspended_and_deleted_people_cannot_be_written_to(
    settings: Settings, engine: Engine
) -> None:
    alice, bob, dora = make_user(engine, "alice"), make_user(engine, "bob"), make_user(engine, "dora")
    with db.session_scope(engine) as session:
        blocks.block(bob.pk, settings.url("/users/bob"), settings.url("/users/alice"), session=session)
        accounts.suspend(accounts.get_user("dora", session=session), session=session)
    for name in ("bob", "dora", "nobody"):
        with db.session_scope(engine) as session, pytest.raises(PermissionDenied):
            messages.start(settings, alice, [settings.url(f"/users/{name}")], "Bonjour", session=session)
    assert dora.username == "dora"
    with db.session_scope(engine) as session:
        blocks.unblock(bob.pk, settings.url("/users/alice"), session=session)
        messages.start(settings, alice, [settings.url("/users/bob")], "Bonjour", session=session)


def test_blocking_stops_answers_to_the_blocker_s_proposals(settings: Settings, engine: Engine) -> None:
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    with db.session_scope(engine) as session:
        user = session.get(type(bob), bob.pk)
        assert user is not None
        user.provider_status = "self_employed"
        proposal = make_proposal(session, settings, alice)
        blocks.block(alice.pk, settings.url("/users/alice"), settings.url("/users/bob"), session=session)
    with db.session_scope(engine) as session, pytest.raises(PermissionDenied, match="does not take"):
        bids.place_bid(settings, bob, session.merge(proposal), bids.BidInput(), session=session)


def test_the_hourly_message_limit(settings: Settings, engine: Engine) -> None:
    alice = make_user(engine, "alice")
    make_user(engine, "bob")
    limited = settings.replace(limit_messages_per_person_hour=2)
    with db.session_scope(engine) as session:
        conversation, _ = messages.start(limited, alice, [settings.url("/users/bob")], "Un", session=session)
        assert conversation.id is not None
        messages.reply(limited, alice, conversation.id, "Deux", session=session)
    with db.session_scope(engine) as session, pytest.raises(Throttled):
        messages.reply(limited, alice, conversation.id, "Trois", session=session)
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 2
