"""The search's periodic work, as worker jobs, each at most once every ``interval`` seconds: alerts of saved
searches (:func:`node.search.saved.alert`) and of matches (:mod:`node.search.matching.alerts`), and the
SQLite planner's statistics that let a search walk the right index (hourly). Proposals
of this node and those other nodes send are both rows of the same table, so one pass covers both,
whichever path stored them."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from node.core.jobs import Job, Periodic, Step
from node.search import saved
from node.search.backends import sqlite
from node.search.matching import alerts
from node.settings import Settings

log = logging.getLogger("asasap.search")


class _Alerts(Periodic):
    """A periodic job of the search, every ``ASASAP_ALERTS_INTERVAL_SECONDS``."""

    logger = log

    def every(self, settings: Settings) -> float:
        return settings.alerts_interval_seconds


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


class PlannerStatistics(Periodic):
    """Refreshes SQLite's statistics (:func:`~node.search.backends.sqlite.refresh_statistics`) every hour:
    the proposals grow slowly (a run reads every index: about a second for 100,000 proposals)."""

    name = "planner statistics"
    seconds = 3600.0
    logger = log

    def steps(self) -> list[Step]:
        return [("sqlite analyze", lambda s: sqlite.refresh_statistics(session=s))]


def jobs(settings: Settings, engine: Engine) -> list[Job]:
    """The search's jobs for the node's worker."""
    return [
        SavedSearchAlerts(settings, engine),
        MatchAlerts(settings, engine),
        PlannerStatistics(settings, engine),
    ]
