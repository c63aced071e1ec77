"""The search's periodic work, as a worker job: alerts of saved searches (:func:`node.search.saved.alert`)
at most once every ``interval`` seconds. Proposals of this node and those other nodes send are both rows
of the same table, so one pass covers both, whichever path stored them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from node.core.jobs import Job, Periodic, Step
from node.core.timeutil import utcnow
from node.search import saved
from node.settings import Settings

log = logging.getLogger("asasap.search")

INTERVAL_SECONDS = 30.0


class SavedSearchAlerts(Periodic):
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
        super().__init__(engine, interval=interval, monotonic=monotonic, logger=log)
        self.settings = settings
        self.clock = clock

    def steps(self) -> list[Step]:
        now, settings = self.clock(), self.settings
        return [("saved search alerts", lambda s: saved.alert(settings, now, session=s))]


def jobs(settings: Settings, engine: Engine) -> list[Job]:
    """The search's jobs for the node's worker."""
    return [SavedSearchAlerts(settings, engine)]
