"""Background job of offers and demands, for the node's worker (:class:`~node.activitypub.outbox.job.Job`):
learning the software of known servers from NodeInfo (expiry runs in
:class:`node.market.jobs.MarketJob`)."""

from __future__ import annotations

import anyio
import anyio.to_thread
from sqlalchemy import Engine

from node.activitypub.actors.remote import RemoteActors
from node.core.db import session_scope
from node.core.timeutil import utcnow
from node.market.proposals.notes import learn, peers_to_learn


class PeerSoftwareJob:
    """Learns the software of known servers from their NodeInfo, a few at a time; a server that
    gave nothing usable is asked again after a day."""

    name = "peer-software"

    def __init__(
        self, engine: Engine, remote: RemoteActors, *, batch: int = 8, timeout: float = 10.0
    ) -> None:
        self.engine = engine
        self.remote = remote
        self.batch = batch
        self.timeout = timeout

    async def run_once(self) -> int:
        def find() -> dict[str, str]:
            with session_scope(self.engine) as session:
                return peers_to_learn(now=utcnow(), limit=self.batch, session=session)

        origins = await anyio.to_thread.run_sync(find)
        if not origins:
            return 0
        return await learn(self.engine, await self.remote.fetcher(), origins, timeout=self.timeout)

    async def aclose(self) -> None:
        return None
