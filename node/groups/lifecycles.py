"""The lifecycle of a membership, declared (checked when declared, tested as a graph).

A person asks to join (``pending``) or is invited (``invited``); a coordinator accepts or refuses the
request, the person accepts or declines the invitation; an active member leaves or is removed. Someone
who left, was refused or removed may ask again (or be invited again): no state is final.
"""

from __future__ import annotations

from enum import StrEnum

from node.core.statemachine import Lifecycle, lifecycle


class MembershipState(StrEnum):
    PENDING = "pending"
    INVITED = "invited"
    ACTIVE = "active"
    REJECTED = "rejected"
    DECLINED = "declined"
    LEFT = "left"
    REMOVED = "removed"


M = MembershipState
ASKING = (M.PENDING, M.INVITED)
MEMBERSHIP_LIFECYCLE: Lifecycle[MembershipState] = lifecycle(
    "group membership",
    MembershipState,
    M.PENDING,
    {
        M.PENDING: {M.ACTIVE, M.REJECTED, M.LEFT},
        M.INVITED: {M.ACTIVE, M.DECLINED, M.PENDING},
        M.ACTIVE: {M.LEFT, M.REMOVED},
        M.REJECTED: set(ASKING),
        M.DECLINED: set(ASKING),
        M.LEFT: set(ASKING),
        M.REMOVED: set(ASKING),
    },
)
