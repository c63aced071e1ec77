"""The groups' periodic work, as a worker job: assigning a member, by its group's rule, to each new
agreement of a group that shares work automatically (round robin, first available), and telling the
coordinators what happened to their group in the marketplace (:mod:`node.groups.watch`)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from node.core.jobs import Job, Periodic, Step
from node.groups.watch import tell_coordinators
from node.groups.work import assign_due
from node.settings import Settings

log = logging.getLogger("asasap.groups")

INTERVAL_SECONDS = 10.0


class GroupsJob(Periodic):
    """Runs :func:`~node.groups.work.assign_due` and :func:`~node.groups.watch.tell_coordinators` at
    most once every ``interval`` seconds."""

    name = "groups"
    seconds = INTERVAL_SECONDS
    logger = log

    def steps(self) -> list[Step]:
        settings = self.settings
        return [
            ("groups job: assignment", lambda session: assign_due(settings, session=session)),
            ("groups job: notifications", lambda session: tell_coordinators(settings, session=session)),
        ]


def jobs(settings: Settings, engine: Engine) -> list[Job]:
    """The groups' jobs for the node's worker."""
    return [GroupsJob(settings, engine)]
