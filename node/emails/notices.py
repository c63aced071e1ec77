"""Notifications by e-mail: the notifications a person gets on the site (:mod:`node.market.notifications`)
also leave by e-mail, at once or in a daily digest, as each person chose (:mod:`.preferences`).

:class:`NoticeMailJob` (a :class:`~node.core.jobs.Periodic`) has two steps:

- *at once*: the notifications recorded since the last pass (a cursor on their ids, kept in
  ``mail_cursors`` and moved in the same transaction as the e-mails are queued) become one e-mail per
  person, for the topics they want at once;
- *digest*: once a day per person, the still unread notifications of their daily topics since the last
  digest become one e-mail.

E-mails say what happened and link to the node; they never carry a message's text, a contact detail or
an address. Each carries ``List-Unsubscribe`` (RFC 2369, one-click RFC 8058) for its topic.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Column, Engine, Integer, String, func, or_
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.core import mail
from node.core.errors import N_
from node.core.jobs import Periodic, Step
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import utcnow
from node.emails.preferences import (
    ALL,
    TOPICS,
    Frequency,
    MailPreference,
    Topic,
    preferences_of,
    topic_of,
    unsubscribe_path,
)
from node.market.models import Notification
from node.market.notifications import LABELS, Kind
from node.settings import Settings

log = logging.getLogger("asasap.emails")

INTERVAL_SECONDS = 60.0
DIGEST_EVERY = timedelta(days=1)
BATCH = 1000
CURSOR = "notifications"
MAILED_KINDS = frozenset(kind.value for kinds in TOPICS.values() for kind in kinds)


class MailCursor(SQLModel, table=True):
    """How far a mailing has read a growing table (the id of the last row it handled)."""

    __tablename__ = "mail_cursors"

    name: str = Field(sa_column=Column(String(32), primary_key=True))
    last_id: int = Field(sa_column=Column(Integer, nullable=False, default=0))


def _label(kind: str) -> str:
    return LABELS.get(Kind(kind), kind) if kind in Kind._value2member_map_ else kind


def _line(row: Notification) -> mail.Paragraph:
    """A notification's line: its label; for hours received, how many (never who sent them or why)."""
    if row.kind == Kind.TIMEBANK_RECEIVED.value:
        hours = json.loads(row.data or "{}").get("hours")
        if isinstance(hours, str) and hours:
            return (N_("- {label}: {hours} h"), {"label": mail.Msg(_label(row.kind)), "hours": hours})
    return ("- {label}", {"label": mail.Msg(_label(row.kind))})


def _letter(
    settings: Settings,
    user: User,
    rows: Sequence[Notification],
    *,
    topic: str,
    digest: bool,
    session: Session,
) -> None:
    """Queue one e-mail telling ``user`` of ``rows`` (labels only, never their content)."""
    assert user.email
    path = unsubscribe_path(settings, user.pk, topic)
    paragraphs: list[mail.Paragraph] = [
        (N_("Hello {name},"), {"name": user.name}),
        N_("Here is what happened on the node since yesterday:")
        if digest
        else N_("Something new for you on the node:"),
        *(_line(row) for row in rows),
        (N_("Read them on {link}"), {"link": settings.url("/notifications")}),
        (
            N_("To choose which e-mails you receive: {link}"),
            {"link": settings.url("/settings/notifications")},
        ),
        (N_("To stop these e-mails: {link}"), {"link": settings.url(path)}),
    ]
    subject = N_("Your daily digest") if digest else _label(rows[0].kind)  # a message id either way
    message = mail.letter(
        settings,
        to=user.email,
        subject=subject,
        paragraphs=paragraphs,
        headers={
            "List-Unsubscribe": f"<{settings.url(path)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    mail.enqueue(settings, message, session=session)


def _recipients(user_ids: set[int], *, session: Session) -> dict[int, User]:
    users = session.exec(
        select(User).where(
            col(User.id).in_(sorted(user_ids)),
            col(User.status) == AccountStatus.ACTIVE,
            col(User.email).is_not(None),
        )
    ).all()
    return {user.pk: user for user in users if user.email}


def new_notifications(cursor_name: str, *, session: Session, limit: int = BATCH) -> Sequence[Notification]:
    """The notifications recorded since the cursor ``cursor_name`` last moved (at most ``limit``), the
    cursor moved past them in the caller's transaction (locked on PostgreSQL, so that two workers never
    read the same ones). A new cursor starts at the latest notification: nothing of the past is sent."""
    cursor = session.exec(select(MailCursor).where(MailCursor.name == cursor_name).with_for_update()).first()
    if cursor is None:
        start = session.exec(select(func.max(Notification.id))).one() or 0
        session.add(MailCursor(name=cursor_name, last_id=int(start)))
        return []
    rows = session.exec(
        select(Notification)
        .where(col(Notification.id) > cursor.last_id)
        .order_by(col(Notification.id))
        .limit(limit)
    ).all()
    if rows:
        cursor.last_id = max(row.id or 0 for row in rows)
        session.add(cursor)
    return rows


def mail_new(settings: Settings, *, session: Session) -> int:
    """E-mail the notifications recorded since the last pass to the people who want them at once;
    how many notifications were read. A node's first pass only marks where it starts."""
    rows = new_notifications(CURSOR, session=session)
    if not rows:
        return 0
    wanted = [row for row in rows if row.kind in MAILED_KINDS]
    people = _recipients({row.user_id for row in wanted}, session=session)
    by_person: dict[int, list[Notification]] = defaultdict(list)
    for row in wanted:
        user = people.get(row.user_id)
        topic = topic_of(row.kind)
        if user is None or topic is None:
            continue
        if preferences_of(user.pk, session=session).frequency(topic) == Frequency.IMMEDIATELY:
            by_person[user.pk].append(row)
    for user_id, chosen in by_person.items():
        topics = {topic_of(row.kind) for row in chosen}
        only = next(iter(topics)) if len(topics) == 1 else None
        _letter(
            settings,
            people[user_id],
            chosen,
            topic=only.value if only else ALL,
            digest=False,
            session=session,
        )
    return len(rows)


def mail_digests(settings: Settings, *, session: Session, now: datetime | None = None) -> int:
    """Send each daily digest that is due; how many were queued."""
    now = now or utcnow()
    daily = Frequency.DAILY.value
    due = session.exec(
        select(MailPreference).where(
            or_(*(col(getattr(MailPreference, topic.value)) == daily for topic in Topic)),
            col(MailPreference.digest_sent_at).is_(None)
            | (col(MailPreference.digest_sent_at) <= now - DIGEST_EVERY),
        )
    ).all()
    people = _recipients({row.user_id for row in due}, session=session)
    sent = 0
    for preference in due:
        user = people.get(preference.user_id)
        since = preference.digest_sent_at or preference.updated_at
        preference.digest_sent_at = now
        session.add(preference)
        if user is None:
            continue
        kinds = [
            kind.value
            for topic in Topic
            for kind in TOPICS[topic]
            if preference.frequency(topic) == Frequency.DAILY
        ]
        rows = session.exec(
            select(Notification)
            .where(
                Notification.user_id == user.pk,
                col(Notification.kind).in_(kinds),
                col(Notification.read_at).is_(None),
                col(Notification.created_at) > since,
            )
            .order_by(col(Notification.id))
            .limit(50)
        ).all()
        if rows:
            _letter(settings, user, rows, topic=ALL, digest=True, session=session)
            sent += 1
    return sent


class NoticeMailJob(Periodic):
    """Notifications by e-mail: at once (every minute) and daily digests."""

    name = "notice-mail"
    seconds = INTERVAL_SECONDS
    logger = log

    def steps(self) -> list[Step]:
        settings = self.settings
        return [
            ("notifications e-mailed", lambda s: mail_new(settings, session=s)),
            ("digests e-mailed", lambda s: mail_digests(settings, session=s)),
        ]


def jobs(settings: Settings, engine: Engine) -> list[NoticeMailJob]:
    """The notification e-mails, when the node sends e-mail."""
    return [NoticeMailJob(settings, engine)] if mail.enabled(settings) else []
