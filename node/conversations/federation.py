"""What the conversations and moderation do with incoming activities, contributed to the node's
dispatcher before the marketplace (whose classifier would read any ``Create(Note)`` as a reply and any
``Flag`` of an id as a dispute):

- ``message``: ``Create(Note)`` naming one of our people (addressed or mentioned), that is not a reply to
  one of our proposals (the marketplace notifies those): stored in their conversations, unless they
  blocked its author (:func:`node.conversations.messages.receive`). Only the note's author may send it.
  When it links one of our proposals, the mention is counted too
  (:func:`node.market.proposals.reactions.on_mention`).
- ``report``: ``Flag`` of one or several objects, other than a dispute of one of our agreements: queued
  for the coordinators when it names something of ours (:func:`node.conversations.reports.receive_flag`).
"""

from __future__ import annotations

import logging

from node.activitypub.addressing import id_of, types_of
from node.activitypub.inbox.context import Outcome, PermanentFailure, ProcessingContext
from node.activitypub.inbox.dispatch import Contribution, contribution
from node.activitypub.vocab import Activity
from node.conversations import messages, reports
from node.core.text import html_to_text
from node.market.agreements import sync as agreements
from node.market.proposals import reactions
from node.market.proposals.records import proposal_for_local_uri

log = logging.getLogger("asasap.conversations")

MESSAGE = "message"
REPORT = "report"
NOTE_TYPES = frozenset({"Note", "ChatMessage"})  # ChatMessage: Pleroma and Akkoma chats


def _is_dispute(ctx: ProcessingContext, activity: Activity) -> bool:
    if activity.object is not None and "Agreement" in types_of(activity.object):
        return True
    if len(activity.object_ids) != 1:
        return False
    return agreements.find_agreement(activity.object_ids[0], session=ctx.session) is not None


def classify(ctx: ProcessingContext, activity: Activity) -> str | None:
    """``message``, ``report`` or None (see the module docs)."""
    if activity.type == "Flag":
        return None if _is_dispute(ctx, activity) else REPORT
    note = activity.object
    if activity.type != "Create" or note is None or not set(types_of(note)) & NOTE_TYPES:
        return None
    target = id_of(note.get("inReplyTo"))
    if target is not None and proposal_for_local_uri(ctx.settings, target, session=ctx.session) is not None:
        return None
    people = messages.addressed_people(ctx.settings, note, activity.recipients, session=ctx.session)
    return MESSAGE if people else None


def on_message(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """A message for our people (see the module docs)."""
    note = activity.object
    assert note is not None
    author = id_of(note.get("attributedTo"))
    if author is not None and author != ctx.actor_uri:
        raise PermanentFailure("a note attributed to someone else than its signer")
    people = messages.addressed_people(ctx.settings, note, activity.recipients, session=ctx.session)
    stored = messages.receive(
        ctx.settings, note, ctx.actor_uri, people, session=ctx.session, received=ctx.row.received_at
    )
    return Outcome.DONE if stored is not None else Outcome.IGNORED


def on_report(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """A report from another server (see the module docs)."""
    objects = activity.object_ids or ((activity.object_id,) if activity.object_id else ())
    content = activity.raw.get("content")
    report = reports.receive_flag(
        ctx.settings,
        activity.id,
        ctx.actor_uri,
        objects,
        html_to_text(content, reports.COMMENT_MAX) if isinstance(content, str) else "",
        session=ctx.session,
    )
    if report is None:
        log.info("Flag %s from %s names nothing of ours", activity.id, ctx.actor_uri)
        return Outcome.IGNORED
    return Outcome.DONE


def inbox_handlers() -> Contribution:
    """The conversations' part of the node's dispatcher."""
    return contribution(
        "conversations",
        types=("Create", "Flag"),
        kinds=(MESSAGE, REPORT),
        classify=classify,
        handlers={MESSAGE: (on_message, reactions.on_mention), REPORT: (on_report,)},
    )
