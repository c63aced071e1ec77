"""The marketplace's periodic work, as a worker job: agreements completed by silence, bids and
proposals whose time is up, evaluations whose double-blind window closed. Run by the node's worker
(embedded or ``asasap worker``)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from node.activitypub.actors.remote import RemoteActors
from node.core.jobs import Job, Periodic, Step
from node.market.agreements import service as agreements
from node.market.bids import service as bids
from node.market.evaluations import service as evaluations
from node.market.proposals import service as proposals
from node.market.proposals.jobs import PeerSoftwareJob
from node.market.proposals.remote_photos import RemotePhotosJob
from node.settings import Settings

log = logging.getLogger("asasap.market")

INTERVAL_SECONDS = 60.0


class MarketJob(Periodic):
    """Runs :func:`~node.market.agreements.service.complete_by_silence`,
    :func:`~node.market.bids.service.expire_bids`, :func:`~node.market.proposals.service.expire_due` and
    :func:`~node.market.evaluations.service.reveal_due_evaluations` at most once every ``interval`` seconds,
    each in its own transaction (one failing does not hold the others back). Safe with several workers:
    each step only moves rows that are still due, in a write transaction."""

    name = "market"
    seconds = INTERVAL_SECONDS
    logger = log

    def steps(self) -> list[Step]:
        now, settings = self.clock(), self.settings
        return [
            ("proposals expired", lambda s: proposals.expire_due(settings, now, session=s)),
            ("bids expired", lambda s: bids.expire_bids(now=now, session=s)),
            ("agreements completed", lambda s: agreements.complete_by_silence(settings, now=now, session=s)),
            ("evaluations revealed", lambda s: evaluations.reveal_due_evaluations(settings, now, session=s)),
        ]


def jobs(settings: Settings, engine: Engine, remote: RemoteActors) -> list[Job]:
    """The marketplace's jobs for the node's worker: its periodic work, learning which servers read
    proposals, and copying the photos of other nodes' proposals."""
    return [
        MarketJob(settings, engine),
        PeerSoftwareJob(settings, engine, remote),
        RemotePhotosJob(settings, engine, remote),
    ]
