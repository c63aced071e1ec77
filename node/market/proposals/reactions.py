"""Likes and boosts of our proposals from the fediverse (``Like``, ``Announce``, and ``Undo`` of either),
counted for their author: one of each per actor, an ``Undo`` takes it back. Nothing else follows from
them: a boost of ours is not re-shared, a like changes no order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint, delete, func
from sqlmodel import Session, col, select

from node.activitypub.actors import local
from node.activitypub.inbox.context import Outcome, ProcessingContext
from node.activitypub.models import URI
from node.activitypub.vocab import Activity
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow
from node.market.proposals import records

LIKE, BOOST = "like", "boost"


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


def counts(proposal_id: int, *, session: Session) -> dict[str, int]:
    """How many likes and boosts a proposal received (``{"like": n, "boost": m}``)."""
    found = {LIKE: 0, BOOST: 0}
    rows = session.exec(
        select(ProposalReaction.kind, func.count())
        .where(col(ProposalReaction.proposal_id) == proposal_id)
        .group_by(ProposalReaction.kind)
    ).all()
    for kind, number in rows:
        found[kind] = int(number)
    return found
