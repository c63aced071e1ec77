"""Background work, in one shape for every queue.

- :class:`Worker` runs a node's jobs in turn (``asasap worker``, or embedded in ``asasap serve``): again at
  once while there is work, else every ``idle_interval`` seconds; a failing job is logged and skipped.
- A durable queue is a table whose rows wait (``next_attempt_at``), are claimed under a lease
  (``lease_until``) and counted (``attempts``). :func:`claim_statement` builds the one claim every queue
  uses: due rows (waiting and due, or claimed with an expired lease) become claimed, with a lease and
  one more attempt, in one ``UPDATE ... RETURNING``; on PostgreSQL the rows are locked with
  ``FOR UPDATE SKIP LOCKED`` so that concurrent workers take different rows, on SQLite the caller's
  write transaction makes claims one at a time. The new attempt count is the claim's token: an outcome
  is recorded only while the row is still claimed with that count, so a worker whose lease expired
  cannot overwrite a newer attempt.
- :class:`Backoff` is the wait before the next attempt: exponential from ``base``, at most ``cap``, with
  optional jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import anyio
from sqlalchemy import Column, Engine, Table, and_, bindparam, or_, select, update
from sqlalchemy.sql.dml import ReturningUpdate

from node.core.db import session_scope
from node.core.metrics import METRICS
from node.core.timeutil import utcnow
from node.settings import Settings

log = logging.getLogger("asasap.worker")

IDLE_INTERVAL = 0.5  # seconds between polls when there was nothing to do


class Job(Protocol):
    """A kind of work: ``run_once`` handles what is due now (how many items), ``aclose`` frees resources."""

    async def run_once(self) -> int: ...

    async def aclose(self) -> None: ...


def job_name(job: Job) -> str:
    """A short name for logs and counts: the job's ``name`` attribute, else from its class
    (``DeliveryJob`` -> ``delivery``)."""
    given = getattr(job, "name", None)
    if isinstance(given, str) and given:
        return given
    name = type(job).__name__
    return name.removesuffix("Job").lower() or name


class Worker:
    """Runs every job in turn, again at once while there is work, else every ``idle_interval`` seconds.

    ``handled`` counts the items each job handled since the worker was made.
    """

    def __init__(
        self, settings: Settings, engine: Engine, jobs: Sequence[Job], *, idle_interval: float = IDLE_INTERVAL
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.jobs = list(jobs)
        self.idle_interval = idle_interval
        self.handled: dict[str, int] = {job_name(job): 0 for job in self.jobs}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None

    async def run_once(self) -> int:
        """One pass over every job; how many items they handled. A failing job is logged and skipped."""
        total = 0
        for job in self.jobs:
            started = time.perf_counter()
            try:
                count = await job.run_once()
            except Exception:
                log.exception("worker job %s failed", job_name(job))
                continue
            if count:  # idle passes would drown the durations of real work
                METRICS.observe(
                    "asasap_job_duration_seconds", time.perf_counter() - started, job=job_name(job)
                )
                METRICS.inc("asasap_job_items_total", count, job=job_name(job))
            self.handled[job_name(job)] = self.handled.get(job_name(job), 0) + count
            total += count
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then finish the pass in progress and close the jobs."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        try:
            while not stop.is_set():
                if await self.run_once():
                    continue
                await self._idle(stop, self._wakeup)
        finally:
            self._loop = None
            await self.aclose()

    def wake(self) -> None:
        """Cut the current idle wait short (new work was queued); callable from any thread."""
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(wakeup.set)

    async def _idle(self, stop: asyncio.Event, wakeup: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
        try:
            await asyncio.wait(waits, timeout=self.idle_interval, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
            wakeup.clear()

    async def aclose(self) -> None:
        """Close every job (connections, clients)."""
        for job in self.jobs:
            try:
                await job.aclose()
            except Exception:
                log.exception("closing worker job %s failed", job_name(job))


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Run ``worker`` in the background for the duration of the block, then stop it gracefully."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="asasap-worker")
    try:
        yield worker
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=30)
        except TimeoutError:
            log.warning("the worker did not stop within 30 s; cancelling it")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def run_steps(
    engine: Engine, steps: Sequence[tuple[str, Callable[[Any], int]]], logger: logging.Logger
) -> int:
    """Periodic work in steps, each ``(what, step(session))`` in its own write transaction, so that one
    failing (logged) does not hold the others back; how many rows the steps moved."""
    total = 0
    for what, step in steps:
        try:
            with session_scope(engine, write=True) as session:
                count = step(session)
        except Exception:
            logger.exception("%s failed", what)
            continue
        total += count
    return total


Step = tuple[str, Callable[[Any], int]]


class Periodic:
    """A job of a node's ``settings`` whose steps (:meth:`steps`) run at most once every ``interval``
    seconds (:meth:`every` by default), each in its own write transaction (:func:`run_steps`), in a thread
    so that the event loop goes on. Safe with several workers when each step only moves rows that are
    still due. Subclasses name themselves (``name``), say how often (``seconds`` or :meth:`every`) and in
    which log (``logger``), and give their steps; ``clock`` is the time they are due against (``now``)."""

    name = "periodic"
    seconds = 60.0
    logger = log

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        interval: float | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.interval = self.every(settings) if interval is None else interval
        self.clock = clock or self.now
        self.monotonic = monotonic
        self._last: float | None = None

    def every(self, settings: Settings) -> float:
        """The seconds between two runs, unless the constructor is told otherwise."""
        return self.seconds

    @staticmethod
    def now() -> datetime:
        return utcnow()

    async def run_once(self) -> int:
        """Run the steps if the interval has passed since the last run; how many rows they moved."""
        started = self.monotonic()
        if self._last is not None and started - self._last < self.interval:
            return 0
        self._last = started
        return await anyio.to_thread.run_sync(self.run_steps)

    def run_steps(self) -> int:
        """Every step once, each in its own transaction; how many rows moved."""
        return run_steps(self.engine, self.steps(), self.logger)

    def steps(self) -> list[Step]:
        """What to do this time, as ``(what, step(session))`` pairs."""
        return []

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class Backoff:
    """How long a queue waits before trying a row again: ``base`` doubled after each attempt, at most
    ``cap``, spread by ``± jitter`` (a fraction) so that failures do not come back in step."""

    base: timedelta
    cap: timedelta
    jitter: float = 0.0

    def after(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """The wait before the next attempt after ``attempts`` attempts."""
        exponent = min(max(attempts - 1, 0), 30)
        delay = min(self.base * (1 << exponent), self.cap)
        if self.jitter:
            delay = delay * (1 + (rng or random).uniform(-self.jitter, self.jitter))
        return min(delay, self.cap)


@dataclass(frozen=True)
class Queue:
    """A table used as a durable queue: rows in ``waiting`` are due at ``next_attempt_at``; rows in
    ``claimed`` are held until ``lease_until``; ``order`` says which due rows go first."""

    table: Table
    waiting: str
    claimed: str
    order: str = "next_attempt_at"
    touched: tuple[str, ...] = ()  # columns set to the claim's time (``updated_at``)


@functools.cache
def _claim(queue: Queue, postgres: bool, returning: tuple[str, ...], capped: bool) -> ReturningUpdate[Any]:
    table = queue.table
    now = bindparam("now", type_=table.c.next_attempt_at.type)
    due = or_(
        and_(table.c.state == queue.waiting, table.c.next_attempt_at <= now),
        and_(table.c.state == queue.claimed, table.c.lease_until < now),
    )
    if capped:
        due = and_(due, table.c.attempts < bindparam("max_attempts"))
    chosen = select(table.c.id).where(due).order_by(table.c[queue.order]).limit(bindparam("limit"))
    if postgres:
        chosen = chosen.with_for_update(skip_locked=True)
    values: dict[str, Any] = {
        "state": queue.claimed,
        "lease_until": bindparam("lease_until", type_=table.c.lease_until.type),
        "attempts": table.c.attempts + 1,
    }
    values.update({name: now for name in queue.touched})
    columns: list[Column[Any]] = [table.c[name] for name in returning]
    return update(table).where(table.c.id.in_(chosen.scalar_subquery())).values(**values).returning(*columns)


def claim_statement(
    queue: Queue, *, postgres: bool, returning: Sequence[str], capped: bool = False
) -> ReturningUpdate[Any]:
    """The claim of up to ``limit`` due rows of ``queue`` (built once per shape): they become claimed
    until ``lease_until`` with one attempt more, and their ``returning`` columns come back (in no
    particular order). Parameters: ``now``, ``limit``, ``lease_until``, and ``max_attempts`` when
    ``capped`` (rows that used all their attempts are left to the caller)."""
    return _claim(queue, postgres, tuple(returning), capped)
