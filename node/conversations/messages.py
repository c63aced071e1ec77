"""Messages between people, as the fediverse writes direct messages.

A message is a ``Note`` addressed only to the other participants (``to``, plus a ``Mention`` tag for
each, which is how Mastodon shows a direct message), never to the public or to followers, threaded with
``inReplyTo`` (the previous message) and ``context`` (the conversation's URI); ``about`` (schema.org)
names the proposal, bid or agreement it is about. Writing here stores it, sealed, and publishes
``Create(Note)`` to the participants of other servers in the same transaction; our people read it in
their conversations. A ``Note`` received from any server that names one of our people (addressed or
mentioned) lands in their conversations (:func:`receive`), unless they blocked its author.

Rules: at most :data:`TEXT_MAX` characters, plain text (any markup is dropped), at most
:data:`RECIPIENTS_MAX` other participants, no message to someone who blocked the author or whose account
is suspended or deleted, and the per-person hourly limit (``messages per person per hour``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from node.accounts import blocks
from node.accounts.models import User
from node.activitypub import addressing, moderation
from node.activitypub.actors import local
from node.activitypub.models import RemoteActor
from node.activitypub.outbox.publish import publish
from node.conversations.models import Conversation, Message, Participant
from node.core import limits
from node.core.errors import N_, NotFound, PermissionDenied, ValidationFailed
from node.core.sealing import seal, unseal
from node.core.text import html_to_text, plain_text, text_to_html
from node.core.timeutil import isoformat, utcnow
from node.groups import records as group_records
from node.market.notifications import Kind, notify
from node.settings import Settings

TEXT_MAX = 5000
RECIPIENTS_MAX = 20
SEAL_PURPOSE = "message/1"
SCHEMA = "http://schema.org/"
NOTE_CONTEXT: list[Any] = [
    addressing.AS_CONTEXT,
    {"schema": SCHEMA, "about": {"@id": "schema:about", "@type": "@id"}},
]

MSG_EMPTY = N_("Write a message.")
MSG_TOO_LONG = N_("A message has at most 5,000 characters.")
MSG_NO_RECIPIENT = N_("Say who the message is for.")
MSG_TOO_MANY = N_("A conversation has at most 20 other people.")
MSG_UNREACHABLE = N_("This person cannot receive your messages.")
MSG_NO_CONVERSATION = N_("No such conversation.")


@dataclass(frozen=True)
class Summary:
    """A conversation in someone's list: who else is in it, when it last moved, what they have not read."""

    conversation: Conversation
    others: tuple[str, ...]
    unread: int
    last_at: datetime


@dataclass(frozen=True)
class Shown:
    """A message as its reader sees it (text unsealed; a hidden one has no text)."""

    message: Message
    text: str
    mine: bool


# --- reading ----------------------------------------------------------------------------------------------


def _seal(settings: Settings, text: str) -> str:
    return seal(settings.secret_key, SEAL_PURPOSE, text.encode("utf-8"))


def text_of(settings: Settings, message: Message) -> str:
    return unseal(settings.secret_key, SEAL_PURPOSE, message.sealed_text).decode("utf-8")


def participants(conversation_id: int, *, session: Session) -> Sequence[Participant]:
    return session.exec(
        select(Participant)
        .where(col(Participant.conversation_id) == conversation_id)
        .order_by(col(Participant.id))
    ).all()


def _membership(conversation_id: int, user_id: int, *, session: Session) -> Participant:
    row = session.exec(
        select(Participant).where(
            col(Participant.conversation_id) == conversation_id, col(Participant.user_id) == user_id
        )
    ).first()
    if row is None:
        raise NotFound(MSG_NO_CONVERSATION)
    return row


def _unread_filter(user_id: int) -> Any:
    return (
        (col(Participant.user_id) == user_id)
        & (col(Message.author_user_id).is_(None) | (col(Message.author_user_id) != user_id))
        & col(Message.hidden_at).is_(None)
        & (
            col(Participant.last_read_at).is_(None)
            | (col(Message.created_at) > col(Participant.last_read_at))
        )
    )


def unread_total(user_id: int, *, session: Session) -> int:
    """Messages ``user_id`` has not read, in all their conversations."""
    return session.exec(
        select(func.count())
        .select_from(Message)
        .join(Participant, col(Participant.conversation_id) == col(Message.conversation_id))
        .where(_unread_filter(user_id))
    ).one()


def conversations_of(user_id: int, *, session: Session, limit: int = 50) -> list[Summary]:
    """``user_id``'s conversations, the latest first, with their unread counts."""
    rows = session.exec(
        select(Conversation)
        .join(Participant, col(Participant.conversation_id) == col(Conversation.id))
        .where(col(Participant.user_id) == user_id)
        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
        .limit(limit)
    ).all()
    unread = dict(
        session.exec(
            select(Message.conversation_id, func.count())
            .join(Participant, col(Participant.conversation_id) == col(Message.conversation_id))
            .where(_unread_filter(user_id))
            .group_by(col(Message.conversation_id))
        ).all()
    )
    summaries = []
    for row in rows:
        assert row.id is not None
        others = tuple(p.actor_uri for p in participants(row.id, session=session) if p.user_id != user_id)
        summaries.append(Summary(row, others, unread.get(row.id, 0), row.updated_at))
    return summaries


def thread(
    settings: Settings, user_id: int, conversation_id: int, *, session: Session, mark_read: bool = True
) -> tuple[Conversation, Sequence[Participant], list[Shown]]:
    """A conversation of ``user_id``, its participants and its messages (oldest first); marks it read."""
    membership = _membership(conversation_id, user_id, session=session)
    conversation = session.get(Conversation, conversation_id)
    assert conversation is not None
    messages = session.exec(
        select(Message)
        .where(col(Message.conversation_id) == conversation_id)
        .order_by(col(Message.created_at), col(Message.id))
    ).all()
    shown = [
        Shown(m, "" if m.hidden_at is not None else text_of(settings, m), m.author_user_id == user_id)
        for m in messages
    ]
    if mark_read:
        membership.last_read_at = utcnow()
        session.add(membership)
    return conversation, participants(conversation_id, session=session), shown


def message_by_uri(uri: str, *, session: Session) -> Message | None:
    return session.exec(select(Message).where(col(Message.uri) == uri)).first()


def conversation_by_uri(uri: str, *, session: Session) -> Conversation | None:
    return session.exec(select(Conversation).where(col(Conversation.uri) == uri)).first()


def conversations_about(user_id: int, subject_uri: str, *, session: Session) -> Sequence[Conversation]:
    """``user_id``'s conversations about a proposal, bid or agreement."""
    return session.exec(
        select(Conversation)
        .join(Participant, col(Participant.conversation_id) == col(Conversation.id))
        .where(col(Participant.user_id) == user_id, col(Conversation.subject_uri) == subject_uri)
        .order_by(col(Conversation.updated_at).desc())
    ).all()


# --- writing ----------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    cleaned = plain_text(text or "", TEXT_MAX + 1, multiline=True)
    if not cleaned:
        raise ValidationFailed(MSG_EMPTY, fields={"text": MSG_EMPTY})
    if len(cleaned) > TEXT_MAX:
        raise ValidationFailed(MSG_TOO_LONG, fields={"text": MSG_TOO_LONG})
    return cleaned


def _local_person(settings: Settings, uri: str, *, session: Session) -> User | None:
    """Our person at ``uri`` if the account exists and is active."""
    username = local.local_username(settings, uri)
    if username is None:
        return None
    user = session.exec(select(User).where(col(User.username) == username)).first()
    return user if user is not None and user.is_active else None


def _check_reachable(
    settings: Settings, author_uri: str, recipients: Sequence[str], *, session: Session
) -> None:
    for uri in recipients:
        if local.is_local(settings, uri):
            person = _local_person(settings, uri, session=session)
            if person is None or blocks.is_blocked(person.pk, author_uri, session=session):
                raise PermissionDenied(MSG_UNREACHABLE)
            if not moderation.reaches(author_uri, uri, session=session):  # a limited author
                raise PermissionDenied(MSG_UNREACHABLE)
        elif not addressing.is_uri(uri):
            raise ValidationFailed(MSG_NO_RECIPIENT, fields={"to": MSG_NO_RECIPIENT})


def _to_coordinators(
    settings: Settings, recipients: Sequence[str], *, session: Session, strict: bool = True
) -> list[str]:
    """``recipients`` with each of our groups replaced by its coordinators (a person writes to a group:
    whoever coordinates it reads and answers). An unknown group is refused when ``strict``, else dropped."""
    found: list[str] = []
    for uri in recipients:
        name = local.local_group_name(settings, uri)
        if name is None:
            found.append(uri)
            continue
        group = group_records.by_name(name, session=session)
        if group is None:
            if strict:
                raise PermissionDenied(MSG_UNREACHABLE)
            continue
        found.extend(row.member_uri for row in group_records.coordinators(group, session=session))
    return list(dict.fromkeys(found))


def _add_participant(conversation: Conversation, uri: str, user_id: int | None, *, session: Session) -> None:
    assert conversation.id is not None
    existing = session.exec(
        select(Participant.id).where(
            col(Participant.conversation_id) == conversation.id, col(Participant.actor_uri) == uri
        )
    ).first()
    if existing is None:
        session.add(Participant(conversation_id=conversation.id, actor_uri=uri, user_id=user_id))
        session.flush()


def start(
    settings: Settings,
    author: User,
    recipients: Sequence[str],
    text: str,
    *,
    session: Session,
    subject_uri: str | None = None,
    subject_title: str = "",
) -> tuple[Conversation, Message]:
    """``author`` writes to ``recipients`` (actor URIs, ours or of other servers): a new conversation."""
    me = local.person(settings, author).uri
    named = [uri for uri in dict.fromkeys(r.strip() for r in recipients) if uri]
    if len(named) > RECIPIENTS_MAX:
        raise ValidationFailed(MSG_TOO_MANY, fields={"to": MSG_TOO_MANY})
    wanted = [uri for uri in _to_coordinators(settings, named, session=session) if uri != me]
    if not wanted:
        raise ValidationFailed(MSG_NO_RECIPIENT, fields={"to": MSG_NO_RECIPIENT})
    if len(wanted) > RECIPIENTS_MAX:
        raise ValidationFailed(MSG_TOO_MANY, fields={"to": MSG_TOO_MANY})
    cleaned = _clean(text)
    _check_reachable(settings, me, wanted, session=session)
    conversation = Conversation(
        uri=settings.url(f"/conversations/{uuid.uuid4()}"),
        subject_uri=subject_uri,
        subject_title=plain_text(subject_title, 200),
    )
    session.add(conversation)
    session.flush()
    _add_participant(conversation, me, author.pk, session=session)
    for uri in wanted:
        person = _local_person(settings, uri, session=session)
        _add_participant(conversation, uri, person.pk if person else None, session=session)
    return conversation, _write(settings, author, conversation, cleaned, None, session=session)


def reply(settings: Settings, author: User, conversation_id: int, text: str, *, session: Session) -> Message:
    """``author`` answers in one of their conversations (to everyone else in it)."""
    membership = _membership(conversation_id, author.pk, session=session)
    cleaned = _clean(text)
    conversation = session.get(Conversation, conversation_id, with_for_update=True)
    assert conversation is not None
    others = [p.actor_uri for p in participants(conversation_id, session=session) if p.id != membership.id]
    _check_reachable(settings, membership.actor_uri, others, session=session)
    last = session.exec(
        select(Message.uri)
        .where(col(Message.conversation_id) == conversation_id)
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
    ).first()
    return _write(settings, author, conversation, cleaned, last, session=session)


def _notify(user_id: int, conversation: Conversation, author: str, *, session: Session) -> None:
    notify(
        user_id,
        Kind.MESSAGE,
        object_uri=conversation.uri,
        actor_uri=author,
        data={"href": f"/conversations/{conversation.id}", "title": conversation.subject_title},
        session=session,
    )


def mention_name(uri: str, *, session: Session) -> str:
    """How a ``Mention`` of ``uri`` reads: ``@user@host`` when its actor is known, else its URI."""
    cached = session.exec(select(RemoteActor).where(col(RemoteActor.uri) == uri)).first()
    return "@" + cached.handle if cached is not None and cached.preferred_username else uri


def _write(
    settings: Settings,
    author: User,
    conversation: Conversation,
    text: str,
    in_reply_to: str | None,
    *,
    session: Session,
) -> Message:
    limits.hit(settings, "messages per person per hour", author.pk, session=session)
    actor = local.person(settings, author)
    now = utcnow()
    assert conversation.id is not None
    message = Message(
        conversation_id=conversation.id,
        uri=settings.url(f"/messages/{uuid.uuid4()}"),
        author_uri=actor.uri,
        author_user_id=author.pk,
        in_reply_to=in_reply_to,
        sealed_text=_seal(settings, text),
        created_at=now,
    )
    session.add(message)
    conversation.updated_at = now
    session.add(conversation)
    assert conversation.id is not None
    members = participants(conversation.id, session=session)
    for member in members:
        if member.user_id == author.pk:
            member.last_read_at = now
            session.add(member)
    for member in members:
        if member.user_id is not None and member.user_id != author.pk:
            _notify(member.user_id, conversation, actor.uri, session=session)
    remote = [m.actor_uri for m in members if m.user_id is None and not local.is_local(settings, m.actor_uri)]
    if remote:
        note = note_document(
            settings,
            message,
            conversation,
            text,
            [m.actor_uri for m in members if m.user_id != author.pk],
            session=session,
        )
        publish(
            settings,
            actor=actor,
            activity={"@context": NOTE_CONTEXT, "type": "Create", "object": note, "to": note["to"]},
            recipients=remote,
            session=session,
        )
    session.flush()
    return message


def note_document(
    settings: Settings,
    message: Message,
    conversation: Conversation,
    text: str,
    to: Sequence[str],
    *,
    session: Session,
) -> dict[str, Any]:
    """The ``Note`` of one of our messages: to the others only, each mentioned (a direct message)."""
    note: dict[str, Any] = {
        "id": message.uri,
        "type": "Note",
        "attributedTo": message.author_uri,
        "content": text_to_html(text),
        "to": list(to),
        "cc": [],
        "context": conversation.uri,
        "published": isoformat(message.created_at),
        "tag": [{"type": "Mention", "href": uri, "name": mention_name(uri, session=session)} for uri in to],
    }
    if message.in_reply_to:
        note["inReplyTo"] = message.in_reply_to
    if conversation.subject_uri:
        note["about"] = conversation.subject_uri
    return note


# --- received ---------------------------------------------------------------------------------------------


def addressed_people(
    settings: Settings, note: Mapping[str, Any], activity_recipients: Sequence[str], *, session: Session
) -> list[User]:
    """Our active people a received ``Note`` names: in ``to``/``cc`` (its own or the activity's) or in a
    ``Mention`` tag."""
    named: list[str] = list(activity_recipients)
    for name in ("to", "cc"):
        value = note.get(name)
        for item in value if isinstance(value, list) else [value]:
            found = addressing.id_of(item)
            if found:
                named.append(found)
    tags = note.get("tag")
    for tag in tags if isinstance(tags, list) else [tags]:
        if isinstance(tag, Mapping) and tag.get("type") == "Mention" and isinstance(tag.get("href"), str):
            named.append(tag["href"])
    public = False
    for name in ("to", "cc"):
        value = note.get(name)
        public = public or any(
            addressing.is_public(item) for item in (value if isinstance(value, list) else [value])
        )
    if not public:  # a direct message to one of our groups reaches its coordinators
        named = _to_coordinators(settings, named, session=session, strict=False)
    people = []
    for uri in dict.fromkeys(named):
        person = _local_person(settings, uri, session=session) if local.is_local(settings, uri) else None
        if person is not None:
            people.append(person)
    return people


def _other_participants(settings: Settings, note: Mapping[str, Any], author: str) -> list[str]:
    """Remote actors a received ``Note`` mentions besides its author (who will read our replies)."""
    found = []
    tags = note.get("tag")
    for tag in tags if isinstance(tags, list) else [tags]:
        if isinstance(tag, Mapping) and tag.get("type") == "Mention":
            href = tag.get("href")
            if (
                isinstance(href, str)
                and addressing.is_uri(href)
                and href != author
                and not local.is_local(settings, href)
            ):
                found.append(href)
    return found[:RECIPIENTS_MAX]


def receive(
    settings: Settings,
    note: Mapping[str, Any],
    author: str,
    people: Sequence[User],
    *,
    session: Session,
    received: datetime,
) -> Message | None:
    """Store a ``Note`` by ``author`` (the verified signer) for ``people`` (ours, addressed by it), in the
    conversation it continues (``inReplyTo`` one of its messages, or its ``context``) or a new one. People
    who blocked ``author`` are left out; None when nobody is left, or when the note is already stored."""
    note_id = addressing.id_of(note)
    if note_id is None or message_by_uri(note_id, session=session) is not None:
        return None
    readers = [
        p
        for p in people
        if not blocks.is_blocked(p.pk, author, session=session)
        and moderation.reaches(author, local.person(settings, p).uri, session=session)
    ]
    if not readers:
        return None
    content = note.get("content")
    text = html_to_text(content, TEXT_MAX) if isinstance(content, str) else ""
    if not text:
        return None
    conversation = None
    reply_to = addressing.id_of(note.get("inReplyTo"))
    if reply_to is not None:
        earlier = message_by_uri(reply_to, session=session)
        conversation = session.get(Conversation, earlier.conversation_id) if earlier is not None else None
    context = addressing.id_of(note.get("context")) or addressing.id_of(note.get("conversation"))
    if conversation is None and context is not None and addressing.is_uri(context):
        conversation = conversation_by_uri(context, session=session)
    if conversation is None:
        about = addressing.id_of(note.get("about"))
        conversation = Conversation(
            uri=context if context is not None and addressing.is_uri(context) else note_id,
            subject_uri=about if about is not None and addressing.is_uri(about) else None,
            created_at=received,
        )
        session.add(conversation)
        session.flush()
    _add_participant(conversation, author, None, session=session)
    for person in readers:
        _add_participant(conversation, local.person(settings, person).uri, person.pk, session=session)
    for other in _other_participants(settings, note, author):
        _add_participant(conversation, other, None, session=session)
    for person in readers:
        _notify(person.pk, conversation, author, session=session)
    assert conversation.id is not None
    message = Message(
        conversation_id=conversation.id,
        uri=note_id,
        author_uri=author,
        in_reply_to=reply_to,
        sealed_text=_seal(settings, text),
        created_at=received,
    )
    session.add(message)
    conversation.updated_at = received
    session.add(conversation)
    session.flush()
    return message


def hide(message_id: int, *, session: Session) -> Message:
    """A moderator hides a message (its text is no longer shown to anyone)."""
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(N_("No such message."))
    message.hidden_at = message.hidden_at or utcnow()
    session.add(message)
    return message
