"""What telemanagement does with incoming activities, contributed to the node's dispatcher by
:func:`inbox_handlers` (before the marketplace, which reads other ``Create`` of an ``EconomicEvent`` as
the confirmation of an agreement):

- ``visit-clock``: ``Create`` of an ``EconomicEvent`` carrying ``clockKind``, by a provider of another
  node to whom one of our visits was given: checked and chained by
  :func:`node.telemanagement.federation.receive`;
- ``visit-given``: ``Offer`` of a ``Commitment`` (a planned visit) by the node actor of the node holding
  it, to one of our providers: kept for their day by :func:`node.telemanagement.remote_visits.receive_given`;
- ``visit-withdrawn``: ``Delete`` of such a visit we keep, by its holder (cancelled or given to someone
  else): removed by :func:`node.telemanagement.remote_visits.receive_withdrawn`.
"""

from __future__ import annotations

import logging

from node.activitypub.inbox.context import Outcome, PermanentFailure, ProcessingContext
from node.activitypub.inbox.dispatch import Contribution, contribution
from node.activitypub.vocab import Activity
from node.core.errors import DomainError
from node.telemanagement import door, federation, remote_visits

log = logging.getLogger("asasap.telemanagement")

VISIT_CLOCK = "visit-clock"
VISIT_GIVEN = "visit-given"
VISIT_WITHDRAWN = "visit-withdrawn"


def classify(ctx: ProcessingContext, activity: Activity) -> str | None:
    """``visit-clock``, ``visit-given`` or ``visit-withdrawn`` (see the module docs), else None."""
    event = activity.object
    if activity.type == "Create" and event is not None and event.get("type") == "EconomicEvent":
        return VISIT_CLOCK if "clockKind" in event else None
    if activity.type == "Offer" and event is not None and event.get("type") == "Commitment":
        return VISIT_GIVEN if "hasBeginning" in event else None
    if activity.type == "Delete" and activity.object_id is not None:
        return VISIT_WITHDRAWN if remote_visits.is_known(ctx.session, activity.object_id) else None
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
        raise _refuse(ctx, exc) from None
    return Outcome.DONE if link is not None else Outcome.IGNORED


def _refuse(ctx: ProcessingContext, exc: Exception) -> PermanentFailure:
    log.info("refused %s from %s: %s", ctx.row.activity_id, ctx.actor_uri, exc)
    return PermanentFailure(str(exc))


def on_given(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """Another node gave one of our providers a visit it holds (or changed it): keep it for their day."""
    assert activity.object is not None
    try:
        planned = remote_visits.planned_from_json(activity.object)
        if activity.actor != ctx.actor_uri:
            raise federation.Refused("the activity's actor is not its signer")
        remote_visits.receive_given(ctx.session, ctx.settings, planned, ctx.actor_uri)
    except federation.Refused as exc:
        raise _refuse(ctx, exc) from None
    return Outcome.DONE


def on_withdrawn(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """The holder of a visit we keep took it back: it leaves the provider's day."""
    assert activity.object_id is not None
    try:
        if activity.actor != ctx.actor_uri:
            raise federation.Refused("the activity's actor is not its signer")
        done = remote_visits.receive_withdrawn(ctx.session, activity.object_id, ctx.actor_uri)
    except federation.Refused as exc:
        raise _refuse(ctx, exc) from None
    return Outcome.DONE if done else Outcome.IGNORED


def inbox_handlers() -> Contribution:
    """Telemanagement's part of the node's dispatcher."""
    return contribution(
        "telemanagement",
        types={"Create", "Offer", "Delete"},
        kinds={VISIT_CLOCK, VISIT_GIVEN, VISIT_WITHDRAWN},
        classify=classify,
        handlers={VISIT_CLOCK: (on_clock,), VISIT_GIVEN: (on_given,), VISIT_WITHDRAWN: (on_withdrawn,)},
    )
