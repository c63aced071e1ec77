"""The node's background work, assembled: the jobs of every package sharing one remote-actor cache, run
inside ``asasap serve`` (embedded) or by ``asasap worker``; and the inbox's dispatcher, the one place
that says which package processes which incoming activity."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from node.accounts.actors import DIRECTORY
from node.activitypub.actors.remote import RemoteActors
from node.activitypub.inbox.context import Outcome, ProcessingContext
from node.activitypub.inbox.dispatch import Dispatcher
from node.activitypub.inbox.processing import InboxJob
from node.activitypub.outbox.job import DeliveryJob
from node.activitypub.social import inbound as social_inbound
from node.activitypub.vocab import Activity
from node.conversations import federation as conversations_federation
from node.core import limits, mail, processes
from node.core.jobs import Job, Worker
from node.emails import notices as email_notices
from node.emails import push as email_push
from node.groups import federation as groups_federation
from node.groups import jobs as groups_jobs
from node.groups.actors import DIRECTORY as GROUPS
from node.market import federation as market_federation
from node.market import jobs as market_jobs
from node.search import jobs as search_jobs
from node.settings import Settings
from node.telemanagement import inbox as telemanagement_inbox
from node.timebank import federation as timebank_federation
from node.timebank import jobs as timebank_jobs

log = logging.getLogger("asasap.worker")


def inbox_dispatcher() -> Dispatcher:
    """Who processes incoming activities: the social graph first (follows, relays, an actor's own
    ``Update`` and ``Delete``), then the groups (membership, roles, a group's announces: what a group
    announces goes through this same dispatcher again, as its actor's), then the time bank (transfers
    between nodes and their answers, which the marketplace would read as a bid's ``Accept``/``Reject``),
    then the conversations (messages and reports, which the marketplace would read as replies and
    disputes), then the marketplace."""
    dispatcher: Dispatcher

    def announced(ctx: ProcessingContext, activity: Activity) -> tuple[str | None, Outcome]:
        return dispatcher.run(ctx, activity)

    dispatcher = Dispatcher(
        [
            social_inbound.inbox_handlers(DIRECTORY, GROUPS),
            groups_federation.inbox_handlers(GROUPS, announced=announced),
            timebank_federation.inbox_handlers(),
            telemanagement_inbox.inbox_handlers(),  # clocks of visits given to other nodes (issue 11)
            conversations_federation.inbox_handlers(),
            market_federation.inbox_handlers(),
        ]
    )
    return dispatcher


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
    the marketplace's periodic work, and the time bank's (payments, transfers between nodes)."""
    owned = remote is None
    remote = remote or RemoteActors(settings, engine)
    jobs: list[Job] = [
        DeliveryJob(settings, engine, resolve_inbox=remote.inbox_for, accounts=DIRECTORY, groups=GROUPS),
        InboxJob(settings, engine, remote=remote, dispatcher=dispatcher or inbox_dispatcher()),
        *market_jobs.jobs(settings, engine, remote),
        *timebank_jobs.jobs(settings, engine),
        *groups_jobs.jobs(settings, engine),
        *search_jobs.jobs(settings, engine),  # saved searches (issue 10)
        *mail.jobs(settings, engine),  # outgoing e-mail (issue 14)
        *email_notices.jobs(settings, engine),  # notifications by e-mail (issue 14)
        *email_push.jobs(settings, engine),  # notifications by Web Push (issue 14)
        processes.Heartbeat(engine),
        limits.PruneJob(engine),
    ]
    if owned:
        jobs.append(_RemoteActorsCloser(remote))
    return Worker(settings, engine, jobs)
