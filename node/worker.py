"""The node's background work, assembled: the jobs of every package sharing one remote-actor cache, run
inside ``asasap serve`` (embedded) or by ``asasap worker``; and the inbox's dispatcher, the one place
that says which package processes which incoming activity."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from node.accounts.actors import DIRECTORY
from node.activitypub.actors.remote import RemoteActors
from node.activitypub.inbox.dispatch import Dispatcher
from node.activitypub.inbox.processing import InboxJob
from node.activitypub.outbox.job import DeliveryJob
from node.activitypub.social import inbound as social_inbound
from node.core import limits, processes
from node.core.jobs import Job, Worker
from node.market import federation as market_federation
from node.market import jobs as market_jobs
from node.settings import Settings

log = logging.getLogger("asasap.worker")


def inbox_dispatcher() -> Dispatcher:
    """Who processes incoming activities: the social graph first (follows, relays, an actor's own
    ``Update`` and ``Delete``), then the marketplace."""
    return Dispatcher([social_inbound.inbox_handlers(DIRECTORY), market_federation.inbox_handlers()])


class _RemoteActorsCloser:
    """Closes the shared remote-actor cache with the worker's other jobs (it handles nothing itself)."""

    name = "remote-actors"

    def __init__(self, remote: RemoteActors) -> None:
        self.remote = remote

    async def run_once(self) -> int:
        return 0

    async def aclose(self) -> None:
        await self.remote.aclose()


def node_worker(
    settings: Settings,
    engine: Engine,
    remote: RemoteActors | None = None,
    *,
    dispatcher: Dispatcher | None = None,
) -> Worker:
    """Every background job of a node: deliveries (inboxes resolved through the cache), the inbox, and
    the marketplace's periodic work."""
    owned = remote is None
    remote = remote or RemoteActors(settings, engine)
    jobs: list[Job] = [
        DeliveryJob(settings, engine, resolve_inbox=remote.inbox_for, accounts=DIRECTORY),
        InboxJob(settings, engine, remote=remote, dispatcher=dispatcher or inbox_dispatcher()),
        *market_jobs.jobs(settings, engine, remote),
        processes.Heartbeat(engine),
        limits.PruneJob(engine),
    ]
    if owned:
        jobs.append(_RemoteActorsCloser(remote))
    return Worker(settings, engine, jobs)
