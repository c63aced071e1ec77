"""What telemanagement does with incoming activities, contributed to the node's dispatcher by
:func:`inbox_handlers` (before the marketplace, which reads other ``Create`` of an ``EconomicEvent`` as
the confirmation of an agreement):

- ``visit-clock``: ``Create`` of an ``EconomicEvent`` carrying ``clockKind``, by a provider of another
  node to whom one of our visits was given: checked and chained by
  :func:`node.telemanagement.federation.receive`.
"""

from __future__ import annotations

import logging

from node.activitypub.inbox.context import Outcome, PermanentFailure, ProcessingContext
from node.activitypub.inbox.dispatch import Contribution, contribution
from node.activitypub.vocab import Activity
from node.core.errors import DomainError
from node.telemanagement import door, federation

log = logging.getLogger("asasap.telemanagement")

VISIT_CLOCK = "visit-clock"


def classify(ctx: ProcessingContext, activity: Activity) -> str | None:
    """``visit-clock`` for a clock event of a visit, None for anything else."""
    event = activity.object
    if activity.type == "Create" and event is not None and event.get("type") == "EconomicEvent":
        return VISIT_CLOCK if "clockKind" in event else None
    return None


def on_clock(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """A provider of another node clocked one of our visits: record it once, or refuse it for good."""
    assert activity.object is not None
    try:
        clock = federation.clock_from_json(activity.object)
        if activity.actor != ctx.actor_uri:
            raise federation.Refused("the activity's actor is not its signer")
        link = federation.receive(ctx.session, ctx.settings, clock, ctx.actor_uri)
    except door.WrongPin as exc:
        # Refused, but the wrong PIN stays counted: the handler's changes are kept, nothing else made.
        log.info("refused %s from %s: %s", ctx.row.activity_id, ctx.actor_uri, exc)
        return Outcome.IGNORED
    except (federation.Refused, DomainError) as exc:
        # The reason is for the log only (the message may name a refusal, never private data).
        log.info("refused %s from %s: %s", ctx.row.activity_id, ctx.actor_uri, exc)
        raise PermanentFailure(str(exc)) from None
    return Outcome.DONE if link is not None else Outcome.IGNORED


def inbox_handlers() -> Contribution:
    """Telemanagement's part of the node's dispatcher."""
    return contribution(
        "telemanagement",
        types={"Create"},
        kinds={VISIT_CLOCK},
        classify=classify,
        handlers={VISIT_CLOCK: (on_clock,)},
    )
