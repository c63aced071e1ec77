"""Matching's periodic work, as a worker job: new demands notify providers, new offers the authors of the
demands they answer (:mod:`node.search.matching.alerts`), at most once every ``interval`` seconds, each
pass in its own transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from node.core.jobs import Periodic, Step
from node.core.timeutil import utcnow
from node.search.matching import alerts
from node.settings import Settings

log = logging.getLogger("asasap.matching")

INTERVAL_SECONDS = 30.0


class MatchAlerts(Periodic):
    """Two steps, each in its own transaction: demands, then offers. Safe with several workers: a step
    moves its cursor in the transaction that notifies, and the pair (proposal, person) is unique."""

    name = "match alerts"

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
        return [
            ("match new demands", lambda s: alerts.match_new_demands(settings, now, session=s)),
            ("match new offers", lambda s: alerts.match_new_offers(settings, now, session=s)),
        ]
