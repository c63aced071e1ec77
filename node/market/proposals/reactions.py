"""Likes, boosts and mentions of our proposals from the fediverse, counted for their author.

- ``Like`` and ``Announce``: one of each per actor, an ``Undo`` takes it back.
- Mentions: a ``Create(Note)`` from another server that links one of our proposals (an ``<a href>`` in
  its content, or a ``Link`` or ``Mention`` in its ``tag``): counted once per actor and note.

Nothing else follows from them: a boost of ours is not re-shared, a like changes no order, a mention is
not stored beyond its count."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint, delete, func
from sqlmodel import Session, col, select

from node.activitypub.actors import local
from node.activitypub.addressing import id_of, types_of
from node.activitypub.inbox.context import Outcome, ProcessingContext
from node.activitypub.models import URI
from node.activitypub.vocab import Activity
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow
from node.market.proposals import records

LIKE, BOOST, MENTION = "like", "boost", "mention"
LINKS_MAX = 20  # links of a note looked at, at most
HREF = re.compile(r"""<a\s[^>]*?href\s*=\s*["']([^"'<>\s]+)["']""", re.IGNORECASE)


class ProposalReaction(SQLModel, table=True):
    """An actor of another server liked or boosted one of our proposals."""

    __tablename__ = "proposal_reactions"
    __table_args__ = (UniqueConstraint("proposal_id", "kind", "actor_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(
        sa_column=Column(Integer, ForeignKey("proposals.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kind: str = Field(max_length=12)
    actor_uri: str = Field(sa_column=Column(String(URI), nullable=False))
    activity_id: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProposalMention(SQLModel, table=True):
    """A note of another server's actor linked one of our proposals (counted once per actor and note)."""

    __tablename__ = "proposal_mentions"
    __table_args__ = (UniqueConstraint("proposal_id", "actor_uri", "note_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(
        sa_column=Column(Integer, ForeignKey("proposals.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    actor_uri: str = Field(sa_column=Column(String(URI), nullable=False))
    note_uri: str = Field(sa_column=Column(String(URI), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def _our_proposal(ctx: ProcessingContext, uri: str | None) -> int | None:
    if uri is None or not local.is_local(ctx.settings, uri):
        return None
    row = records.get_by_ap_id(uri, session=ctx.session)
    return row.id if row is not None and row.origin == "" else None


def on_reaction(ctx: ProcessingContext, activity: Activity, kind: str) -> Outcome:
    """Count a ``Like`` (``kind`` like) or ``Announce`` (boost) of one of our proposals by the signer."""
    proposal_id = _our_proposal(ctx, activity.object_id)
    if proposal_id is None or activity.id is None:
        return Outcome.IGNORED
    existing = ctx.session.exec(
        select(ProposalReaction.id).where(
            col(ProposalReaction.proposal_id) == proposal_id,
            col(ProposalReaction.kind) == kind,
            col(ProposalReaction.actor_uri) == ctx.actor_uri,
        )
    ).first()
    if existing is None:
        ctx.session.add(
            ProposalReaction(
                proposal_id=proposal_id, kind=kind, actor_uri=ctx.actor_uri, activity_id=activity.id
            )
        )
    return Outcome.DONE


def on_undo(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """``Undo`` of a like or boost: the signer's own reaction, by its activity id, is taken back."""
    undone = activity.object_id
    if undone is None:
        return Outcome.IGNORED
    result = ctx.session.execute(
        delete(ProposalReaction).where(
            col(ProposalReaction.activity_id) == undone, col(ProposalReaction.actor_uri) == ctx.actor_uri
        )
    )
    return Outcome.DONE if getattr(result, "rowcount", 0) else Outcome.IGNORED


def linked_uris(note: Mapping[str, Any]) -> list[str]:
    """The addresses a note links: the ``href`` of the links in its content, then of the ``Link`` and
    ``Mention`` tags, each once, at most :data:`LINKS_MAX`."""
    found: list[str] = []
    content = note.get("content")
    if isinstance(content, str):
        found.extend(html.unescape(href) for href in HREF.findall(content))
    tags = note.get("tag")
    for tag in tags if isinstance(tags, list) else [tags]:
        if isinstance(tag, Mapping) and {"Link", "Mention"} & set(types_of(tag)):
            href = tag.get("href")
            if isinstance(href, str):
                found.append(href)
    return list(dict.fromkeys(found))[:LINKS_MAX]


def on_mention(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """A ``Create(Note)`` of another server that links one of our proposals: counted for each proposal
    linked, once per actor and note. The note may be a message or a reply too (their handlers run as
    well); only its author may send it."""
    note = activity.object
    if activity.type != "Create" or note is None or "Note" not in types_of(note):
        return Outcome.IGNORED
    note_uri = id_of(note)
    author = id_of(note.get("attributedTo"))
    if note_uri is None or (author is not None and author != ctx.actor_uri):
        return Outcome.IGNORED
    if local.is_local(ctx.settings, ctx.actor_uri):
        return Outcome.IGNORED
    linked: list[int] = []
    for uri in linked_uris(note):
        row = records.proposal_for_local_uri(ctx.settings, uri.split("?", 1)[0], session=ctx.session)
        if row is not None and row.origin == "" and row.id is not None and row.id not in linked:
            linked.append(row.id)
    for proposal_id in linked:
        existing = ctx.session.exec(
            select(ProposalMention.id).where(
                col(ProposalMention.proposal_id) == proposal_id,
                col(ProposalMention.actor_uri) == ctx.actor_uri,
                col(ProposalMention.note_uri) == note_uri,
            )
        ).first()
        if existing is None:
            ctx.session.add(
                ProposalMention(proposal_id=proposal_id, actor_uri=ctx.actor_uri, note_uri=note_uri)
            )
    return Outcome.DONE if linked else Outcome.IGNORED


def counts(proposal_id: int, *, session: Session) -> dict[str, int]:
    """How many likes, boosts and mentions a proposal received (``{"like": n, "boost": m, "mention": k}``)."""
    found = {LIKE: 0, BOOST: 0, MENTION: 0}
    rows = session.exec(
        select(ProposalReaction.kind, func.count())
        .where(col(ProposalReaction.proposal_id) == proposal_id)
        .group_by(ProposalReaction.kind)
    ).all()
    for kind, number in rows:
        found[kind] = int(number)
    mentions = session.exec(
        select(func.count())
        .select_from(ProposalMention)
        .where(col(ProposalMention.proposal_id) == proposal_id)
    ).one()
    found[MENTION] = int(mentions)
    return found
