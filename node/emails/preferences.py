"""What each person wants by e-mail, per topic: at once, in a daily digest, or never; and the signed
unsubscribe links that change it without logging in.

Topics gather notification kinds (:data:`TOPICS`): new messages, answers to one's proposals (and
their fate), agreements, hours received on one's time account (a payment for an agreement, a gift, a
grant). A person without a row gets :data:`DEFAULT` for every topic. An unsubscribe
link carries an HMAC of (account, topic) under the node secret: it cannot be forged for another
account and needs no session (RFC 8058 one-click unsubscribe posts to it from the mail client).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, String
from sqlmodel import Session

from node.accounts.models import User
from node.core.errors import N_, ValidationFailed
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow
from node.market.notifications import Kind
from node.settings import Settings


class Topic(StrEnum):
    MESSAGES = "messages"
    ANSWERS = "answers"
    AGREEMENTS = "agreements"
    TIMEBANK = "timebank"


class Frequency(StrEnum):
    IMMEDIATELY = "immediately"
    DAILY = "daily"
    NEVER = "never"


DEFAULT = Frequency.IMMEDIATELY
ALL = "all"  # the unsubscribe link's topic for "no e-mail at all"

TOPICS: dict[Topic, frozenset[Kind]] = {
    Topic.MESSAGES: frozenset({Kind.MESSAGE}),
    Topic.ANSWERS: frozenset(
        {
            Kind.BID_RECEIVED,
            Kind.BID_WITHDRAWN,
            Kind.BID_ACCEPTED,
            Kind.BID_REJECTED,
            Kind.REPLY,
            Kind.GROUP_BID,
        }
    ),
    Topic.AGREEMENTS: frozenset(
        {
            Kind.AGREEMENT_CONFIRMED,
            Kind.AGREEMENT_COMPLETED,
            Kind.AGREEMENT_CANCELLED,
            Kind.AGREEMENT_DISPUTED,
            Kind.CONTACT_SHARED,
            Kind.GROUP_AGREEMENT,
        }
    ),
    Topic.TIMEBANK: frozenset({Kind.TIMEBANK_RECEIVED}),
}

TOPIC_LABELS: dict[Topic, str] = {
    Topic.MESSAGES: N_("New messages"),
    Topic.ANSWERS: N_("Answers to my proposals"),
    Topic.AGREEMENTS: N_("My agreements"),
    Topic.TIMEBANK: N_("Time received on my account"),
}

FREQUENCY_LABELS: dict[Frequency, str] = {
    Frequency.IMMEDIATELY: N_("At once"),
    Frequency.DAILY: N_("In a daily digest"),
    Frequency.NEVER: N_("Never"),
}


def topic_of(kind: str) -> Topic | None:
    """The topic a notification kind belongs to, or None when it is never e-mailed."""
    for topic, kinds in TOPICS.items():
        if kind in kinds:
            return topic
    return None


class MailPreference(SQLModel, table=True):
    """A person's e-mail choices per topic, and when their last digest left."""

    __tablename__ = "mail_preferences"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    messages: str = Field(default=DEFAULT.value, max_length=16)
    answers: str = Field(default=DEFAULT.value, max_length=16)
    agreements: str = Field(default=DEFAULT.value, max_length=16)
    timebank: str = Field(
        default=DEFAULT.value,
        sa_column=Column(String(16), nullable=False, default=DEFAULT.value, server_default=DEFAULT.value),
    )
    digest_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def frequency(self, topic: Topic) -> Frequency:
        return Frequency(getattr(self, topic.value))


def preferences_of(user_id: int, *, session: Session) -> MailPreference:
    """The person's choices (defaults when they never chose; not stored until changed)."""
    return session.get(MailPreference, user_id) or MailPreference(user_id=user_id)


def choose(user: User, choices: dict[str, str], *, session: Session) -> MailPreference:
    """Set the frequency of each topic given in ``choices`` (``topic -> frequency``); others stay."""
    row = preferences_of(user.pk, session=session)
    for name, value in choices.items():
        if name not in Topic._value2member_map_ or value not in Frequency._value2member_map_:
            raise ValidationFailed(N_("Unknown choice."), fields={name: N_("Unknown choice.")})
        setattr(row, name, value)
    if row.digest_sent_at is None:
        row.digest_sent_at = utcnow()  # a digest tells of what comes from now on, not of the past
    row.updated_at = utcnow()
    session.add(row)
    return row


def _signature(settings: Settings, user_id: int, topic: str) -> str:
    key = hashlib.sha256(("unsubscribe:" + settings.effective_secret_key).encode()).digest()
    mac = hmac.new(key, f"{user_id}:{topic}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def unsubscribe_path(settings: Settings, user_id: int, topic: str) -> str:
    """The path of the link that stops ``topic`` (or :data:`ALL`) for the person, without login."""
    return f"/mail/unsubscribe/{user_id}/{topic}/{_signature(settings, user_id, topic)}"


def check_unsubscribe(settings: Settings, user_id: int, topic: str, signature: str) -> bool:
    """Whether the link's signature is the node's for this person and topic."""
    if topic != ALL and topic not in Topic._value2member_map_:
        return False
    return hmac.compare_digest(signature.encode(), _signature(settings, user_id, topic).encode())


def unsubscribe(
    settings: Settings, user_id: int, topic: str, signature: str, *, session: Session
) -> MailPreference:
    """Stop ``topic`` (every topic for :data:`ALL`) through a signed link."""
    if not check_unsubscribe(settings, user_id, topic, signature) or session.get(User, user_id) is None:
        raise ValidationFailed(N_("This unsubscribe link is not valid."))
    row = preferences_of(user_id, session=session)
    for each in Topic if topic == ALL else [Topic(topic)]:
        setattr(row, each.value, Frequency.NEVER.value)
    row.updated_at = utcnow()
    session.add(row)
    return row
