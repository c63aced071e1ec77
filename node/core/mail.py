"""Outgoing e-mail: letters in French then English, queued durably, sent through SMTP by a worker job.

How other parts send e-mail::

    message = mail.letter(settings, to="alice@example.org", subject=N_("Reset your password"),
                          paragraphs=[(N_("Open {link} to choose a new password."), {"link": url})])
    mail.enqueue(settings, message, session=session)   # in the transaction of the change it tells of

- :func:`letter` builds a standard :class:`email.message.EmailMessage`: each message id is translated
  into French and English (the shipped catalogs) and formatted with its values; the subject reads
  "French · English", the body gives the French text first, then the English.
- :func:`enqueue` stores it in ``outgoing_mails``, sealed at rest (an address and a reset link are
  private), and returns the row; when e-mail is off (no ``smtp_host``) it stores nothing and returns
  None, so nothing waits for a server that will never come.
- :class:`MailJob` claims due rows like every queue (:mod:`node.core.jobs`), sends them over one SMTP
  connection per batch, and records the outcome: sent (the sealed text is erased), a transient failure
  (4xx, connection refused, timeout: tried again with exponential backoff, up to
  :data:`MAX_ATTEMPTS`), or a permanent one (5xx: abandoned at once). Nothing accepted is lost while
  the server only fails for a while: a worker that dies mid-batch leaves its rows to be claimed again
  when their lease ends.
"""

from __future__ import annotations

import email.policy
import email.utils
import logging
import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from enum import StrEnum

import anyio
from sqlalchemy import Column, Engine, String, Text, func, update
from sqlmodel import Session, col, select

from node.core.db import session_scope
from node.core.i18n import LANGUAGES, shipped
from node.core.jobs import Backoff, Queue, claim_statement
from node.core.sealing import UnsealError, seal, unseal
from node.core.sqlbase import Field, SQLModel, table_of
from node.core.timeutil import UTCDateTime, utcnow
from node.settings import Settings

log = logging.getLogger("asasap.mail")

SEAL_PURPOSE = "outgoing-mail"
MAX_ATTEMPTS = 12  # with the backoff below: about a day and a half of trying
BACKOFF = Backoff(base=timedelta(minutes=1), cap=timedelta(hours=4), jitter=0.1)
LEASE = timedelta(minutes=5)
BATCH = 50
SEPARATOR = "\n\n— English —\n\n"

Paragraph = str | tuple[str, Mapping[str, object]]


class Msg(str):
    """A value of a paragraph that is itself a message id, translated with the paragraph."""

    __slots__ = ()


class MailState(StrEnum):
    WAITING = "waiting"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutgoingMail(SQLModel, table=True):
    """An e-mail accepted for sending; ``message`` is the whole RFC 5322 text, sealed, erased once sent."""

    __tablename__ = "outgoing_mails"

    id: int | None = Field(default=None, primary_key=True)
    message: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default=MailState.WAITING.value, max_length=16, index=True)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", sa_column=Column(String(300), nullable=False, default=""))


def enabled(settings: Settings) -> bool:
    """Whether this node sends e-mail at all (an SMTP server is set)."""
    return bool(settings.smtp_host)


def sender(settings: Settings) -> str:
    """The ``From`` of the node's e-mail: the setting, else the node name at ``noreply@<host>``."""
    if settings.mail_from:
        return settings.mail_from
    host = settings.domain.split(":")[0]
    return email.utils.formataddr((settings.node_name, f"noreply@{host}"))


def _translate(paragraph: Paragraph, language: str) -> str:
    message, values = (paragraph, {}) if isinstance(paragraph, str) else paragraph
    catalogs = shipped()
    shown = {k: catalogs.gettext(v, language) if isinstance(v, Msg) else v for k, v in values.items()}
    return catalogs.gettext(message, language).format(**shown)


def letter(
    settings: Settings,
    *,
    to: str,
    subject: str,
    paragraphs: Sequence[Paragraph],
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A plain-text e-mail to ``to``: the subject and each paragraph (a message id, or a message id and
    its ``str.format`` values) in French, then in English."""
    message = EmailMessage()
    message["From"] = sender(settings)
    message["To"] = to
    message["Subject"] = " · ".join(dict.fromkeys(_translate(subject, lang) for lang in LANGUAGES))
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid(domain=settings.domain.split(":")[0])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the node
    message["Content-Language"] = ", ".join(LANGUAGES)
    for name, value in (headers or {}).items():
        message[name] = value
    bodies = ["\n\n".join(_translate(p, lang) for p in paragraphs) for lang in LANGUAGES]
    signature = f"\n\n-- \n{settings.node_name} · {settings.base_url}\n"
    message.set_content(SEPARATOR.join(bodies) + signature)
    return message


def enqueue(settings: Settings, message: EmailMessage, *, session: Session) -> OutgoingMail | None:
    """Accept ``message`` for sending (in the caller's transaction); None when e-mail is off."""
    if not enabled(settings):
        log.info("e-mail is off (no ASASAP_SMTP_HOST): a message was not sent")
        return None
    sealed = seal(settings.effective_secret_key, SEAL_PURPOSE, message.as_bytes(policy=email.policy.SMTP))
    row = OutgoingMail(message=sealed)
    session.add(row)
    session.flush()
    return row


def opened(settings: Settings, row: OutgoingMail) -> EmailMessage:
    """The stored message of ``row`` (tests and the job)."""
    raw = unseal(settings.effective_secret_key, SEAL_PURPOSE, row.message)
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


class PermanentFailure(Exception):
    """The server refused the message for good (5xx): trying again would not help."""


class TransientFailure(Exception):
    """The server could not take the message now (4xx, unreachable, timeout): try again later."""


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int
    message: str


def connect(settings: Settings) -> smtplib.SMTP:
    """An SMTP connection, secured and logged in as the settings say; failures are transient."""
    timeout = settings.fetch_timeout_seconds
    client: smtplib.SMTP | None = None
    try:
        if settings.smtp_security == "tls":
            client = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password)
    except (OSError, smtplib.SMTPException) as exc:
        if client is not None:
            client.close()
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            raise TransientFailure(f"SMTP login refused ({exc.smtp_code})") from exc
        raise TransientFailure(f"SMTP server unreachable: {type(exc).__name__}") from exc
    return client


def send_one(client: smtplib.SMTP, message: EmailMessage) -> None:
    """Hand ``message`` to the server; sorts the refusals into permanent and transient ones."""
    try:
        refused = client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(code >= 500 for code in codes):
            raise PermanentFailure(f"recipient refused ({codes[0]})") from exc
        raise TransientFailure(f"recipient deferred ({codes[0]})") from exc
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise PermanentFailure(f"refused ({exc.smtp_code})") from exc
        raise TransientFailure(f"deferred ({exc.smtp_code})") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise TransientFailure(f"connection lost: {type(exc).__name__}") from exc
    if refused:  # only one recipient per message: refused means refused
        raise PermanentFailure("recipient refused")


class MailJob:
    """Sends the queued e-mail (:mod:`node.core.mail`); ``handled`` items are messages tried."""

    name = "mail"

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utcnow,
        batch: int = BATCH,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.batch = batch

    async def run_once(self) -> int:
        claimed = await anyio.to_thread.run_sync(self._claim)
        if not claimed:
            return 0
        outcomes = await anyio.to_thread.run_sync(self._send, claimed)
        await anyio.to_thread.run_sync(self._record, claimed, outcomes)
        return len(claimed)

    def _claim(self) -> list[Claimed]:
        now = self.clock()
        with session_scope(self.engine, write=True) as session:
            connection = session.connection()
            statement = claim_statement(
                _queue(),
                postgres=connection.dialect.name == "postgresql",
                returning=("id", "attempts", "message"),
            )
            rows = connection.execute(
                statement, {"now": now, "limit": self.batch, "lease_until": now + LEASE}
            )
            return sorted((Claimed(row.id, row.attempts, row.message) for row in rows), key=lambda c: c.id)

    def _send(self, claimed: list[Claimed]) -> dict[int, Exception | None]:
        outcomes: dict[int, Exception | None] = {}
        try:
            client = connect(self.settings)
        except TransientFailure as exc:
            log.warning("e-mail not sent, will try again: %s", exc)
            return {item.id: exc for item in claimed}
        try:
            for item in claimed:
                try:
                    raw = unseal(self.settings.effective_secret_key, SEAL_PURPOSE, item.message)
                    message = BytesParser(policy=email.policy.default).parsebytes(raw)
                    assert isinstance(message, EmailMessage)
                    send_one(client, message)
                    outcomes[item.id] = None
                except UnsealError as exc:
                    outcomes[item.id] = PermanentFailure(str(exc))
                except (PermanentFailure, TransientFailure) as exc:
                    outcomes[item.id] = exc
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        return outcomes

    def _record(self, claimed: list[Claimed], outcomes: Mapping[int, Exception | None]) -> None:
        now = self.clock()
        table = table_of(OutgoingMail)
        with session_scope(self.engine, write=True) as session:
            for item in claimed:
                failure = outcomes.get(item.id)
                mine = (
                    (table.c.id == item.id)
                    & (table.c.state == MailState.SENDING)
                    & (table.c.attempts == item.attempts)
                )
                if failure is None:
                    values: dict[str, object] = {"state": MailState.SENT, "sent_at": now, "message": ""}
                elif isinstance(failure, PermanentFailure) or item.attempts >= MAX_ATTEMPTS:
                    log.warning("e-mail %s abandoned after %s attempts: %s", item.id, item.attempts, failure)
                    values = {"state": MailState.FAILED, "message": "", "last_error": str(failure)[:300]}
                else:
                    values = {
                        "state": MailState.WAITING,
                        "next_attempt_at": now + BACKOFF.after(item.attempts),
                        "lease_until": None,
                        "last_error": str(failure)[:300],
                    }
                session.exec(update(table).where(mine).values(**values))

    async def aclose(self) -> None:
        return None


def _queue() -> Queue:
    return Queue(table_of(OutgoingMail), waiting=MailState.WAITING.value, claimed=MailState.SENDING.value)


def jobs(settings: Settings, engine: Engine) -> list[MailJob]:
    """The e-mail job when e-mail is on; says once, in the log, when it is off."""
    if not enabled(settings):
        log.info("e-mail is off: set ASASAP_SMTP_HOST to send password resets and notifications")
        return []
    return [MailJob(settings, engine)]


def waiting_count(*, session: Session) -> int:
    """How many e-mails wait to be sent (tests, metrics)."""
    return session.exec(
        select(func.count()).select_from(OutgoingMail).where(col(OutgoingMail.state) == MailState.WAITING)
    ).one()
