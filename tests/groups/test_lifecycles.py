"""The declared lifecycle of a membership."""

from __future__ import annotations

import pytest

from node.core.statemachine import TransitionRefused
from node.groups.lifecycles import MEMBERSHIP_LIFECYCLE, MembershipState

M = MembershipState


def test_a_request_is_answered_once() -> None:
    assert MEMBERSHIP_LIFECYCLE.allows(M.PENDING, M.ACTIVE)
    assert MEMBERSHIP_LIFECYCLE.allows(M.PENDING, M.REJECTED)
    with pytest.raises(TransitionRefused):
        MEMBERSHIP_LIFECYCLE.check(M.REJECTED, M.ACTIVE)


def test_members_leave_or_are_removed_and_may_come_back_by_asking() -> None:
    for end in (M.LEFT, M.REMOVED):
        assert MEMBERSHIP_LIFECYCLE.allows(M.ACTIVE, end)
        assert MEMBERSHIP_LIFECYCLE.allows(end, M.PENDING)
        assert not MEMBERSHIP_LIFECYCLE.allows(end, M.ACTIVE)


def test_every_state_is_reachable_and_has_an_exit() -> None:
    edges = set(MEMBERSHIP_LIFECYCLE.edges())
    sources = {source for source, _ in edges}
    targets = {target for _, target in edges} | {MEMBERSHIP_LIFECYCLE.initial}
    assert sources == set(M) and targets == set(M)
