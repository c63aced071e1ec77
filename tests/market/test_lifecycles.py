"""The declared lifecycles of the marketplace and their time rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import product

import pytest

from node.core.statemachine import Lifecycle, TransitionRefused
from node.market.lifecycles import (
    AGREEMENT_LIFECYCLE,
    BID_LIFECYCLE,
    EVALUATION_LIFECYCLE,
    PROPOSAL_LIFECYCLE,
    AgreementState,
    BidState,
    EvaluationState,
    ProposalState,
    accepts_bids,
    after_confirmation,
    cancellation_is_late,
    closes_on_agreement,
    completes_by_silence,
    evaluation_open,
    reveal_due,
)

P, B, A, E = ProposalState, BidState, AgreementState, EvaluationState

EXPECTED: list[tuple[Lifecycle[StrEnum], set[tuple[str, str]]]] = [
    (
        PROPOSAL_LIFECYCLE,  # type: ignore[list-item]
        {(P.OPEN, P.CLOSED), (P.OPEN, P.WITHDRAWN), (P.OPEN, P.EXPIRED)},
    ),
    (
        BID_LIFECYCLE,  # type: ignore[list-item]
        {(B.ACTIVE, B.ACCEPTED), (B.ACTIVE, B.REJECTED), (B.ACTIVE, B.WITHDRAWN), (B.ACTIVE, B.EXPIRED)},
    ),
    (
        AGREEMENT_LIFECYCLE,  # type: ignore[list-item]
        {
            (A.ACCEPTED, A.CONFIRMED_BY_ONE),
            (A.ACCEPTED, A.CANCELLED),
            (A.ACCEPTED, A.DISPUTED),
            (A.CONFIRMED_BY_ONE, A.COMPLETED),
            (A.CONFIRMED_BY_ONE, A.DISPUTED),
            (A.DISPUTED, A.COMPLETED),
            (A.DISPUTED, A.CANCELLED),
        },
    ),
    (
        EVALUATION_LIFECYCLE,  # type: ignore[list-item]
        {
            (E.PENDING, E.SUBMITTED),
            (E.PENDING, E.LAPSED),
            (E.SUBMITTED, E.PUBLISHED),
            (E.SUBMITTED, E.HIDDEN),  # a moderator hides it after a report (issue 14)
            (E.PUBLISHED, E.HIDDEN),
        },
    ),
]


@pytest.mark.parametrize(("machine", "edges"), EXPECTED, ids=lambda v: getattr(v, "name", ""))
def test_declared_edges_are_exactly_the_expected_ones(
    machine: Lifecycle[StrEnum], edges: set[tuple[str, str]]
) -> None:
    assert set(machine.edges()) == edges


@pytest.mark.parametrize(("machine", "edges"), EXPECTED, ids=lambda v: getattr(v, "name", ""))
def test_every_declared_edge_is_allowed_and_every_other_refused(
    machine: Lifecycle[StrEnum], edges: set[tuple[str, str]]
) -> None:
    for current, target in product(machine.states, repeat=2):
        if (current, target) in edges:
            assert machine.check(current, target) == target
            assert machine.check(current.value, target.value) == target  # stored values work too
        else:
            assert not machine.allows(current, target)
            with pytest.raises(TransitionRefused):
                machine.check(current, target)


def test_initial_and_terminal_states() -> None:
    assert PROPOSAL_LIFECYCLE.initial is P.OPEN
    assert PROPOSAL_LIFECYCLE.terminal == {P.CLOSED, P.WITHDRAWN, P.EXPIRED}
    assert BID_LIFECYCLE.initial is B.ACTIVE
    assert AGREEMENT_LIFECYCLE.initial is A.ACCEPTED
    assert AGREEMENT_LIFECYCLE.terminal == {A.COMPLETED, A.CANCELLED}
    assert EVALUATION_LIFECYCLE.initial is E.PENDING
    assert EVALUATION_LIFECYCLE.terminal == {E.LAPSED, E.HIDDEN}  # a published evaluation can still be hidden


def test_demands_close_on_agreement_offers_stay_open() -> None:
    assert closes_on_agreement("request")
    assert not closes_on_agreement("offer")


T0 = datetime(2025, 3, 4, 14, tzinfo=UTC)


def test_accepts_bids() -> None:
    assert accepts_bids(P.OPEN, None, T0)
    assert accepts_bids("open", T0 + timedelta(seconds=1), T0)
    assert not accepts_bids(P.OPEN, T0, T0)  # the deadline itself is too late
    assert not accepts_bids(P.CLOSED, None, T0)
    assert not accepts_bids(P.EXPIRED, T0 + timedelta(days=1), T0)


def test_after_confirmation() -> None:
    assert after_confirmation(A.ACCEPTED) is A.CONFIRMED_BY_ONE
    assert after_confirmation("confirmed_by_one") is A.COMPLETED
    for state in (A.COMPLETED, A.CANCELLED):
        with pytest.raises(TransitionRefused):
            after_confirmation(state)


def test_cancellation_is_late_within_24_hours_of_the_start() -> None:
    assert not cancellation_is_late(T0, T0 - timedelta(days=2))
    assert not cancellation_is_late(T0, T0 - timedelta(hours=24))
    assert cancellation_is_late(T0, T0 - timedelta(hours=24) + timedelta(seconds=1))
    assert cancellation_is_late(T0, T0 + timedelta(hours=1))


def test_completion_by_silence_after_7_days() -> None:
    assert not completes_by_silence(T0, T0 + timedelta(days=7) - timedelta(seconds=1))
    assert completes_by_silence(T0, T0 + timedelta(days=7))


def test_evaluations_reveal_when_both_are_in_or_after_14_days() -> None:
    just_before = T0 + timedelta(days=14) - timedelta(seconds=1)
    assert not reveal_due(True, False, T0, just_before)
    assert not reveal_due(False, True, T0, just_before)
    assert not reveal_due(False, False, T0, just_before)
    assert reveal_due(True, True, T0, T0)
    assert reveal_due(True, False, T0, T0 + timedelta(days=14))
    assert reveal_due(False, False, T0, T0 + timedelta(days=15))
    assert evaluation_open(T0, just_before)
    assert not evaluation_open(T0, T0 + timedelta(days=14))
