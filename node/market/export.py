"""A person's marketplace data for their account export: proposals, bids, agreements, evaluations given
and received (published ones), notifications."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, or_, select

from node.accounts.models import User
from node.core.timeutil import isoformat
from node.market.models import Agreement, Bid, Evaluation, Notification, Proposal


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def sections(user: User, actor_uri: str, *, session: Session) -> dict[str, Any]:
    """The export sections of ``user`` (whose actor is ``actor_uri``), JSON-ready."""
    proposals = session.exec(select(Proposal).where(Proposal.local_author_id == user.pk)).all()
    bids = session.exec(select(Bid).where(Bid.local_bidder_id == user.pk)).all()
    agreements = session.exec(
        select(Agreement).where(
            or_(col(Agreement.local_provider_id) == user.pk, col(Agreement.local_requester_id) == user.pk)
        )
    ).all()
    given = session.exec(select(Evaluation).where(Evaluation.evaluator_uri == actor_uri)).all()
    received = session.exec(
        select(Evaluation).where(Evaluation.evaluated_uri == actor_uri, Evaluation.state == "published")
    ).all()
    notifications = session.exec(select(Notification).where(Notification.user_id == user.pk)).all()
    return {
        "proposals": [
            {
                "id": p.ap_id,
                "purpose": p.purpose,
                "title": p.title,
                "description": p.description,
                "category": p.category,
                "commune": p.commune_name,
                "postal_code": p.postal_code,
                "hours": _amount(p.quantity_hours),
                "price": _amount(p.price_amount),
                "currency": p.price_currency,
                "basis": p.price_basis,
                "state": p.state,
                "published_at": isoformat(p.published_at),
                "expires_at": isoformat(p.expires_at),
            }
            for p in proposals
        ],
        "bids": [
            {
                "id": b.ap_id,
                "price": _amount(b.price_amount),
                "currency": b.price_currency,
                "hours": _amount(b.quantity_hours),
                "message": b.message,
                "state": b.state,
                "created_at": isoformat(b.created_at),
            }
            for b in bids
        ],
        "agreements": [
            {
                "id": a.ap_id,
                "proposal": a.proposal_ap_id,
                "role": "provider" if a.local_provider_id == user.pk else "requester",
                "provider": a.provider_uri,
                "requester": a.requester_uri,
                "state": a.state,
                "price": _amount(a.price_amount),
                "currency": a.price_currency,
                "created_at": isoformat(a.created_at),
                "completed_at": isoformat(a.completed_at),
                "late_cancellation": a.late_cancellation,
            }
            for a in agreements
        ],
        "evaluations_given": [_evaluation(e) for e in given],
        "evaluations_received": [_evaluation(e) for e in received],
        "notifications": [
            {
                "kind": n.kind,
                "object": n.object_uri,
                "created_at": isoformat(n.created_at),
                "read_at": isoformat(n.read_at),
            }
            for n in notifications
        ],
    }


def _evaluation(row: Evaluation) -> dict[str, Any]:
    return {
        "id": row.ap_id,
        "agreement": row.agreement_ap_id,
        "evaluator": row.evaluator_uri,
        "evaluated": row.evaluated_uri,
        "role": row.evaluated_role,
        "overall": row.overall,
        "criteria": row.criteria,
        "comment": row.comment,
        "state": row.state,
        "submitted_at": isoformat(row.submitted_at),
        "published_at": isoformat(row.published_at),
    }
