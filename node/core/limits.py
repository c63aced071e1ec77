"""Abuse limits: how many times a key (a person, an address, a token, a proposal) may do something in a
window, counted in the database so that every process of a node (several ``asasap serve`` behind one
PostgreSQL, or one on SQLite) holds the same count.

A limit is declared once in :data:`LIMITS` with a name, the setting giving its maximum (``0`` turns it
off) and its window; services call it by name in the transaction of the action it limits::

    limits.hit(settings, "proposals per person per day", author.pk, session=session)

:func:`hit` adds one to the key's counter for the current window with one atomic upsert
(``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``: concurrent transactions on the same counter wait
for each other, on PostgreSQL as on SQLite) and raises :class:`~node.core.errors.Throttled` (429 with
``Retry-After``) when the count passes the maximum. The refused action's transaction is rolled back,
the count with it: only what was accepted is counted, and nothing of a refused request is stored.

Windows are fixed (an hour starts on the hour, a day at midnight UTC), so a key can do at most twice
the maximum across the boundary of two windows. Keys are stored as an HMAC under the node secret: the
table holds no address, name or token. Counters of past windows are pruned by :class:`PruneJob`.

To add a limit: one line in :data:`LIMITS` and one field in :class:`node.settings.Settings` (its default
and documentation), then call :func:`hit` where the action happens.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, Engine, Integer, String, delete
from sqlmodel import Session

from node.core.db import insert_or_update, session_scope
from node.core.errors import N_, Throttled
from node.core.metrics import METRICS
from node.core.sqlbase import Field, SQLModel, table_of
from node.core.timeutil import UTCDateTime, utcnow
from node.settings import Settings

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Limit:
    """At most ``settings.<setting>`` events per key in each ``window``; ``message`` is the refusal."""

    name: str
    setting: str
    window: timedelta
    message: str = N_("You have done this too many times. Try again later.")


LIMITS: dict[str, Limit] = {
    limit.name: limit
    for limit in (
        Limit(
            "registrations per address per hour",
            "limit_registrations_per_address_hour",
            HOUR,
            N_("Too many accounts were created from your address. Try again later."),
        ),
        Limit(
            "proposals per person per day",
            "limit_proposals_per_person_day",
            DAY,
            N_("You have published too many offers and demands today. Try again tomorrow."),
        ),
        Limit(
            "bids per proposal per day",
            "limit_bids_per_proposal_day",
            DAY,
            N_("This proposal has received too many answers today. Try again tomorrow."),
        ),
        Limit(
            "bids per person per day",
            "limit_bids_per_person_day",
            DAY,
            N_("You have answered too many proposals today. Try again tomorrow."),
        ),
        Limit(
            "follows per person per day",
            "limit_follows_per_person_day",
            DAY,
            N_("You have followed too many accounts today. Try again tomorrow."),
        ),
        Limit(
            "messages per person per hour",
            "limit_messages_per_person_hour",
            HOUR,
            N_("You have sent too many messages in the last hour. Try again later."),
        ),
        Limit(
            "reports per person per day",
            "limit_reports_per_person_day",
            DAY,
            N_("You have filed too many reports today. Try again tomorrow."),
        ),
        Limit(
            "api tokens per person per hour",
            "limit_tokens_per_person_hour",
            HOUR,
            N_("You have created too many API tokens. Try again later."),
        ),
        Limit(
            "api requests per token per minute",
            "limit_api_requests_per_token_minute",
            MINUTE,
            N_("Too many requests with this token. Slow down and try again shortly."),
        ),
        Limit(
            "password resets per address per hour",
            "limit_password_resets_per_address_hour",
            HOUR,
            N_("Too many password reset requests. Try again in an hour."),
        ),
    )
}


class RateCounter(SQLModel, table=True):
    """How many times one key did what a limit counts, in one window."""

    __tablename__ = "rate_counters"

    limit_name: str = Field(sa_column=Column(String(60), primary_key=True))
    subject: str = Field(sa_column=Column(String(32), primary_key=True))
    window_start: datetime = Field(sa_column=Column(UTCDateTime, primary_key=True))
    window_end: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    count: int = Field(sa_column=Column(Integer, nullable=False))


def maximum(settings: Settings, name: str) -> int:
    """The maximum of the limit ``name`` on this node (0: no limit)."""
    value = getattr(settings, LIMITS[name].setting)
    assert isinstance(value, int)
    return value


@functools.lru_cache(maxsize=16)
def _mac_key(settings: Settings) -> bytes:
    """The node secret, read once per settings (it may come from a file)."""
    return hmac.new(settings.effective_secret_key.encode(), b"asasap limits", hashlib.sha256).digest()


def _subject(settings: Settings, name: str, key: str | int) -> str:
    return hmac.new(_mac_key(settings), f"{name}\0{key}".encode(), hashlib.sha256).hexdigest()[:32]


def _window(now: datetime, length: timedelta) -> tuple[datetime, datetime]:
    seconds = int(length.total_seconds())
    start = int(now.timestamp()) // seconds * seconds
    begin = datetime.fromtimestamp(start, UTC)
    return begin, begin + length


def hit(
    settings: Settings, name: str, key: str | int, *, session: Session, now: datetime | None = None
) -> int:
    """Count one event of ``key`` under the limit ``name``; how many there were in this window.
    Raises :class:`Throttled` past the maximum (roll the transaction back: the count goes with it)."""
    limit = LIMITS[name]
    most = maximum(settings, name)
    if most <= 0:
        return 0
    now = now or utcnow()
    start, end = _window(now, limit.window)
    table = table_of(RateCounter)
    values = {"limit_name": name, "subject": _subject(settings, name, key), "window_start": start}
    statement = insert_or_update(
        session,
        table,
        {**values, "window_end": end, "count": 1},
        ["limit_name", "subject", "window_start"],
        {"count": table.c.count + 1},
    ).returning(table.c.count)
    count = int(session.execute(statement).scalar_one())
    if count > most:
        METRICS.inc("asasap_limit_refusals_total", limit=name)
        raise Throttled(limit.message, retry_after=max(1, int((end - now).total_seconds()) + 1))
    return count


def prune(*, session: Session, now: datetime | None = None) -> int:
    """Forget the counters of windows that are over; how many."""
    table = table_of(RateCounter)
    result = session.execute(delete(table).where(table.c.window_end < (now or utcnow())))
    return int(getattr(result, "rowcount", 0) or 0)


class PruneJob:
    """The worker's job that forgets finished windows, at most every ``interval`` seconds."""

    name = "limits"

    def __init__(self, engine: Engine, *, interval: float = 600.0) -> None:
        self.engine = engine
        self.interval = interval
        self._next = 0.0

    async def run_once(self) -> int:
        if time.monotonic() < self._next:
            return 0
        self._next = time.monotonic() + self.interval

        def work() -> None:
            with session_scope(self.engine, write=True) as session:
                prune(session=session)

        await asyncio.to_thread(work)
        return 0

    async def aclose(self) -> None:
        return None
