"""What a person has to do next in the marketplace: answers waiting for their choice, agreements waiting
for their confirmation, evaluations they can still give. The logged-in home lists these, so that nobody
has to visit every page to find what is waiting for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from node.accounts.models import User
from node.activitypub.actors import local
from node.core.timeutil import utcnow
from node.market.agreements.parties import agreements_of, proposal_of, role_of
from node.market.agreements.service import may_confirm
from node.market.bids.views import proposals_with_bids
from node.market.evaluations.service import evaluation_by, evaluation_url
from node.market.lifecycles import AgreementState, ProposalState, evaluation_open
from node.settings import Settings


@dataclass(frozen=True)
class Pending:
    """One thing to do: its kind (``answers``, ``confirm``, ``evaluate``), what it is about, where."""

    kind: str
    title: str
    url: str
    count: int = 1


def pending_for(
    settings: Settings, user: User, *, session: Session, now: datetime | None = None
) -> list[Pending]:
    """Everything ``user`` has to do next, answers to choose from first."""
    now = now or utcnow()
    found = [
        Pending("answers", proposal.title, f"/me/bids/received?proposal={proposal.id}", active)
        for proposal, active in proposals_with_bids(user, session=session)
        if active and proposal.state == ProposalState.OPEN.value
    ]
    me = local.person(settings, user).uri
    for agreement in agreements_of(user, session=session):
        role = role_of(agreement, me)
        if role is None:
            continue
        proposal = proposal_of(agreement, session=session)
        title = proposal.title if proposal else ""
        if may_confirm(agreement, role):
            found.append(Pending("confirm", title, f"/me/agreements/{agreement.id}"))
        elif (
            agreement.state == AgreementState.COMPLETED.value
            and agreement.completed_at is not None
            and evaluation_open(agreement.completed_at, now)
            and evaluation_by(agreement.ap_id, me, session=session) is None
        ):
            found.append(Pending("evaluate", title, evaluation_url(agreement)))
    return found
