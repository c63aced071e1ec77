"""Our people's memberships of groups held by other nodes: asking to join (``Join``), answering an
invitation (``Accept``/``Reject`` of the group's ``Invite``), leaving (``Leave``), and what the group tells
us (its answer, its removal of a member, a change of role, its notices to members).

The group's node is authoritative: ours keeps a :class:`~node.groups.models.RemoteMembership` row per
person and group, moved only by the person's own acts and by activities signed by that group. An
accepted member follows the group (a ``follows`` row), so that its announces reach them.
"""

from __future__ import annotations

from sqlmodel import Session

from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.models import RemoteActor
from node.activitypub.outbox.publish import publish
from node.core.errors import N_, Conflict, NotFound, ValidationFailed
from node.core.text import plain_text, text_to_html
from node.core.timeutil import utcnow
from node.groups import records
from node.groups.lifecycles import MEMBERSHIP_LIFECYCLE, MembershipState
from node.groups.models import Notice, RemoteMembership
from node.market.notifications import Kind, notify
from node.settings import Settings

M = MembershipState
MSG_NOT_A_GROUP = N_("This actor is not a group.")
MSG_NOT_INVITED = N_("There is no invitation to answer.")


def _move(row: RemoteMembership, target: MembershipState) -> None:
    row.state = MEMBERSHIP_LIFECYCLE.step(row.state, target).value
    row.updated_at = utcnow()


def _follow(settings: Settings, user: User, group_uri: str, activity_id: str, *, session: Session) -> None:
    records.follow_as_member(
        local.person(settings, user).uri, user.id, group_uri, activity_id, session=session
    )


def _unfollow(settings: Settings, user_id: int, group_uri: str, *, session: Session) -> None:
    user = records.active_user(user_id, session=session)
    if user is not None:
        records.unfollow_as_member(local.person(settings, user).uri, group_uri, session=session)


def join_remote(
    settings: Settings, user: User, group: RemoteActor, message: str = "", *, session: Session
) -> RemoteMembership:
    """``user`` asks to join ``group`` of another node: ``Join`` to the group, pending until it answers."""
    if group.type != "Group":
        raise ValidationFailed(MSG_NOT_A_GROUP, fields={"group": MSG_NOT_A_GROUP})
    row = records.remote_membership(group.uri, user.pk, session=session)
    if row is not None and row.state in (M.ACTIVE.value, M.PENDING.value):
        raise Conflict(N_("You are already a member of this group, or asked to join it."))
    actor = local.person(settings, user)
    activity_id = local.new_activity_id(settings)
    if row is None:
        row = RemoteMembership(
            group_uri=group.uri, user_id=user.pk, group_name=group.name or group.preferred_username
        )
    else:
        _move(row, M.PENDING)
    row.join_activity_id = activity_id
    session.add(row)
    session.flush()
    activity: dict[str, object] = {"id": activity_id, "type": "Join", "object": group.uri, "to": [group.uri]}
    text = plain_text(message, 500, multiline=True)
    if text:
        activity["content"] = text_to_html(text)
    publish(settings, actor=actor, activity=activity, recipients=[group.uri], session=session)
    return row


def answer_remote_invitation(
    settings: Settings, user: User, group_uri: str, *, accept: bool, session: Session
) -> RemoteMembership:
    """``user`` accepts or declines the invitation of a group of another node."""
    row = records.remote_membership(group_uri, user.pk, session=session)
    if row is None or row.state != M.INVITED.value or row.invite_activity_id is None:
        raise Conflict(MSG_NOT_INVITED)
    actor = local.person(settings, user)
    publish(
        settings,
        actor=actor,
        activity={
            "type": "Accept" if accept else "Reject",
            "object": {
                "id": row.invite_activity_id,
                "type": "Invite",
                "actor": group_uri,
                "object": group_uri,
            },
            "to": [group_uri],
        },
        recipients=[group_uri],
        session=session,
    )
    _move(row, M.ACTIVE if accept else M.DECLINED)
    session.add(row)
    if accept:
        _follow(settings, user, group_uri, row.invite_activity_id, session=session)
    return row


def leave_remote(settings: Settings, user: User, group_uri: str, *, session: Session) -> RemoteMembership:
    """``user`` leaves a group of another node (``Leave``); the group may refuse its last coordinator."""
    row = records.remote_membership(group_uri, user.pk, session=session)
    if row is None or row.state not in (M.ACTIVE.value, M.PENDING.value):
        raise NotFound(N_("You are not a member of this group."))
    if row.role in ("founder", "coordinator"):
        raise Conflict(N_("Step down as coordinator on the group's node before leaving."))
    publish(
        settings,
        actor=local.person(settings, user),
        activity={"type": "Leave", "object": group_uri, "to": [group_uri]},
        recipients=[group_uri],
        session=session,
    )
    _move(row, M.LEFT)
    session.add(row)
    _unfollow(settings, user.pk, group_uri, session=session)
    return row


# --- what the group tells us (called by the inbox handlers, checks done there) --------------------------


def group_answered(settings: Settings, row: RemoteMembership, *, accepted: bool, session: Session) -> bool:
    """The group accepted or refused our person's request; False when it was not waiting."""
    if row.state != M.PENDING.value:
        return False
    _move(row, M.ACTIVE if accepted else M.REJECTED)
    session.add(row)
    user = records.active_user(row.user_id, session=session)
    if accepted and user is not None:
        _follow(
            settings,
            user,
            row.group_uri,
            row.join_activity_id or local.new_activity_id(settings),
            session=session,
        )
    notify(
        row.user_id,
        Kind.GROUP_MEMBERSHIP,
        actor_uri=row.group_uri,
        data={"group": row.group_name, "state": row.state, "href": "/me/groups"},
        session=session,
    )
    return True


def invited(
    row: RemoteMembership | None, group: RemoteActor, user: User, activity_id: str, *, session: Session
) -> RemoteMembership | None:
    """A group of another node invites our person; None when they are already in or waiting."""
    if row is not None and row.state in (M.ACTIVE.value, M.PENDING.value, M.INVITED.value):
        return None
    if row is None:
        row = RemoteMembership(
            group_uri=group.uri,
            user_id=user.pk,
            group_name=group.name or group.preferred_username,
            state=M.INVITED.value,
        )
    else:
        _move(row, M.INVITED)
    row.invite_activity_id = activity_id
    session.add(row)
    session.flush()
    notify(
        user.pk,
        Kind.GROUP_INVITED,
        actor_uri=group.uri,
        data={"group": row.group_name, "href": "/me/groups"},
        session=session,
    )
    return row


def removed(settings: Settings, row: RemoteMembership, *, session: Session) -> bool:
    """The group removed our person; they stop receiving its items."""
    if row.state != M.ACTIVE.value:
        return False
    _move(row, M.REMOVED)
    session.add(row)
    _unfollow(settings, row.user_id, row.group_uri, session=session)
    notify(
        row.user_id,
        Kind.GROUP_MEMBERSHIP,
        actor_uri=row.group_uri,
        data={"group": row.group_name, "state": row.state, "href": "/me/groups"},
        session=session,
    )
    return True


def role_changed(row: RemoteMembership, role: str, *, session: Session) -> bool:
    if row.state != M.ACTIVE.value or row.role == role or row.role == "founder":
        return False
    row.role = role
    row.updated_at = utcnow()
    session.add(row)
    return True


def notice_received(group_uri: str, note_id: str, content: str, *, session: Session) -> int:
    """A group's notice to its members: kept for each of our people who is an active member; how many."""
    kept = 0
    for row in records.remote_members_of_group(group_uri, session=session):
        if row.state != M.ACTIVE.value or records.notice_by_ap_id(note_id, row.user_id, session=session):
            continue
        session.add(
            Notice(
                group_uri=group_uri, ap_id=note_id, user_id=row.user_id, author_uri=group_uri, content=content
            )
        )
        notify(
            row.user_id,
            Kind.GROUP_NOTICE,
            actor_uri=group_uri,
            data={"group": row.group_name, "text": content[:200], "href": "/me/groups"},
            session=session,
        )
        kept += 1
    return kept
