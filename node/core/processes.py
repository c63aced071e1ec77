"""The processes of a node, heard from through the database: each ``asasap serve`` and ``asasap worker``
writes a heartbeat every few seconds (its roles and a snapshot of its :data:`~node.core.metrics.METRICS`).

``/readyz`` reads them to know that a worker is alive, and ``/metrics`` adds their counters up, so that
what one scrape shows covers every process sharing the database. A process that stopped beating is
dead after ``worker_stale_seconds``; its row is forgotten a day later.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Engine, String, Text, delete, select
from sqlmodel import Session

from node.core.db import insert_or_update, session_scope
from node.core.metrics import METRICS
from node.core.sqlbase import Field, SQLModel, table_of
from node.core.timeutil import UTCDateTime, utcnow

BEAT_SECONDS = 5.0
FORGET_AFTER = timedelta(days=1)


@functools.cache
def process_id() -> str:
    """This process, as its heartbeat names it (host, pid and a random part)."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@functools.cache
def _started() -> datetime:
    return utcnow()


class ProcessBeat(SQLModel, table=True):
    """The last word of one process: when it was heard from, in which role, and its counters."""

    __tablename__ = "process_beats"

    id: str = Field(sa_column=Column(String(80), primary_key=True))
    started_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    seen_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    web_seen_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    worker_seen_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    metrics: str = Field(sa_column=Column(Text, nullable=False))


def beat(role: str, *, session: Session, now: datetime | None = None) -> None:
    """Record that this process is alive in ``role`` (``web`` or ``worker``), with its counters."""
    now = now or utcnow()
    table = table_of(ProcessBeat)
    snapshot = json.dumps(METRICS.snapshot(), separators=(",", ":"))
    values = {"seen_at": now, f"{role}_seen_at": now, "metrics": snapshot}
    session.execute(
        insert_or_update(
            session, table, {"id": process_id(), "started_at": _started(), **values}, ["id"], values
        )
    )
    session.execute(delete(table).where(table.c.seen_at < now - FORGET_AFTER))


def snapshots(*, session: Session) -> list[dict[str, Any]]:
    """The counters of every process heard from in the last day; this process's own, live."""
    table = table_of(ProcessBeat)
    process_id_now = process_id()
    found = [
        json.loads(metrics)
        for other, metrics in session.execute(select(table.c.id, table.c.metrics))
        if other != process_id_now
    ]
    return [*found, METRICS.snapshot()]


def alive(role: str, stale_seconds: int, *, session: Session, now: datetime | None = None) -> int:
    """How many processes beat in ``role`` within the last ``stale_seconds``."""
    table = table_of(ProcessBeat)
    column = table.c[f"{role}_seen_at"]
    since = (now or utcnow()) - timedelta(seconds=stale_seconds)
    return len(session.execute(select(table.c.id).where(column >= since)).all())


class Heartbeat:
    """A worker job (and the web process's loop) that beats at most every :data:`BEAT_SECONDS`."""

    name = "heartbeat"

    def __init__(self, engine: Engine, roles: Sequence[str] = ("worker",)) -> None:
        self.engine = engine
        self.roles = tuple(roles)
        self._next = 0.0

    def beat_now(self) -> None:
        with session_scope(self.engine, write=True) as session:
            for role in self.roles:
                beat(role, session=session)

    async def run_once(self) -> int:
        if time.monotonic() >= self._next:
            self._next = time.monotonic() + BEAT_SECONDS
            await asyncio.to_thread(self.beat_now)
        return 0

    async def aclose(self) -> None:
        return None
