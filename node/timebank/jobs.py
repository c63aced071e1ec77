"""The time bank's background work, as a worker job: accounts to open (with the starting credit),
agreements to pay, transfers a limit held back, offers to other nodes without an answer, accounts of
deleted people to close. Each step runs in its own transaction; on a market node the job does nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

import anyio.to_thread
from sqlalchemy import Engine
from sqlmodel import Session

from node.core.jobs import Job, run_steps
from node.settings import Settings
from node.timebank import closing, exchange, payments, transfers
from node.timebank.policy import Policy
from node.timebank.records import now as record_time

log = logging.getLogger("asasap.timebank")

INTERVAL_SECONDS = 5.0


class TimebankJob:
    """Runs the steps (see the module docs) at most once every ``interval`` seconds."""

    name = "timebank"

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        interval: float | None = None,
        clock: Callable[[], datetime] = record_time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.policy = Policy.of(settings)
        self.interval = (
            interval if interval is not None else min(INTERVAL_SECONDS, settings.timebank_retry_seconds)
        )
        self.clock = clock
        self.monotonic = monotonic
        self._last: float | None = None

    async def run_once(self) -> int:
        if not self.policy.enabled:
            return 0
        started = self.monotonic()
        if self._last is not None and started - self._last < self.interval:
            return 0
        self._last = started
        return await anyio.to_thread.run_sync(self.run_steps)

    def run_steps(self) -> int:
        """Every step once, each in its own transaction; how many rows moved."""
        now = self.clock()
        settings, policy = self.settings, self.policy
        steps: list[tuple[str, Callable[[Session], int]]] = [
            ("accounts opened", lambda s: transfers.open_accounts(s, settings, policy)),
            ("payments started", lambda s: payments.pay_due(s, settings, policy, now)),
            ("waiting transfers", lambda s: transfers.retry_waiting(s, settings, policy, now)),
            ("offers sent again", lambda s: exchange.offer_due(s, settings, policy, now)),
            ("accounts closed", lambda s: closing.close_deleted(s, settings, policy, now)),
        ]
        return run_steps(self.engine, steps, log)

    async def aclose(self) -> None:
        return None


def jobs(settings: Settings, engine: Engine) -> list[Job]:
    """The time bank's jobs for the node's worker."""
    return [TimebankJob(settings, engine)]
