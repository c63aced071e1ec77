"""The lifecycles of the marketplace, declared as graphs, and the time rules that drive them.

Proposal: ``open`` → ``closed`` | ``withdrawn`` | ``expired``.
    A demand (``request``) closes when its author accepts an answer: one agreement per demand. An
    offer stays open after an agreement, since a provider offers the same service to several people;
    it ends when its author withdraws it or its lifetime ends (:func:`closes_on_agreement`). Editing
    an open proposal is not a change of state. On market nodes a demand open to bids takes bids until
    its deadline (:func:`accepts_bids`), then stays open while its author chooses.

Bid: ``active`` → ``accepted`` | ``rejected`` | ``withdrawn`` | ``expired``.
    The others are rejected when one is accepted; all still active expire with their proposal.

Agreement: ``accepted`` → ``confirmed_by_one`` → ``completed``, with ``cancelled`` and ``disputed``.
    Completion needs both parties: the first confirmation moves to ``confirmed_by_one``; the other
    party's confirmation, or its silence for 7 days (:func:`completes_by_silence`), completes. Either
    party may dispute before completion. Either may cancel while nothing is confirmed; a cancellation
    less than 24 hours before the start is recorded as late (:func:`cancellation_is_late`) but is
    still a cancellation. A dispute is settled by the coordinators of the two nodes, as completed or
    cancelled.

Evaluation: ``pending`` → ``submitted`` → ``published``, or ``pending`` → ``lapsed``.
    Each party of a completed agreement has one. Double-blind: a submitted evaluation stays hidden
    until both are in or 14 days have passed since completion (:func:`reveal_due`); then both are
    published, and an evaluation still pending lapses, so nobody writes theirs after reading the
    other's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from node.core.statemachine import Lifecycle, lifecycle

__all__ = [
    "AGREEMENT_LIFECYCLE",
    "BID_LIFECYCLE",
    "CANCELLATION_NOTICE",
    "DISPUTE_WINDOW",
    "EVALUATION_LIFECYCLE",
    "EVALUATION_WINDOW",
    "PROPOSAL_LIFECYCLE",
    "AgreementState",
    "BidState",
    "EvaluationState",
    "ProposalState",
    "accepts_bids",
    "after_confirmation",
    "cancellation_is_late",
    "closes_on_agreement",
    "completes_by_silence",
    "evaluation_open",
    "reveal_due",
]

CANCELLATION_NOTICE = timedelta(hours=24)
DISPUTE_WINDOW = timedelta(days=7)
EVALUATION_WINDOW = timedelta(days=14)


class ProposalState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class BidState(StrEnum):
    ACTIVE = "active"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class AgreementState(StrEnum):
    ACCEPTED = "accepted"
    CONFIRMED_BY_ONE = "confirmed_by_one"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"


class EvaluationState(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    LAPSED = "lapsed"
    HIDDEN = "hidden"  # taken down by a moderator after a report (issue 14)


_P = ProposalState
PROPOSAL_LIFECYCLE: Lifecycle[ProposalState] = lifecycle(
    "proposal",
    ProposalState,
    _P.OPEN,
    {_P.OPEN: [_P.CLOSED, _P.WITHDRAWN, _P.EXPIRED]},
    terminal=[_P.CLOSED, _P.WITHDRAWN, _P.EXPIRED],
)

_B = BidState
BID_LIFECYCLE: Lifecycle[BidState] = lifecycle(
    "bid",
    BidState,
    _B.ACTIVE,
    {_B.ACTIVE: [_B.ACCEPTED, _B.REJECTED, _B.WITHDRAWN, _B.EXPIRED]},
    terminal=[_B.ACCEPTED, _B.REJECTED, _B.WITHDRAWN, _B.EXPIRED],
)

_A = AgreementState
AGREEMENT_LIFECYCLE: Lifecycle[AgreementState] = lifecycle(
    "agreement",
    AgreementState,
    _A.ACCEPTED,
    {
        _A.ACCEPTED: [_A.CONFIRMED_BY_ONE, _A.CANCELLED, _A.DISPUTED],
        _A.CONFIRMED_BY_ONE: [_A.COMPLETED, _A.DISPUTED],
        _A.DISPUTED: [_A.COMPLETED, _A.CANCELLED],
    },
    terminal=[_A.COMPLETED, _A.CANCELLED],
)

_E = EvaluationState
EVALUATION_LIFECYCLE: Lifecycle[EvaluationState] = lifecycle(
    "evaluation",
    EvaluationState,
    _E.PENDING,
    {
        _E.PENDING: [_E.SUBMITTED, _E.LAPSED],
        _E.SUBMITTED: [_E.PUBLISHED, _E.HIDDEN],
        _E.PUBLISHED: [_E.HIDDEN],
    },
    terminal=[_E.LAPSED, _E.HIDDEN],
)


def closes_on_agreement(purpose: Literal["offer", "request"] | str) -> bool:
    """True when reaching an agreement closes the proposal: demands do, offers stay open."""
    return purpose == "request"


def accepts_bids(state: ProposalState | str, bidding_deadline: datetime | None, now: datetime) -> bool:
    """True when a proposal takes new answers: open, and before its bidding deadline if it has one."""
    if ProposalState(state) is not ProposalState.OPEN:
        return False
    return bidding_deadline is None or now < bidding_deadline


def after_confirmation(state: AgreementState | str) -> AgreementState:
    """The state an agreement moves to when a party confirms completion.

    The caller makes sure the second confirmation comes from the other party. Raises
    :class:`~node.core.statemachine.TransitionRefused` from any other state than the two that allow it.
    """
    current = AgreementState(state)
    target = _A.CONFIRMED_BY_ONE if current is _A.ACCEPTED else _A.COMPLETED
    return AGREEMENT_LIFECYCLE.check(current, target)


def cancellation_is_late(start: datetime, now: datetime) -> bool:
    """True when cancelling at ``now`` a service starting at ``start`` is late: less than 24 hours
    before the start (exactly 24 hours before is still in time)."""
    return now > start - CANCELLATION_NOTICE


def completes_by_silence(first_confirmation_at: datetime, now: datetime) -> bool:
    """True when the other party let 7 days pass after the first confirmation without disputing."""
    return now >= first_confirmation_at + DISPUTE_WINDOW


def evaluation_open(completed_at: datetime, now: datetime) -> bool:
    """True while parties may still submit their evaluation (14 days after completion)."""
    return now < completed_at + EVALUATION_WINDOW


def reveal_due(own_submitted: bool, other_submitted: bool, completed_at: datetime, now: datetime) -> bool:
    """True when evaluations of an agreement are to be published: both are in, or the 14-day window
    after completion has closed."""
    return (own_submitted and other_submitted) or not evaluation_open(completed_at, now)
