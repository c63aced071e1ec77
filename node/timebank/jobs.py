"""The time bank's background work, as a worker job: accounts to open (with the starting credit),
agreements to pay, transfers a limit held back, offers to other nodes without an answer, accounts of
deleted people to close, the digests of a clearing account opened before they were kept (once). Each
step runs in its own transaction; on a market node the job does nothing."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from node.core.jobs import Job, Periodic, Step
from node.settings import Settings
from node.timebank import closing, exchange, payments, statements, transfers
from node.timebank.policy import Policy
from node.timebank.records import now as record_time

log = logging.getLogger("asasap.timebank")

INTERVAL_SECONDS = 5.0


class TimebankJob(Periodic):
    """Runs the steps (see the module docs) at most once every ``interval`` seconds."""

    name = "timebank"
    logger = log
    now = staticmethod(record_time)

    def every(self, settings: Settings) -> float:
        return min(INTERVAL_SECONDS, settings.timebank_retry_seconds)

    @property
    def policy(self) -> Policy:
        return Policy.of(self.settings)

    async def run_once(self) -> int:
        if not self.policy.enabled:
            return 0
        return await super().run_once()

    def steps(self) -> list[Step]:
        now = self.clock()
        settings, policy = self.settings, self.policy
        return [
            ("accounts opened", lambda s: transfers.open_accounts(s, settings, policy)),
            ("payments started", lambda s: payments.pay_due(s, settings, policy, now)),
            ("waiting transfers", lambda s: transfers.retry_waiting(s, settings, policy, now)),
            ("offers sent again", lambda s: exchange.offer_due(s, settings, policy, now)),
            ("accounts closed", lambda s: closing.close_deleted(s, settings, policy, now)),
            ("clearing digests built", lambda s: statements.build_missing(s, settings)),
        ]


def jobs(settings: Settings, engine: Engine) -> list[Job]:
    """The time bank's jobs for the node's worker."""
    return [TimebankJob(settings, engine)]
