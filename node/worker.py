"""The node's federation worker as a whole: delivery and inbox processing sharing one remote-actor cache,
run inside ``asasap serve`` (embedded) or by ``asasap worker``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy import Engine

from node.accounts.actors import DIRECTORY
from node.activitypub import social
from node.activitypub.actors.remote import RemoteActors
from node.activitypub.inbox.processing import InboxJob
from node.activitypub.outbox.job import DeliveryJob
from node.core.jobs import Job, Worker
from node.market.agreements import federation as agreement_federation
from node.market.evaluations import federation as evaluation_federation
from node.market.jobs import MarketJob
from node.market.proposals import federation as proposal_federation
from node.market.proposals.jobs import PeerSoftwareJob
from node.settings import Settings

log = logging.getLogger("asasap.worker")

# The social graph's inbox handlers are registered when this module is imported.
HANDLER_MODULES = (social, proposal_federation, agreement_federation, evaluation_federation)


class _RemoteActorsCloser:
    """Closes the shared remote-actor cache with the worker's other jobs (it handles nothing itself)."""

    name = "remote-actors"

    def __init__(self, remote: RemoteActors) -> None:
        self.remote = remote

    async def run_once(self) -> int:
        return 0

    async def aclose(self) -> None:
        await self.remote.aclose()


def node_worker(settings: Settings, engine: Engine, remote: RemoteActors | None = None) -> Worker:
    """Every background job of a node: deliveries (inboxes resolved through the cache) and the inbox."""
    owned = remote is None
    remote = remote or RemoteActors(settings, engine)
    jobs: list[Job] = [
        DeliveryJob(settings, engine, resolve_inbox=remote.inbox_for, accounts=DIRECTORY),
        InboxJob(settings, engine, remote=remote),
        MarketJob(settings, engine),
        PeerSoftwareJob(engine, remote),
    ]
    if owned:
        jobs.append(_RemoteActorsCloser(remote))
    return Worker(settings, engine, jobs)


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
