"""The delivery job: claims due deliveries in batches, signs and posts them, records the outcomes; run
by the node's worker (:mod:`node.core.jobs`, assembled in :mod:`node.worker`).

Database calls are synchronous and run in worker threads; network calls run on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import Engine

from node.activitypub.actors.local import Accounts, Groups
from node.activitypub.actors.remote import FetcherFactory, node_fetcher_factory
from node.activitypub.outbox import delivery
from node.activitypub.outbox.delivery import Batch, ClaimedDelivery, Outcome, ResolveInbox
from node.activitypub.signatures import HttpSignatureAuth
from node.activitypub.transport.fetch import Fetcher
from node.activitypub.transport.poster import PER_ORIGIN, InboxPoster
from node.core.db import session_scope
from node.core.metrics import METRICS
from node.core.timeutil import utcnow
from node.settings import Settings

log = logging.getLogger("asasap.federation")

BATCH_MIN = 16
BATCH_ROUNDS = 16  # a batch holds this many deliveries per lane: the database's work per batch is shared

E = TypeVar("E")
R = TypeVar("R")


class DeliveryJob:
    """Claims due deliveries in batches and sends them, ``settings.delivery_concurrency`` at a time.

    POSTs go through one :class:`~node.activitypub.transport.poster.InboxPoster` (``poster``, default: built
    from the settings), whose keep-alive connections serve every batch. ``fetcher_factory`` builds the
    fetcher that reads the inbox of a recipient that was not in the cache at publication, unless
    ``resolve_inbox`` is given; ``accounts`` finds the people whose keys sign (``groups`` the groups);
    ``clock`` and ``rng`` exist for tests.
    """

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        accounts: Accounts,
        groups: Groups | None = None,
        poster: InboxPoster | None = None,
        fetcher_factory: FetcherFactory | None = None,
        resolve_inbox: ResolveInbox | None = None,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int | None = None,
        lease: timedelta | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.accounts = accounts
        self.groups = groups
        self.concurrency = settings.delivery_concurrency
        self.batch_size = batch_size or max(BATCH_MIN, BATCH_ROUNDS * self.concurrency)
        self._poster = poster
        per_origin = poster.per_origin if poster is not None else PER_ORIGIN
        # The worst case: every inbox lookup and every POST takes the whole fetch timeout, lookups go
        # ``concurrency`` at a time, and POSTs all go to one server, ``per_origin`` at a time.
        lookups = math.ceil(self.batch_size / self.concurrency)
        posts = math.ceil(self.batch_size / max(1, min(self.concurrency, per_origin)))
        self.lease = lease or timedelta(seconds=settings.fetch_timeout_seconds * (lookups + posts + 1) + 30)
        self.give_up = timedelta(hours=settings.delivery_give_up_hours)
        self.clock = clock
        self.rng = rng or random.Random()
        self._factory = fetcher_factory or node_fetcher_factory(settings, engine)
        self._resolve_inbox = resolve_inbox
        self._fetcher: Fetcher | None = None
        self._writing: tuple[list[Outcome], asyncio.Future[None]] | None = None

    async def run_once(self) -> int:
        """Claim one batch of due deliveries and attempt each; how many were claimed.

        The outcomes are written in a worker thread while the next batch is being claimed and sent, so
        that the database's commit overlaps the network and the signing; the next call, or
        :meth:`aclose`, waits for that write. A write that fails is logged, and its deliveries, still
        ``sending``, are claimed again when their lease expires.
        """
        if self.engine.dialect.name == "sqlite":
            await self._written()  # one writer at a time: the claim would only wait for the write's lock
        claiming = asyncio.ensure_future(anyio.to_thread.run_sync(self._claim))
        await self._written()
        batch = await claiming
        if not batch.items:
            return 0
        outcomes: list[Outcome] = []
        try:
            ready: list[tuple[ClaimedDelivery, str, HttpSignatureAuth]] = []
            unresolved: list[tuple[ClaimedDelivery, HttpSignatureAuth]] = []
            for item in batch.items:
                signer = batch.signers.get(item.actor_uri)
                early = delivery.precheck(item, signer)
                if early is not None:
                    outcomes.append(early)
                elif item.inbox_url is None:
                    assert signer is not None
                    unresolved.append((item, signer))
                else:
                    assert signer is not None
                    ready.append((item, item.inbox_url, signer))
            if unresolved:
                ready += await self._resolve_all(unresolved, outcomes)
            await self._in_lanes(ready, self._send, outcomes.append)
        finally:
            self._writing = (
                outcomes,
                asyncio.ensure_future(anyio.to_thread.run_sync(self._record, outcomes)),
            )
        return len(batch.items)

    async def _written(self) -> None:
        """Wait for the outcomes of the previous batch to be written; log those not delivered."""
        if self._writing is None:
            return
        outcomes, writing = self._writing
        self._writing = None
        try:
            await writing
        except Exception:
            log.exception("writing %d delivery outcomes failed; they will be sent again", len(outcomes))
            return
        for outcome in outcomes:
            METRICS.inc("asasap_deliveries_total", outcome=outcome.state.value)
            if outcome.state is not delivery.S.DELIVERED:
                log.info(
                    "delivery %s to %s: %s %s",
                    outcome.delivery_id,
                    outcome.target,
                    outcome.state.value,
                    outcome.error,
                )

    async def _resolve_all(
        self, unresolved: list[tuple[ClaimedDelivery, HttpSignatureAuth]], outcomes: list[Outcome]
    ) -> list[tuple[ClaimedDelivery, str, HttpSignatureAuth]]:
        """Find the inboxes of recipients not in the cache; those that may be posted to."""
        if self._resolve_inbox is None:
            await self.fetcher()  # built once, before the lanes that share it
        items = [item for item, _ in unresolved]
        found: dict[int, str | Outcome] = {}

        async def resolve(item: ClaimedDelivery) -> None:
            found[item.id] = await self._resolve(item)

        await self._in_lanes(items, resolve, lambda _: None)
        pairs = [(item, found[item.id]) for item in items]
        checked = await anyio.to_thread.run_sync(self._check_resolved, pairs)
        ready: list[tuple[ClaimedDelivery, str, HttpSignatureAuth]] = []
        for (item, signer), (_, inbox), refused in zip(unresolved, pairs, checked, strict=True):
            if refused is not None:
                outcomes.append(refused)
            elif isinstance(inbox, str):
                ready.append((item, inbox, signer))
            else:
                outcomes.append(inbox)
        return ready

    def poster(self) -> InboxPoster:
        """The poster of every delivery, built on first use."""
        if self._poster is None:
            self._poster = InboxPoster.from_settings(self.settings)
        return self._poster

    async def fetcher(self) -> Fetcher:
        """The fetcher, built on first use (in a thread: the default one reads the node's key)."""
        if self._fetcher is None:
            self._fetcher = await anyio.to_thread.run_sync(self._factory)
        return self._fetcher

    async def aclose(self) -> None:
        """Wait for the last outcomes to be written; close the poster's and the fetcher's connections."""
        await self._written()
        if self._poster is not None:
            poster, self._poster = self._poster, None
            await poster.aclose()
        if self._fetcher is not None:
            fetcher, self._fetcher = self._fetcher, None
            await fetcher.aclose()

    async def _in_lanes(
        self, entries: Sequence[E], handle: Callable[[E], Awaitable[R]], done: Callable[[R], None]
    ) -> None:
        """``handle`` every entry, ``concurrency`` at a time, passing each result to ``done``.

        A few lanes pull from one iterator, rather than a task per entry behind a semaphore.
        """
        pending = iter(entries)

        async def lane() -> None:
            for entry in pending:
                done(await handle(entry))

        await asyncio.gather(*(lane() for _ in range(min(self.concurrency, len(entries)))))

    async def _resolve(self, item: ClaimedDelivery) -> str | Outcome:
        try:
            if self._resolve_inbox is not None:
                return await self._resolve_inbox(item.target)
            return await delivery.fetch_inbox(await self.fetcher(), item.target)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the delivery's outcome
            return delivery.settle(item, exc, now=self.clock(), give_up=self.give_up, rng=self.rng)

    async def _send(self, entry: tuple[ClaimedDelivery, str, HttpSignatureAuth]) -> Outcome:
        item, inbox, signer = entry
        error: Exception | None = None
        status: int | None = None
        try:
            status = await delivery.post(self.poster(), item, inbox, signer)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the delivery's outcome
            error = exc
        return delivery.settle(
            item, error, now=self.clock(), give_up=self.give_up, inbox=inbox, status=status, rng=self.rng
        )

    # -- database work, run in threads

    def _claim(self) -> Batch:
        with session_scope(self.engine, write=True) as session:
            return delivery.claim(
                self.settings,
                now=self.clock(),
                limit=self.batch_size,
                lease=self.lease,
                session=session,
                accounts=self.accounts,
                groups=self.groups,
            )

    def _check_resolved(self, found: list[tuple[ClaimedDelivery, str | Outcome]]) -> list[Outcome | None]:
        with session_scope(self.engine, write=True) as session:
            return [
                delivery.check_resolved(self.settings, item, inbox, session=session)
                if isinstance(inbox, str)
                else None
                for item, inbox in found
            ]

    def _record(self, outcomes: list[Outcome]) -> None:
        with session_scope(self.engine, write=True) as session:
            delivery.record(outcomes, now=self.clock(), session=session)
