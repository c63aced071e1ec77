"""Who works with whom: the local people who share an active membership of one of this node's groups
(telemanagement asks it to suggest a replacement for a provider away)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from node.groups.lifecycles import MembershipState
from node.groups.models import Member


def colleagues_of(session: Session, user_id: int) -> set[int]:
    """The local members of the groups ``user_id`` is an active member of, them included."""
    groups = select(Member.group_id).where(
        Member.local_user_id == user_id, Member.state == MembershipState.ACTIVE.value
    )
    rows = session.exec(
        select(Member.local_user_id).where(
            col(Member.group_id).in_(groups),
            Member.state == MembershipState.ACTIVE.value,
            col(Member.local_user_id).is_not(None),
        )
    )
    return {user for user in rows if user is not None}
