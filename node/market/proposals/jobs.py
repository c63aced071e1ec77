"""Background job of offers and demands, for the node's worker (:class:`~node.core.jobs.Job`): learning
the software of servers from their NodeInfo, and publishing the changes that waited for it
(:mod:`node.market.proposals.publishing`). Expiry runs in :class:`node.market.jobs.MarketJob`."""

from __future__ import annotations

import anyio
import anyio.to_thread
from sqlalchemy import Engine

from node.activitypub.actors.remote import RemoteActors
from node.core.db import session_scope
from node.core.timeutil import utcnow
from node.market.proposals import publishing
from node.market.proposals.notes import domains_to_learn, learn, peers_to_learn
from node.settings import Settings


class PeerSoftwareJob:
    """Learns the software of servers from their NodeInfo, a few at a time (first those a waiting change
    is addressed to, then any known server); a server that gave nothing usable is asked again after a
    day. Then publishes the waiting changes whose audience is known."""

    name = "peer-software"

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        remote: RemoteActors,
        *,
        batch: int = 8,
        timeout: float = 10.0,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.remote = remote
        self.batch = batch
        self.timeout = timeout

    def _to_learn(self) -> dict[str, str]:
        now = utcnow()
        with session_scope(self.engine) as session:
            origins: dict[str, str] = {}
            for author in publishing.waiting_authors(session=session):
                wanted = domains_to_learn(self.settings, author, now=now, limit=self.batch, session=session)
                origins.update(wanted)
            if len(origins) < self.batch:
                for domain, origin in peers_to_learn(now=now, limit=self.batch, session=session).items():
                    origins.setdefault(domain, origin)
            return dict(list(origins.items())[: self.batch])

    def _publish_due(self) -> int:
        with session_scope(self.engine, write=True) as session:
            return publishing.publish_due(self.settings, session=session)

    async def run_once(self) -> int:
        """Ask a few servers, then publish what may go out now; how many servers and changes."""
        origins = await anyio.to_thread.run_sync(self._to_learn)
        asked = (
            await learn(self.engine, await self.remote.fetcher(), origins, timeout=self.timeout)
            if origins
            else 0
        )
        return asked + await anyio.to_thread.run_sync(self._publish_due)

    async def aclose(self) -> None:
        return None
