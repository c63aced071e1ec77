"""The marketplace's periodic work, as a worker job: agreements completed by silence, bids and
proposals whose time is up, evaluations whose double-blind window closed. Run by the node's worker
(embedded or ``asasap worker``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

import anyio.to_thread
from sqlalchemy import Engine
from sqlmodel import Session

from node.activitypub.actors.remote import RemoteActors
from node.core.jobs import Job, run_steps
from node.core.timeutil import utcnow
from node.market.agreements import service as agreements
from node.market.bids import service as bids
from node.market.evaluations import service as evaluations
from node.market.proposals import service as proposals
from node.market.proposals.jobs import PeerSoftwareJob
from node.settings import Settings

log = logging.getLogger("asasap.market")

INTERVAL_SECONDS = 60.0


class MarketJob:
    """Runs :func:`~node.market.agreements.service.complete_by_silence`,
    :func:`~node.market.bids.service.expire_bids`, :func:`~node.market.proposals.service.expire_due` and
    :func:`~node.market.evaluations.service.reveal_due_evaluations` at most once every ``interval`` seconds,
    each in its
    own transaction (one failing does not hold the others back). Safe with several workers: each step
    only moves rows that are still due, in a write transaction."""

    name = "market"

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        interval: float = INTERVAL_SECONDS,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.interval = interval
        self.clock = clock
        self.monotonic = monotonic
        self._last: float | None = None

    async def run_once(self) -> int:
        """Do what is due if the interval has passed since the last run; how many rows changed."""
        started = self.monotonic()
        if self._last is not None and started - self._last < self.interval:
            return 0
        self._last = started
        return await anyio.to_thread.run_sync(self._run)

    def _run(self) -> int:
        now = self.clock()
        steps: list[tuple[str, Callable[[Session], int]]] = [
            ("proposals expired", lambda s: proposals.expire_due(self.settings, now, session=s)),
            ("bids expired", lambda s: bids.expire_bids(now=now, session=s)),
            (
                "agreements completed",
                lambda s: agreements.complete_by_silence(self.settings, now=now, session=s),
            ),
            (
                "evaluations revealed",
                lambda s: evaluations.reveal_due_evaluations(self.settings, now, session=s),
            ),
        ]
        return run_steps(self.engine, steps, log)

    async def aclose(self) -> None:
        return None


def jobs(settings: Settings, engine: Engine, remote: RemoteActors) -> list[Job]:
    """The marketplace's jobs for the node's worker: its periodic work, and learning which servers read
    proposals."""
    return [MarketJob(settings, engine), PeerSoftwareJob(settings, engine, remote)]
