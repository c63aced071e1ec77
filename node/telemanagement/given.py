"""On the holder's node: telling a provider of another node which of our visits are theirs.

When a coordinator gives a visit to a provider's actor on another node, this node's actor ``Offer`` s
them a ValueFlows ``Commitment`` (the planned visit: our address of it, start, end, category and the
beneficiary's commune; see "Telemanagement" in FEDERATION.md), addressed to that actor only. Giving it
again re-sends the same commitment (the provider's node updates its copy). When the visit is cancelled,
given to one of our own providers or to another remote actor — by a coordinator, after an absence, to an
applicant chosen — a ``Delete`` of the commitment goes to the actor who had it: every change of hands goes
through :func:`hand_over`, every cancellation through :func:`cancel`. Nothing private travels: no name,
address, door code or health detail.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.outbox.publish import publish
from node.core.errors import N_, ValidationFailed
from node.core.timeutil import isoformat
from node.settings import Settings
from node.telemanagement import plans, visits, waits
from node.telemanagement.federation import CONTEXT, visit_uri
from node.telemanagement.lifecycles import VISIT_LIFECYCLE, VisitState
from node.telemanagement.models import Visit
from node.telemanagement.tables import RemoteAssignment

COMMITMENT_FIELDS = (
    "type", "id", "action", "provider", "receiver", "hasBeginning", "hasEnd", "resourceClassifiedAs",
    "commune",
)  # fmt: skip
"""Everything a planned visit may say: :func:`commitment_json` writes nothing else."""

MSG_PROVIDER = N_("Enter a username of this node, or the address of a provider's actor on another node.")


def commitment_json(settings: Settings, visit: Visit, commune: str, actor_uri: str) -> dict[str, Any]:
    """The ``Commitment`` of one planned visit given to ``actor_uri``."""
    document: dict[str, Any] = {
        "type": "Commitment",
        "id": visit_uri(settings, visit.id or 0),
        "action": "deliverService",
        "provider": actor_uri,
        "receiver": local.node_actor(settings).uri,
        "hasBeginning": isoformat(visit.starts_at),
        "hasEnd": isoformat(visit.ends_at),
        "resourceClassifiedAs": visit.category,
        "commune": commune,
    }
    assert set(document) <= set(COMMITMENT_FIELDS)
    return document


def _send(session: Session, settings: Settings, actor_uri: str, activity: dict[str, Any]) -> None:
    node = local.node_actor(settings)
    document = {"@context": CONTEXT, **activity, "to": [actor_uri]}
    publish(settings, session=session, actor=node, activity=document, recipients=[actor_uri])


def offer(session: Session, settings: Settings, visit: Visit, actor_uri: str) -> None:
    """Tell ``actor_uri``'s node that the visit is theirs (queued in this transaction)."""
    commune = visits.line_of(session, visit.id or 0).commune
    _send(
        session,
        settings,
        actor_uri,
        {"type": "Offer", "object": commitment_json(settings, visit, commune, actor_uri)},
    )


def take_back(session: Session, settings: Settings, visit_id: int) -> None:
    """If the visit was given to a remote actor: forget it, and tell that actor's node it is no longer
    theirs (a ``Delete`` of the commitment). Nothing happens otherwise, so calling it twice is harmless."""
    row = session.get(RemoteAssignment, visit_id)
    if row is None:
        return
    session.delete(row)
    session.flush()
    uri = visit_uri(settings, visit_id)
    tombstone = {"type": "Tombstone", "id": uri, "formerType": "Commitment"}
    _send(session, settings, row.actor_uri, {"type": "Delete", "object": tombstone})


def hand_over(
    session: Session, settings: Settings, visit: Visit, *, provider_id: int | None = None, actor_uri: str = ""
) -> None:
    """The one way a visit of ours changes hands: to one of our providers (``provider_id``), to a
    provider of another node (``actor_uri``, whose node is offered the commitment), or to no one. The
    remote provider who had it, if another, is told it is no longer theirs. Every path that gives a visit
    (a coordinator, a replacement after an absence, an applicant chosen, an absence freeing it, a whole
    series) goes through here, and cancellation through :func:`cancel`, so none forgets that node. A visit
    waiting for a replacement after an absence, given to someone, no longer waits: its wait is settled
    as when an applicant is chosen (:func:`node.telemanagement.waits.settle`)."""
    assert visit.id is not None and not (provider_id is not None and actor_uri)
    before = session.get(RemoteAssignment, visit.id)
    if before is not None and before.actor_uri != actor_uri:
        take_back(session, settings, visit.id)
    visit.provider_id = provider_id
    session.add(visit)
    if provider_id is not None or actor_uri:
        waits.settle(session, visit, provider_id=provider_id, actor_uri=actor_uri)
    if not actor_uri:
        session.flush()
        return
    row = session.get(RemoteAssignment, visit.id) or RemoteAssignment(visit_id=visit.id, actor_uri="")
    row.actor_uri = actor_uri
    session.add(row)
    session.flush()
    offer(session, settings, visit, actor_uri)


def is_actor(text: str) -> bool:
    """Whether a provider field names an actor of another node (its address) rather than a username."""
    return text.startswith("https://") or text.startswith("http://")


def parse_provider(session: Session, text: str, *, empty: bool = False) -> tuple[int | None, str]:
    """A provider field — a username of this node, or the address of a provider's actor on another
    node — as ``(provider_id, actor_uri)``; an empty field is no one when ``empty`` allows it."""
    name = text.strip()
    if not name and empty:
        return None, ""
    if not name or (is_actor(name) and (len(name) > 2048 or any(c.isspace() for c in name))):
        raise ValidationFailed(MSG_PROVIDER, fields={"provider": MSG_PROVIDER})
    if is_actor(name):
        return None, name
    return visits.provider_named(session, name).id, ""


def give_to_remote(
    session: Session, settings: Settings, user: User, visit_id: int, actor_uri: str
) -> RemoteAssignment:
    """Give a planned visit to a provider of another node (coordinators), and tell their node; the
    remote provider who had it before, if another, is told it is no longer theirs."""
    visit = visits.changeable(session, user, visit_id)
    if not is_actor(actor_uri):
        raise ValidationFailed(visits.MSG_PROVIDER, fields={"provider": visits.MSG_PROVIDER})
    hand_over(session, settings, visit, actor_uri=actor_uri)
    row = session.get(RemoteAssignment, visit_id)
    assert row is not None
    return row


def cancel(
    session: Session, settings: Settings, user: User, visit_id: int, reason: str, note: str = ""
) -> Visit:
    """Cancel a planned visit with its reason code (and, for ``other``, a note), and take it back from
    the remote provider it was given to."""
    plans.require_coordinator(user)
    visits.check_reason(reason, note)
    visit = visits.changeable(session, user, visit_id)
    visit.state = VISIT_LIFECYCLE.check(visit.state, VisitState.CANCELLED)
    visit.cancel_reason = reason
    visit.cancel_note = note.strip()
    session.add(visit)
    take_back(session, settings, visit_id)
    return visit


def assign(session: Session, settings: Settings, user: User, visit_id: int, provider: str) -> Visit:
    """Give a planned visit to one of our providers (a username), to a provider of another node (their
    actor's address), or to no one (an empty field), taking it back from the remote provider who had it."""
    visit = visits.changeable(session, user, visit_id)
    provider_id, actor_uri = parse_provider(session, provider, empty=True)
    hand_over(session, settings, visit, provider_id=provider_id, actor_uri=actor_uri)
    return visit
