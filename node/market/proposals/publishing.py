"""Publishing our offers and demands (called by :mod:`node.market.proposals.service` in the transaction
of the change): ``Create``, ``Update`` (changes, closing, expiry: ``proposalState`` says which) and
``Delete`` (withdrawal, with a ``Tombstone``) of the FEP-0837 ``Proposal``, to the author's followers, the
nodes following this node and the relays, like :func:`node.activitypub.social.audience.publish_public`
but without the followers whose server does not read ``Proposal``: those get the same activity of a
readable ``Note`` instead (:mod:`node.market.proposals.notes`).

Who reads what depends on the software of the followers' servers, learnt from their NodeInfo by a
background job, never while a person waits. A change whose audience includes a server of unknown
software waits: it is kept (:class:`~node.market.models.PendingPublication`, in the same transaction)
and published by :func:`publish_due` once the job has asked those servers, or after :data:`MAX_WAIT`
at most (then servers still unknown get both shapes). The changes of one proposal go out in order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.addressing import AS_CONTEXT, PUBLIC
from node.activitypub.social.groups import publish_as
from node.core.timeutil import utcnow
from node.market.models import PendingPublication, Proposal
from node.market.proposals import notes as proposal_notes
from node.market.proposals import photos
from node.market.proposals.records import note_uri, to_doc
from node.market.vocab import activity_to_json, proposal_to_json
from node.settings import Settings

MAX_WAIT = timedelta(minutes=1)


def author_actor(settings: Settings, row: Proposal, *, session: Session) -> local.LocalActor:
    """The local actor who publishes ``row`` and answers for it: its group, else its author."""
    group = local.local_group_name(settings, row.author_uri) if row.origin == "" else None
    if group is not None:  # a group's proposal: published by the group (FEP-1b12 Announce)
        return local.group(settings, group)
    user = session.get(User, row.local_author_id) if row.local_author_id is not None else None
    if user is None or row.origin != "":
        raise ValueError(f"{row.ap_id} is not a local person's proposal")
    return local.person(settings, user)


def _publish(settings: Settings, row: Proposal, kind: str, *, session: Session) -> None:
    actor = author_actor(settings, row, session=session)
    audience = proposal_notes.audience(settings, actor, session=session)
    if kind == "Delete":
        proposal_object: dict[str, Any] = {"type": "Tombstone", "id": row.ap_id, "formerType": "Proposal"}
    else:
        proposal_object = photos.with_attachments(settings, row, proposal_to_json(to_doc(settings, row)))
    activity = activity_to_json(
        kind,
        actor.uri,
        proposal_object,
        activity_id=local.new_activity_id(settings),
        to=[PUBLIC],
        cc=[actor.followers],
    )
    publish_as(
        settings,
        actor=actor,
        activity=activity,
        recipients=audience.proposal_actors,
        inboxes=audience.relays,
        public=True,
        session=session,
    )
    if not audience.note_actors:
        return
    if kind == "Delete":
        note: dict[str, Any] = {"type": "Tombstone", "id": note_uri(row.ap_id), "formerType": "Note"}
    else:
        note = proposal_notes.note_document(row, followers=actor.followers)
        note.pop("@context", None)
    note_activity: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "type": kind,
        "object": note,
        "to": [PUBLIC],
        "cc": [actor.followers],
    }
    publish_as(
        settings, actor=actor, activity=note_activity, recipients=audience.note_actors, session=session
    )


def publish_created(settings: Settings, row: Proposal, *, session: Session) -> None:
    """``Create`` of a new local proposal (and of its ``Note`` for other software)."""
    _announce(settings, row, "Create", session=session)


def publish_updated(settings: Settings, row: Proposal, *, session: Session) -> None:
    """``Update`` of a changed, closed or expired local proposal."""
    _announce(settings, row, "Update", session=session)


def publish_withdrawn(settings: Settings, row: Proposal, *, session: Session) -> None:
    """``Delete`` of a withdrawn local proposal."""
    _announce(settings, row, "Delete", session=session)


def _unknown_audience(settings: Settings, row: Proposal, *, session: Session, now: datetime) -> bool:
    """Whether some server of the audience of ``row`` has a software not known yet and not asked lately."""
    actor = author_actor(settings, row, session=session)
    return bool(proposal_notes.domains_to_learn(settings, actor.uri, now=now, limit=1, session=session))


def _waiting(proposal_id: int, *, session: Session) -> bool:
    found = session.exec(
        select(PendingPublication.id).where(col(PendingPublication.proposal_id) == proposal_id).limit(1)
    ).first()
    return found is not None


def _announce(settings: Settings, row: Proposal, kind: str, *, session: Session) -> None:
    """Publish ``kind`` of ``row`` now, or keep it for later when its audience is not known yet."""
    assert row.id is not None
    if _waiting(row.id, session=session) or _unknown_audience(settings, row, session=session, now=utcnow()):
        session.add(PendingPublication(proposal_id=row.id, kind=kind))
        session.flush()
        return
    _publish(settings, row, kind, session=session)


def waiting_authors(*, session: Session) -> list[str]:
    """The actor URIs of the authors whose changes wait for their audience."""
    rows = session.exec(
        select(Proposal.author_uri)
        .join(PendingPublication, col(PendingPublication.proposal_id) == col(Proposal.id))
        .distinct()
    ).all()
    return list(rows)


def publish_due(settings: Settings, *, session: Session, now: datetime | None = None) -> int:
    """Publish, in order, the waiting changes whose audience is now known or that waited
    :data:`MAX_WAIT`; how many. A proposal's later changes wait behind its first one."""
    now = now or utcnow()
    held: set[int] = set()
    published = 0
    for pending in session.exec(select(PendingPublication).order_by(col(PendingPublication.id))).all():
        if pending.proposal_id in held:
            continue
        row = session.get(Proposal, pending.proposal_id)
        if row is None:
            session.delete(pending)
            continue
        if now - pending.created_at < MAX_WAIT and _unknown_audience(settings, row, session=session, now=now):
            held.add(pending.proposal_id)
            continue
        _publish(settings, row, pending.kind, session=session)
        session.delete(pending)
        published += 1
    session.flush()
    return published
