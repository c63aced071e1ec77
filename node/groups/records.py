"""Storage of the micro-organisations: the queries every part of the package uses (handlers and pages
build none)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.activitypub.models import Follow, FollowState, RemoteActor
from node.activitypub.social import follows
from node.groups.lifecycles import MembershipState
from node.groups.models import Assignment, College, Group, Member, Notice, RemoteMembership

ACTIVE = MembershipState.ACTIVE.value
COORDINATING = ("founder", "coordinator")


def by_name(name: str, *, session: Session, active_only: bool = True) -> Group | None:
    group = session.exec(select(Group).where(col(Group.name) == name.strip().lower())).first()
    if group is None or (active_only and not group.is_active):
        return None
    return group


def name_taken(name: str, *, session: Session) -> bool:
    """Whether ``name`` names a group or an account (both share WebFinger's ``acct:name@host``)."""
    if session.exec(select(Group.id).where(col(Group.name) == name)).first() is not None:
        return True
    return session.exec(select(User.id).where(col(User.username) == name)).first() is not None


def search(
    *,
    session: Session,
    text: str = "",
    shape: str = "",
    departement: str = "",
    category: str = "",
    limit: int = 50,
) -> Sequence[Group]:
    """Active groups matching the filters, by name."""
    query = select(Group).where(col(Group.state) == "active")
    if text:
        like = f"%{text.lower()}%"
        query = query.where(
            or_(
                func.lower(col(Group.display_name)).like(like),
                func.lower(col(Group.summary)).like(like),
                func.lower(col(Group.territory)).like(like),
                col(Group.name).like(like),
            )
        )
    if shape:
        query = query.where(col(Group.legal_shape) == shape)
    if departement:
        query = query.where(col(Group.departement) == departement)
    if category:
        query = query.where(col(Group.categories).like(f'%"{category}"%'))
    return session.exec(query.order_by(col(Group.display_name)).limit(limit)).all()


def members(group: Group, *, session: Session, states: Sequence[str] = (ACTIVE,)) -> Sequence[Member]:
    return session.exec(
        select(Member)
        .where(col(Member.group_id) == group.id, col(Member.state).in_(list(states)))
        .order_by(col(Member.id))
    ).all()


def member(group: Group, member_id: int, *, session: Session, lock: bool = False) -> Member | None:
    row = session.get(Member, member_id, with_for_update=lock)
    return row if row is not None and row.group_id == group.id else None


def member_by_uri(group: Group, uri: str, *, session: Session) -> Member | None:
    return session.exec(
        select(Member).where(col(Member.group_id) == group.id, col(Member.member_uri) == uri)
    ).first()


def member_count(group: Group, *, session: Session) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Member)
            .where(col(Member.group_id) == group.id, col(Member.state) == ACTIVE)
        ).one()
    )


def coordinators(group: Group, *, session: Session) -> Sequence[Member]:
    return session.exec(
        select(Member)
        .where(
            col(Member.group_id) == group.id,
            col(Member.state) == ACTIVE,
            col(Member.role).in_(COORDINATING),
        )
        .order_by(col(Member.id))
    ).all()


def member_of_user(group: Group, user: User, *, session: Session) -> Member | None:
    return session.exec(
        select(Member).where(col(Member.group_id) == group.id, col(Member.local_user_id) == user.id)
    ).first()


def groups_of_user(user: User, *, session: Session) -> Sequence[tuple[Group, Member]]:
    """The groups of this node ``user`` belongs to or was invited to, or asked to join."""
    rows = session.exec(
        select(Group, Member)
        .join(Member, col(Member.group_id) == col(Group.id))
        .where(col(Member.local_user_id) == user.id)
        .order_by(col(Group.display_name))
    ).all()
    return [(g, m) for g, m in rows]


def by_join_activity(activity_id: str, *, session: Session) -> Member | None:
    return session.exec(select(Member).where(col(Member.join_activity_id) == activity_id)).first()


def by_invite_activity(activity_id: str, *, session: Session) -> Member | None:
    return session.exec(select(Member).where(col(Member.invite_activity_id) == activity_id)).first()


def colleges(group: Group, *, session: Session) -> Sequence[College]:
    return session.exec(
        select(College).where(col(College.group_id) == group.id).order_by(col(College.id))
    ).all()


def college(group: Group, college_id: int, *, session: Session) -> College | None:
    row = session.get(College, college_id)
    return row if row is not None and row.group_id == group.id else None


def capital_total(group: Group, *, session: Session, excluding: int | None = None) -> object:
    query = select(func.coalesce(func.sum(col(Member.capital_percent)), 0)).where(
        col(Member.group_id) == group.id, col(Member.state) == ACTIVE
    )
    if excluding is not None:
        query = query.where(col(Member.id) != excluding)
    return session.exec(query).one()


def remote_membership(group_uri: str, user_id: int, *, session: Session) -> RemoteMembership | None:
    return session.exec(
        select(RemoteMembership).where(
            col(RemoteMembership.group_uri) == group_uri, col(RemoteMembership.user_id) == user_id
        )
    ).first()


def remote_memberships_of(user: User, *, session: Session) -> Sequence[RemoteMembership]:
    return session.exec(
        select(RemoteMembership)
        .where(col(RemoteMembership.user_id) == user.id)
        .order_by(col(RemoteMembership.created_at))
    ).all()


def remote_by_activity(activity_id: str, *, session: Session) -> RemoteMembership | None:
    return session.exec(
        select(RemoteMembership).where(
            or_(
                col(RemoteMembership.join_activity_id) == activity_id,
                col(RemoteMembership.invite_activity_id) == activity_id,
            )
        )
    ).first()


def remote_members_of_group(group_uri: str, *, session: Session) -> Sequence[RemoteMembership]:
    """Our people's memberships (any state) of the group ``group_uri`` of another node."""
    return session.exec(select(RemoteMembership).where(col(RemoteMembership.group_uri) == group_uri)).all()


def active_user(user_id: int, *, session: Session) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.status == AccountStatus.ACTIVE.value else None


def user_by_username(username: str, *, session: Session) -> User | None:
    user = session.exec(select(User).where(col(User.username) == username.strip().lower())).first()
    return user if user is not None and user.status == AccountStatus.ACTIVE.value else None


def assignment_of(agreement_ap_id: str, *, session: Session) -> Assignment | None:
    return session.exec(select(Assignment).where(col(Assignment.agreement_ap_id) == agreement_ap_id)).first()


def assignments_of(group: Group, *, session: Session) -> Sequence[Assignment]:
    return session.exec(select(Assignment).where(col(Assignment.group_id) == group.id)).all()


def notices_of_group(
    group_uri: str, *, session: Session, user_id: int | None = None, limit: int = 50
) -> Sequence[Notice]:
    query = select(Notice).where(col(Notice.group_uri) == group_uri)
    query = query.where(col(Notice.user_id).is_(None) if user_id is None else col(Notice.user_id) == user_id)
    return session.exec(
        query.order_by(col(Notice.created_at).desc(), col(Notice.id).desc()).limit(limit)
    ).all()


def notices_of_user(user: User, *, session: Session, limit: int = 50) -> Sequence[Notice]:
    return session.exec(
        select(Notice)
        .where(col(Notice.user_id) == user.id)
        .order_by(col(Notice.created_at).desc(), col(Notice.id).desc())
        .limit(limit)
    ).all()


def notice_by_ap_id(ap_id: str, user_id: int | None, *, session: Session) -> Notice | None:
    query = select(Notice).where(col(Notice.ap_id) == ap_id)
    query = query.where(col(Notice.user_id).is_(None) if user_id is None else col(Notice.user_id) == user_id)
    return session.exec(query).first()


def json_list(text: str) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [str(item) for item in value] if isinstance(value, list) else []


def contract_items(member: Member) -> list[str]:
    """The items of a CAE contract recorded for ``member``."""
    try:
        items = json.loads(member.contract or "{}").get("items", [])
    except (ValueError, AttributeError):
        return []
    return [str(i) for i in items] if isinstance(items, list) else []


def follow_as_member(
    member_uri: str, user_id: int | None, group_uri: str, activity_id: str, *, session: Session
) -> None:
    """An accepted member follows their group (on the group's node and on the member's): they receive what
    it publishes. The follow is recorded accepted, under the ``Join``'s (or invitation's) id."""
    existing = follows.find_follow(member_uri, group_uri, session=session)
    if existing is None:
        session.add(
            Follow(
                follower_uri=member_uri,
                followee_uri=group_uri,
                activity_id=activity_id,
                state=FollowState.ACCEPTED.value,
                local_follower_id=user_id,
            )
        )
    elif existing.state != FollowState.ACCEPTED.value:
        follows.move(existing, FollowState.ACCEPTED)
        session.add(existing)


def unfollow_as_member(member_uri: str, group_uri: str, *, session: Session) -> None:
    """A member who left or was removed stops following the group."""
    existing = follows.find_follow(member_uri, group_uri, session=session)
    if existing is not None:
        session.delete(existing)


def is_known_group(uri: str, *, session: Session) -> bool:
    """Whether ``uri`` is a ``Group`` in the cache of remote actors (no fetch: unknown is False)."""
    found = session.exec(
        select(RemoteActor.type).where(col(RemoteActor.uri) == uri, col(RemoteActor.gone_at).is_(None))
    ).first()
    return found == "Group"
