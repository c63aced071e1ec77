"""The search's periodic work, as worker jobs, each at most once every ``interval`` seconds: alerts of saved
searches (:func:`node.search.saved.alert`) and of matches (:mod:`node.search.matching.alerts`). Proposals
of this node and those other nodes send are both rows of the same table, so one pass covers both,
whichever path stored them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from node.core.jobs import Job, Periodic, Step
from node.core.timeutil import utcnow
from node.search import saved
from node.search.matching import alerts
from node.settings import Settings

log = logging.getLogger("asasap.search")

class _Alerts(Periodic):
    """A periodic job of the search, with the node's settings and a clock."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        interval: float | None = None,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        every = settings.alerts_interval_seconds if interval is None else interval
        super().__init__(engine, interval=every, monotonic=monotonic, logger=log)
        self.settings = settings
        self.clock = clock


class SavedSearchAlerts(_Alerts):
    """Runs :func:`~node.search.saved.alert` in one transaction. Safe with several workers: a second pass
    over the same rows finds their ``seen_up_to`` already moved (the write lock orders them)."""

    name = "saved searches"

    def steps(self) -> list[Step]:
        now, settings = self.clock(), self.settings
        return [("saved search alerts", lambda s: saved.alert(settings, now, session=s))]


class MatchAlerts(_Alerts):
    """Two steps, each in its own transaction: new demands notify providers, new offers the authors of the
    demands they answer. Safe with several workers: a step moves its cursor in the transaction that
    notifies, and a (proposal, person) pair is unique."""

    name = "match alerts"

    def steps(self) -> list[Step]:
        now, settings = self.clock(), self.settings
        return [
            ("match new demands", lambda s: alerts.match_new_demands(settings, now, session=s)),
            ("match new offers", lambda s: alerts.match_new_offers(settings, now, session=s)),
        ]


def jobs(settings: Settings, engine: Engine) -> list[Job]:
    """The search's jobs for the node's worker."""
    return [SavedSearchAlerts(settings, engine), MatchAlerts(settings, engine)]
