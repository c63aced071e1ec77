"""The search's periodic work, as a worker job: alerts of saved searches (:func:`node.search.saved.alert`)
at most once every ``interval`` seconds. Proposals of this node and those other nodes send are both rows
of the same table, so one pass covers both, whichever path stored them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

import anyio.to_thread
from sqlalchemy import Engine
from sqlmodel import Session

from node.core.jobs import Job, run_steps
from node.core.timeutil import utcnow
from node.search import saved
from node.settings import Settings

log = logging.getLogger("asasap.search")

INTERVAL_SECONDS = 30.0


class SavedSearchAlerts:
    """Runs :func:`~node.search.saved.alert` in one transaction. Safe with several workers: a second pass
    over the same rows finds their ``seen_up_to`` already moved (the write lock orders them)."""

    name = "saved searches"

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
        """Alert if the interval has passed since the last run; how many notifications were made."""
        started = self.monotonic()
        if self._last is not None and started - self._last < self.interval:
            return 0
        self._last = started
        return await anyio.to_thread.run_sync(self._run)

    def _run(self) -> int:
        now = self.clock()
        steps: list[tuple[str, Callable[[Session], int]]] = [
            ("saved search alerts", lambda s: saved.alert(self.settings, now, session=s)),
        ]
        return run_steps(self.engine, steps, log)

    async def aclose(self) -> None:
        return None


def jobs(settings: Settings, engine: Engine) -> list[Job]:
    """The search's jobs for the node's worker."""
    return [SavedSearchAlerts(settings, engine)]
