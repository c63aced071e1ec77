"""What the micro-organisations hold about a person, for the account export (GDPR art. 15 and 20), and
what account deletion does to it: memberships of our groups end (their name is erased), memberships of
other nodes' groups and the notices kept for the person are deleted."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from node.accounts.models import User
from node.core.timeutil import isoformat, utcnow
from node.groups import records
from node.groups.lifecycles import MembershipState


def sections(user: User, actor_uri: str, *, session: Session) -> dict[str, Any]:
    """The export sections of ``user``, JSON-ready."""
    memberships = [
        {
            "group": group.name,
            "state": member.state,
            "role": member.role,
            "category": member.category,
            "capital_percent": str(member.capital_percent),
            "college": member.college_id,
            "bureau_role": member.bureau_role,
            "offers": records.json_list(member.offers),
            "contract": member.contract,
            "contract_signed_on": member.contract_signed_on.isoformat()
            if member.contract_signed_on
            else None,
            "joined_at": isoformat(member.joined_at),
        }
        for group, member in records.groups_of_user(user, session=session)
    ]
    remote = [
        {"group": row.group_uri, "state": row.state, "role": row.role, "since": isoformat(row.created_at)}
        for row in records.remote_memberships_of(user, session=session)
    ]
    notices = [
        {"group": row.group_uri, "id": row.ap_id, "content": row.content, "at": isoformat(row.created_at)}
        for row in records.notices_of_user(user, session=session, limit=10_000)
    ]
    return {"group_memberships": memberships, "remote_group_memberships": remote, "group_notices": notices}


def erase(user: User, *, session: Session) -> None:
    """Before an account becomes a tombstone: its memberships end and what was kept for it goes."""
    now = utcnow()
    for _, member in records.groups_of_user(user, session=session):
        member.name = ""
        member.message = ""
        member.contract = "{}"
        if member.state in (MembershipState.ACTIVE.value, MembershipState.PENDING.value):
            member.state = MembershipState.LEFT.value
        elif member.state == MembershipState.INVITED.value:
            member.state = MembershipState.DECLINED.value
        member.updated_at = now
        session.add(member)
    for row in records.remote_memberships_of(user, session=session):
        session.delete(row)
    for notice in records.notices_of_user(user, session=session, limit=10_000):
        session.delete(notice)
    session.flush()
