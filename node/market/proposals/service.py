"""Offers and demands: the rules for posting, changing, withdrawing and expiring a proposal.

A person posts a :class:`ProposalInput` (what they typed, as strings); :func:`create` checks it and
stores a local proposal, and every change publishes to the fediverse in the same transaction
(:mod:`node.market.proposals.federation`). Rules:

- title 5 to 120 characters of plain text; description at most 5,000 characters of sanitised HTML
  (script and other markup outside the allowlist is removed, never stored);
- one of the 26 categories; an OFFER in a category that needs an agrément or an autorisation requires
  a provider status that may provide it (:mod:`node.catalog.eligibility`); answering is gated by bids;
- the commune from a postal code and a name, resolved by the gazetteer (INSEE, name, département,
  coordinates rounded to 0.01° when published);
- a schedule (a time window or a weekly recurrence, :mod:`node.market.schedule`) or none (to agree);
- hours from 0.25 to 500; a price for offers, a budget for demands, per hour or in total, bounded by
  :mod:`node.market.money`. Euros on market nodes; time tokens (``HOUR``) or euros on cooperative
  nodes. ``free`` marks a volunteer service (no payment). A demand without budget leaves the amount
  to the answers; an offer needs a price unless free;
- a lifetime of 1 to 180 days (30 by default); on market nodes a demand may be opened to bids until
  a deadline, before both its expiry and the start of the service.

Changing (:func:`update`): only its author, only while open. Once an answer is active or accepted,
only the title, the description and the lifetime may change; the category, place, schedule, hours,
price and bidding deadline are frozen (409). The purpose never changes. Withdrawing (:func:`withdraw`)
and expiring (:func:`expire_due`) follow :data:`~node.market.lifecycles.PROPOSAL_LIFECYCLE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.core import limits
from node.core.errors import N_, Conflict, PermissionDenied
from node.core.statemachine import TransitionRefused
from node.core.timeutil import utcnow
from node.market.lifecycles import PROPOSAL_LIFECYCLE, BidState, ProposalState, closes_on_agreement
from node.market.models import Bid, Proposal
from node.market.notifications import Kind, notify
from node.market.proposals import publishing as proposal_publishing
from node.market.proposals.columns import commune_columns, content_columns
from node.market.proposals.input import (
    LIFETIME_DEFAULT_DAYS,
    LIFETIME_MAX_DAYS,
    CleanProposal,
    ProposalInput,
    currencies_for,
    input_of,
    validate,
)
from node.market.proposals.records import (
    Page,
    ProposalFilters,
    get_by_ap_id,
    get_by_id,
    get_local,
    is_visible,
    new_proposal_uri,
    of_author,
    search,
)
from node.settings import Settings

__all__ = [
    "LIFETIME_DEFAULT_DAYS",
    "LIFETIME_MAX_DAYS",
    "Page",
    "ProposalFilters",
    "ProposalInput",
    "close",
    "create",
    "currencies_for",
    "expire_due",
    "get_by_ap_id",
    "get_by_id",
    "get_local",
    "has_answers",
    "input_of",
    "is_visible",
    "of_author",
    "search",
    "update",
    "withdraw",
]

MSG_NOT_AUTHOR = N_("Only its author can change this proposal.")
MSG_NOT_OPEN = N_("This proposal is no longer open.")
MSG_FROZEN = N_("Answers have arrived: only the title, the description and the lifetime can still change.")
MSG_FROZEN_FIELD = N_("Cannot change once answers have arrived.")
MSG_INACTIVE = N_("Your account cannot publish.")


def _apply(row: Proposal, clean: CleanProposal, author_name: str) -> None:
    values = content_columns(
        title=clean.title,
        description=clean.description,
        category=clean.category,
        place=commune_columns(clean.commune),
        schedule=clean.schedule,
        quantity=clean.quantity,
        price=clean.price,
        currency=clean.currency,
        basis=clean.basis if clean.currency is not None else None,
        bidding_deadline=clean.bidding_deadline,
        expires_at=clean.expires_at,
        author_name=author_name,
    )
    for name, value in values.items():
        setattr(row, name, value)


def _check_author(author: User, *, session: Session) -> None:
    fresh = session.get(User, author.id)
    if fresh is None or fresh.status != AccountStatus.ACTIVE.value:
        raise PermissionDenied(MSG_INACTIVE)


def create(
    settings: Settings,
    author: User,
    data: ProposalInput,
    *,
    session: Session,
    on_behalf_of: LocalActor | None = None,
    provider_status: str | None = None,
    photos: str | None = None,
) -> Proposal:
    """Publish a new offer or demand of ``author`` (Create to the fediverse in this transaction); with
    ``on_behalf_of`` (a group of this node, whose coordinator ``author`` is) in that actor's name, under
    that actor's ``provider_status``."""
    _check_author(author, session=session)
    now = utcnow()
    clean = validate(settings, author, data, now, provider_status=provider_status)
    limits.hit(settings, "proposals per person per day", author.pk, session=session, now=now)
    row = Proposal(
        ap_id=new_proposal_uri(settings),
        origin="",
        author_uri=(on_behalf_of or local.person(settings, author)).uri,
        local_author_id=None if on_behalf_of is not None else author.pk,
        purpose=clean.purpose,
        title=clean.title,
        state=ProposalState.OPEN.value,
        published_at=now,
        updated_at=now,
    )
    _apply(row, clean, on_behalf_of.username if on_behalf_of is not None else author.name)
    row.photos = photos
    session.add(row)
    session.flush()
    proposal_publishing.publish_created(settings, row, session=session)
    return row


def has_answers(row: Proposal, *, session: Session) -> bool:
    """Whether an answer to ``row`` is active or accepted (its deal is then frozen)."""
    states = (BidState.ACTIVE.value, BidState.ACCEPTED.value)
    found = session.exec(
        select(Bid.id).where(col(Bid.proposal_id) == row.id, col(Bid.state).in_(states)).limit(1)
    ).first()
    return found is not None


def _own_open(row: Proposal, author: User, on_behalf_of: LocalActor | None = None) -> None:
    owner = (
        row.author_uri == on_behalf_of.uri if on_behalf_of is not None else row.local_author_id == author.id
    )
    if row.origin != "" or not owner:
        raise PermissionDenied(MSG_NOT_AUTHOR)
    if row.state != ProposalState.OPEN.value:
        raise Conflict(MSG_NOT_OPEN)


def _deal(row: Proposal) -> dict[str, object]:
    return {
        "category": row.category,
        "commune_name": row.commune_insee,
        "schedule_kind": row.schedule,
        "quantity": row.quantity_hours,
        "price": row.price_amount,
        "price_basis": row.price_basis,
        "currency": row.price_currency,
        "free": row.price_currency is None,
        "bidding_deadline": row.bidding_deadline,
    }


def update(
    settings: Settings,
    author: User,
    row: Proposal,
    data: ProposalInput,
    *,
    session: Session,
    photos: str | None = None,
) -> Proposal:
    """Change an open proposal of ``author`` (Update to the fediverse in this transaction); ``photos``
    replace its photos when given."""
    _own_open(row, author)
    _check_author(author, session=session)
    now = utcnow()
    clean = validate(settings, author, data, now, current=row)
    before = _deal(row)
    probe = Proposal(ap_id=row.ap_id, author_uri=row.author_uri, purpose=row.purpose, title=row.title)
    _apply(probe, clean, author.name)
    changed = [name for name, value in _deal(probe).items() if value != before[name]]
    if changed and has_answers(row, session=session):
        raise Conflict(MSG_FROZEN, fields={name: MSG_FROZEN_FIELD for name in changed})
    _apply(row, clean, author.name)
    if photos is not None:
        row.photos = photos
    row.updated_at = now
    session.add(row)
    session.flush()
    proposal_publishing.publish_updated(settings, row, session=session)
    return row


def _move(row: Proposal, target: ProposalState) -> None:
    try:
        PROPOSAL_LIFECYCLE.check(row.state, target)
    except TransitionRefused:
        raise Conflict(MSG_NOT_OPEN) from None
    now = utcnow()
    row.state = target.value
    row.closed_at = now
    row.updated_at = now


def withdraw(
    settings: Settings,
    author: User,
    row: Proposal,
    *,
    session: Session,
    on_behalf_of: LocalActor | None = None,
) -> Proposal:
    """The author (or a coordinator of the group ``on_behalf_of``) withdraws an open proposal (Delete to
    the fediverse in this transaction)."""
    _own_open(row, author, on_behalf_of)
    _move(row, ProposalState.WITHDRAWN)
    session.add(row)
    session.flush()
    proposal_publishing.publish_withdrawn(settings, row, session=session)
    return row


def hide(settings: Settings, row: Proposal, *, session: Session) -> Proposal:
    """A moderator takes an open proposal down: ours is withdrawn (``Delete`` to the fediverse), another
    node's is withdrawn here only (no longer listed, nor answerable, on this node)."""
    _move(row, ProposalState.WITHDRAWN)
    session.add(row)
    session.flush()
    if row.origin == "":
        proposal_publishing.publish_withdrawn(settings, row, session=session)
    return row


def close(settings: Settings, row: Proposal, *, session: Session) -> bool:
    """Close a local demand that reached an agreement (Update with ``proposalState: closed``).

    Offers stay open after an agreement: returns False and changes nothing for them, or for a
    proposal that is not local and open.
    """
    if row.origin != "" or row.state != ProposalState.OPEN.value or not closes_on_agreement(row.purpose):
        return False
    _move(row, ProposalState.CLOSED)
    session.add(row)
    session.flush()
    proposal_publishing.publish_updated(settings, row, session=session)
    return True


def expire_due(settings: Settings, now: datetime | None = None, *, session: Session) -> int:
    """Expire the open proposals whose lifetime ended; how many. For a periodic job.

    Local ones are published as ``Update`` with ``proposalState: expired`` and their author is
    notified; remote ones only change here (their origin says so to its own followers).
    """
    now = now or utcnow()
    due: Sequence[Proposal] = session.exec(
        select(Proposal).where(
            col(Proposal.state) == ProposalState.OPEN.value,
            col(Proposal.expires_at).is_not(None),
            col(Proposal.expires_at) <= now,
        )
    ).all()
    for row in due:
        _move(row, ProposalState.EXPIRED)
        session.add(row)
        session.flush()
        if row.origin == "":
            proposal_publishing.publish_updated(settings, row, session=session)
            if row.local_author_id is not None:
                notify(
                    row.local_author_id,
                    Kind.PROPOSAL_EXPIRED,
                    object_uri=row.ap_id,
                    data={"title": row.title},
                    session=session,
                )
    return len(due)
