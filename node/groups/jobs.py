"""The groups' periodic work, as a worker job: assigning a member, by its group's rule, to each new
agreement of a group that shares work automatically (round robin, first available)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio.to_thread
from sqlalchemy import Engine

from node.core.db import session_scope
from node.core.jobs import Job
from node.groups.work import assign_due
from node.settings import Settings

log = logging.getLogger("asasap.groups")

INTERVAL_SECONDS = 10.0


class GroupsJob:
    """Runs :func:`~node.groups.work.assign_due` at most once every ``interval`` seconds."""

    name = "groups"

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        interval: float = INTERVAL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.interval = interval
        self.monotonic = monotonic
        self._last: float | None = None

    async def run_once(self) -> int:
        started = self.monotonic()
        if self._last is not None and started - self._last < self.interval:
            return 0
        self._last = started
        return await anyio.to_thread.run_sync(self._run)

    def _run(self) -> int:
        try:
            with session_scope(self.engine, write=True) as session:
                return assign_due(self.settings, session=session)
        except Exception:
            log.exception("groups job: assignment failed")
            return 0

    async def aclose(self) -> None:
        return None


def jobs(settings: Settings, engine: Engine) -> list[Job]:
    """The groups' jobs for the node's worker."""
    return [GroupsJob(settings, engine)]
