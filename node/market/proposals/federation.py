"""Other nodes' offers and demands, received (the inbox handlers of the marketplace's proposal kinds,
:mod:`node.market.federation`); publishing ours is :mod:`node.market.proposals.publishing`.

- ``Create``/``Update`` of a ``Proposal`` (embedded, or an id fetched from its origin): its
  ``attributedTo`` must be the signer and its id of the signer's origin; a stored proposal may only
  be updated by its author, never one of ours; structure, amounts and schedule are checked, text is
  sanitised; anything else is refused (``PermanentFailure``) and changes nothing. Proposals of
  blocked domains are ignored. A stale update (older ``updated``) or one after the proposal ended is
  ignored. Its pictures (``attachment``) are copied later by the worker
  (:mod:`node.market.proposals.remote_photos`): a photo that cannot be had never loses the proposal.
- ``Delete`` of a proposal by its author marks it withdrawn; ``Delete`` of an actor withdraws its
  open proposals.
- ``Announce`` of a proposal by a relay or an actor a local actor follows: the proposal is fetched
  from its origin (unless its server is known not to publish proposals).
- ``Create(Note)`` replying to one of our proposals (or to the ``Note`` sent for it): its author is
  notified (kind ``reply``) with the text, sanitised, and the sender's handle.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.actors.remote import domain_blocked, peer_software
from node.activitypub.addressing import id_of, same_origin, types_of
from node.activitypub.inbox.context import Outcome, PermanentFailure, ProcessingContext
from node.activitypub.social import follows, relays
from node.activitypub.vocab import Activity
from node.core.errors import ValidationFailed
from node.core.statemachine import TransitionRefused
from node.core.text import html_to_text, plain_text
from node.core.timeutil import utcnow
from node.market import schedule as sched
from node.market.lifecycles import PROPOSAL_LIFECYCLE, ProposalState
from node.market.models import Proposal
from node.market.money import check_hours, check_price
from node.market.notifications import Kind, notify
from node.market.proposals import notes as proposal_notes
from node.market.proposals import photos as proposal_photos
from node.market.proposals.columns import commune_columns, content_columns
from node.market.proposals.records import (
    get_by_ap_id,
    open_remote_of,
    proposal_for_local_uri,
    remote_author_name,
)
from node.market.vocab import ProposalDoc, VocabError, proposal_from_json
from node.places.gazetteer import default_gazetteer
from node.settings import Settings

log = logging.getLogger("asasap.federation")

REPLY_MAX = 2000
RAW_MAX = 100_000

# --- storing what other nodes send -------------------------------------------------------------------


def _is_proposal(value: Mapping[str, Any]) -> bool:
    return "Proposal" in types_of(value) or any(key in value for key in ("publishes", "vf:publishes"))


def _refuse(ctx_actor: str, message: str, subject: str) -> PermanentFailure:
    log.warning("refused proposal %s from %s: %s", subject, ctx_actor, message)
    return PermanentFailure(f"{message}: {subject}")


def _clamp(moment: datetime | None, now: datetime) -> datetime:
    return now if moment is None or moment > now else moment


def _remote_values(doc: ProposalDoc, author_name: str) -> dict[str, Any]:
    """Column values of a received proposal; :class:`ValueError` for absurd amounts or schedules."""
    commune = doc.commune
    known = default_gazetteer().commune_of(commune.insee) if commune is not None and commune.insee else None
    if known is not None:
        place = commune_columns(known, commune.postal_code if commune else None)
    else:  # a commune the gazetteer does not know: kept as received (its position already rounded)
        place = {
            "commune_insee": None,
            "commune_name": commune.name if commune else "",
            "postal_code": (commune.postal_code or "") if commune else "",
            "departement": (commune.departement or "") if commune else "",
            "latitude": commune.latitude if commune else None,
            "longitude": commune.longitude if commune else None,
        }
    if doc.schedule is not None and sched.structure_errors(doc.schedule):
        raise ValueError("meaningless schedule")
    try:
        quantity = check_hours(doc.quantity) if doc.quantity is not None else None
        price = check_price(doc.price) if doc.price is not None else None
    except ValidationFailed as exc:
        raise ValueError(exc.message) from None
    values = content_columns(
        title=doc.name or plain_text(html_to_text(doc.content, 400), 120) or doc.id[-120:],
        description=doc.content,
        category=doc.category,
        place=place,
        schedule=doc.schedule,
        quantity=quantity,
        price=price,
        currency=doc.currency,
        basis=price.basis if price is not None else ("per_hour" if doc.currency else None),
        bidding_deadline=doc.bidding_deadline,
        expires_at=doc.expires,
        author_name=author_name,
    )
    return {"purpose": doc.purpose, **values}


def store_remote(settings: Settings, doc: ProposalDoc, *, session: Session, signer: str) -> Outcome:
    """Store or update the proposal another node sent; refuses (``PermanentFailure``) what its signer
    may not say, ignores what is stale or ended."""
    if local.is_local(settings, doc.id):
        raise _refuse(signer, "a remote actor cannot write our proposals", doc.id)
    if doc.attributed_to != signer or not same_origin(doc.id, signer):
        raise _refuse(signer, "attributedTo or id is not the signer's", doc.id)
    if domain_blocked(session, addressing.domain_of(doc.id)):
        log.info("ignored proposal %s of a blocked domain", doc.id)
        return Outcome.IGNORED
    try:
        values = _remote_values(doc, remote_author_name(signer, session=session))
    except ValueError as exc:
        raise _refuse(signer, f"invalid proposal ({exc})", doc.id) from None
    now = utcnow()
    row = get_by_ap_id(doc.id, session=session)
    if row is not None and row.author_uri != signer:
        raise _refuse(signer, "not the author of the stored proposal", doc.id)
    if row is not None and row.purpose != doc.purpose:
        raise _refuse(signer, "a proposal cannot change purpose", doc.id)
    if row is None:
        row = Proposal(
            ap_id=doc.id,
            origin=addressing.domain_of(doc.id),
            author_uri=signer,
            state=ProposalState.OPEN.value,
            published_at=_clamp(doc.published, now),
            title=values["title"],
            purpose=doc.purpose,
        )
    else:
        if row.state != ProposalState.OPEN.value:
            log.info("ignored an update of %s, already %s", doc.id, row.state)
            return Outcome.IGNORED
        if doc.updated is not None and doc.updated < row.updated_at:
            log.info("ignored a stale update of %s", doc.id)
            return Outcome.IGNORED
    if doc.state.value != row.state:
        try:
            PROPOSAL_LIFECYCLE.check(row.state, doc.state)
        except TransitionRefused:
            log.info("ignored %s: %s -> %s", doc.id, row.state, doc.state.value)
            return Outcome.IGNORED
        row.state = doc.state.value
        row.closed_at = now
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = _clamp(doc.updated or doc.published, now)
    if row.updated_at < row.published_at:
        row.updated_at = row.published_at
    row.raw = json.dumps(dict(doc.raw), ensure_ascii=False)[:RAW_MAX]
    row.photos, due = proposal_photos.remote_column(doc.raw.get("attachment"), row)
    row.photos_due_at = now if due else None  # copied by the worker, never here (remote_photos)
    session.add(row)
    return Outcome.DONE


def _parse(signer: str, value: Mapping[str, Any]) -> ProposalDoc:
    try:
        return proposal_from_json(value)
    except VocabError as exc:
        raise _refuse(signer, f"unreadable proposal ({exc})", str(id_of(value))) from None


def _from_unaware_server(uri: str, *, session: Session) -> bool:
    """Whether ``uri``'s server is known not to publish proposals (then it is not fetched)."""
    software = peer_software(addressing.domain_of(uri), session=session)
    return proposal_notes.understands_proposals(software or "") is False


# --- inbox handlers ----------------------------------------------------------------------------------


def on_proposal(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """``Create``/``Update`` of a ``Proposal``."""
    assert activity.object is not None
    return store_remote(
        ctx.settings, _parse(ctx.actor_uri, activity.object), signer=ctx.actor_uri, session=ctx.session
    )


def on_reference(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """``Create``/``Update`` naming its object by id only: fetched from its origin (unless its server is
    known not to publish proposals), then read as a proposal or as a reply."""
    uri = activity.object_id
    if uri is None or uri == ctx.actor_uri:
        return Outcome.IGNORED  # an actor's own update is the social graph's
    if not same_origin(uri, ctx.actor_uri):
        if activity.type == "Update" and get_by_ap_id(uri, session=ctx.session) is not None:
            raise _refuse(ctx.actor_uri, "Update of a proposal of another origin", uri)
        return Outcome.IGNORED
    if _from_unaware_server(uri, session=ctx.session):
        return Outcome.IGNORED
    document = ctx.document(uri)
    if _is_proposal(document):
        return store_remote(
            ctx.settings, _parse(ctx.actor_uri, document), signer=ctx.actor_uri, session=ctx.session
        )
    if activity.type == "Create" and "Note" in types_of(document):
        return _receive_reply(ctx, document)
    return Outcome.IGNORED


def on_reply(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """``Create(Note)``: a reply to one of our proposals (or to the ``Note`` sent for it) is notified."""
    assert activity.object is not None
    return _receive_reply(ctx, activity.object)


def _receive_reply(ctx: ProcessingContext, note: Mapping[str, Any]) -> Outcome:
    target = id_of(note.get("inReplyTo"))
    if target is None or not local.is_local(ctx.settings, target):
        return Outcome.IGNORED
    row = proposal_for_local_uri(ctx.settings, target, session=ctx.session)
    if row is None or row.local_author_id is None:
        return Outcome.IGNORED
    author = id_of(note.get("attributedTo"))
    if author is not None and author != ctx.actor_uri:
        raise _refuse(ctx.actor_uri, "a reply attributed to someone else", str(id_of(note)))
    sender = ctx.actor(ctx.actor_uri)
    content = note.get("content")
    text = html_to_text(content, REPLY_MAX) if isinstance(content, str) else ""
    url = note.get("url")
    notify(
        row.local_author_id,
        Kind.REPLY,
        object_uri=row.ap_id,
        actor_uri=ctx.actor_uri,
        data={
            "text": text,
            "handle": sender.handle,
            "name": plain_text(sender.name, 200),
            "note": id_of(note),
            "url": url if isinstance(url, str) and same_origin(url, ctx.actor_uri) else id_of(note),
            "title": row.title,
        },
        session=ctx.session,
    )
    return Outcome.DONE


def on_author_deleted(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """An actor deleted itself: its open proposals are withdrawn."""
    rows = open_remote_of(ctx.actor_uri, session=ctx.session)
    now = utcnow()
    for row in rows:
        _withdraw(row, now, session=ctx.session)
    return Outcome.DONE if rows else Outcome.IGNORED


def on_delete(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """A proposal withdrawn by its author (``Delete`` with a ``Tombstone``, or its id)."""
    target = activity.object_id
    if target is None:
        return Outcome.IGNORED
    stored = get_by_ap_id(target, session=ctx.session)
    if stored is None:
        return Outcome.IGNORED
    if stored.origin == "" or stored.author_uri != ctx.actor_uri:
        raise _refuse(ctx.actor_uri, "Delete of a proposal by someone else than its author", target)
    if stored.state != ProposalState.OPEN.value:
        return Outcome.DONE if stored.state == ProposalState.WITHDRAWN.value else Outcome.IGNORED
    _withdraw(stored, utcnow(), session=ctx.session)
    return Outcome.DONE


def _withdraw(row: Proposal, now: datetime, *, session: Session) -> None:
    row.state = PROPOSAL_LIFECYCLE.check(row.state, ProposalState.WITHDRAWN).value
    row.closed_at = now
    row.updated_at = now
    session.add(row)


def _announcer_trusted(settings: Settings, signer: str, *, session: Session) -> bool:
    """A relay we subscribe to, or an actor one of our actors follows."""
    if relays.is_accepted_relay(signer, session=session):
        return True
    return any(local.is_local(settings, uri) for uri in follows.accepted_followers(signer, session=session))


def on_announce(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """A proposal shared by a relay or by an actor we follow, fetched from its origin."""
    obj: Mapping[str, Any] | None = activity.object
    target = activity.object_id
    if target is None or local.is_local(ctx.settings, target):
        return Outcome.IGNORED
    if not _announcer_trusted(ctx.settings, ctx.actor_uri, session=ctx.session):
        return Outcome.IGNORED
    if obj is not None and not _is_proposal(obj):
        return Outcome.IGNORED
    if obj is None or not same_origin(target, ctx.actor_uri):
        if _from_unaware_server(target, session=ctx.session):
            return Outcome.IGNORED
        obj = ctx.document(target)
    if not _is_proposal(obj):
        return Outcome.IGNORED
    doc = _parse(ctx.actor_uri, obj)
    if doc.id != target or not same_origin(doc.attributed_to, doc.id):
        raise _refuse(ctx.actor_uri, "an announced proposal attributed to another origin", target)
    return store_remote(ctx.settings, doc, signer=doc.attributed_to, session=ctx.session)
