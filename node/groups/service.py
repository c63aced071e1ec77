"""Running a micro-organisation: creating it, its members (on any node) and their roles, its categories of
associates, colleges and rules, and the notices it sends its members.

Every change of something others see publishes in the same transaction (FEP-1b12, see FEDERATION.md):

- a request to join from another node is a ``Join``, answered by the group with ``Accept`` or ``Reject``
  of it; an invitation is the group's ``Invite``, answered by the invitee's ``Accept`` or ``Reject``;
  leaving is ``Leave``; a coordinator's removal of a member is the group's ``Remove`` of the member from
  its ``members`` collection, sent to the member;
- an accepted member follows the group (they receive what it publishes); leaving or removal ends that;
- roles: the group's ``moderators`` collection lists its founder and coordinators; a change is an
  ``Add``/``Remove`` of the member to that collection, announced by the group to its followers;
- notices to members are ``Create(Note)`` addressed to the members only, announced by the group to them.

Rules the service enforces (each refusal is a :class:`~node.core.errors.DomainError`, nothing changed):
one membership per person and group (asking twice is 409); only coordinators manage members, roles,
associates, colleges and rules (403); the last coordinator cannot leave, step down or be removed (409);
capital shares of the active members add up to at most 100 %; a college's weight lies within
10–50 % (loi n° 47-1775, art. 19 octies); a category of associate belongs to the group's legal shape.
"""

from __future__ import annotations

import re

from sqlmodel import Session

from node.accounts.models import AccountStatus, User
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.outbox.publish import publish
from node.activitypub.social.groups import publish_as
from node.core.errors import N_, Conflict, NotFound, PermissionDenied, ValidationFailed
from node.core.statemachine import TransitionRefused
from node.core.text import plain_text, text_to_html
from node.core.timeutil import utcnow
from node.groups import records
from node.groups.lifecycles import MEMBERSHIP_LIFECYCLE, MembershipState
from node.groups.models import Group, Member, Notice
from node.market.notifications import Kind, notify
from node.settings import Settings

M = MembershipState
NAME_RE = re.compile(r"^[a-z0-9_]{3,30}$")
RESERVED = frozenset({"node", "admin", "actor", "inbox", "groups", "users", "api", "static", "new"})
ROLES = ("founder", "coordinator", "member")
NOTICE_MAX = 2000

MSG_NAME = N_("3 to 30 lowercase letters, digits or underscores.")
MSG_NAME_TAKEN = N_("This name is taken.")
MSG_DISPLAY = N_("Give the group a name of 3 to 80 characters.")
MSG_SHAPE = N_("Choose a legal shape.")
MSG_CATEGORY = N_("Unknown category.")
MSG_NOT_COORDINATOR = N_("This is for the group's coordinators.")
MSG_ALREADY = N_("You are already a member of this group, or asked to join it.")
MSG_LAST_COORDINATOR = N_(
    "The group's last coordinator cannot leave or step down: name another coordinator first."
)
MSG_NO_MEMBER = N_("No such member.")
MSG_NO_GROUP = N_("No such group.")
MSG_NOT_WAITING = N_("This request or invitation was already answered.")
MSG_NOT_MEMBER = N_("You are not a member of this group.")
MSG_ROLE = N_("Unknown role.")
MSG_ASSOCIATE_CATEGORY = N_("This category of associate does not exist for this legal shape.")
MSG_CAPITAL = N_("Capital shares add up to more than 100 per cent.")
MSG_PERCENT = N_("A percentage from 0 to 100.")
MSG_COLLEGE_WEIGHT = N_(
    "A college holds between 10 and 50 per cent of the votes (loi n° 47-1775, art. 19 octies)."
)
MSG_COLLEGE_NAME = N_("Give the college a name.")
MSG_COLLEGE_TAKEN = N_("A college of this name exists.")
MSG_NO_COLLEGE = N_("No such college.")
MSG_BUREAU = N_("Unknown bureau role.")
MSG_NOTICE = N_("Write 1 to 2,000 characters.")
MSG_DATE = N_("Enter a date.")
MSG_SHARING = N_("Choose how work is shared.")
MSG_SEE = N_("Choose what members see.")
MSG_POLICY = N_("Choose how people join.")
MSG_INACTIVE = N_("Your account cannot do this.")


def actor_of(settings: Settings, group: Group) -> LocalActor:
    """The ``Group`` actor of ``group``."""
    return local.group(settings, group.name)


def members_uri(settings: Settings, group: Group) -> str:
    return actor_of(settings, group).uri + "/members"


def moderators_uri(settings: Settings, group: Group) -> str:
    return actor_of(settings, group).uri + "/moderators"


def person_uri(settings: Settings, user: User) -> str:
    return local.person(settings, user).uri


def _move(row: Member, target: MembershipState) -> None:
    try:
        row.state = MEMBERSHIP_LIFECYCLE.check(row.state, target).value
    except TransitionRefused:
        raise Conflict(MSG_NOT_WAITING) from None
    row.updated_at = utcnow()
    if target is M.ACTIVE:
        row.joined_at = row.updated_at


def _active(user: User, *, session: Session) -> None:
    fresh = session.get(User, user.id)
    if fresh is None or fresh.status != AccountStatus.ACTIVE.value:
        raise PermissionDenied(MSG_INACTIVE)


def is_coordinator(group: Group, user: User, *, session: Session) -> bool:
    row = records.member_of_user(group, user, session=session)
    return row is not None and row.state == M.ACTIVE.value and row.role in records.COORDINATING


def require_coordinator(group: Group, user: User, *, session: Session) -> Member:
    """The coordinator membership of ``user`` in ``group``; :class:`PermissionDenied` otherwise."""
    row = records.member_of_user(group, user, session=session)
    if row is None or row.state != M.ACTIVE.value or row.role not in records.COORDINATING:
        raise PermissionDenied(MSG_NOT_COORDINATOR)
    _active(user, session=session)
    return row


def group_named(name: str, *, session: Session) -> Group:
    group = records.by_name(name, session=session)
    if group is None:
        raise NotFound(MSG_NO_GROUP)
    return group


# --- joining, invitations, leaving -----------------------------------------------------------------------


def _follow_as_member(
    settings: Settings, group: Group, row: Member, activity_id: str, *, session: Session
) -> None:
    records.follow_as_member(
        row.member_uri, row.local_user_id, actor_of(settings, group).uri, activity_id, session=session
    )


def _unfollow_as_member(settings: Settings, group: Group, row: Member, *, session: Session) -> None:
    records.unfollow_as_member(row.member_uri, actor_of(settings, group).uri, session=session)


def _notify_coordinators(
    group: Group, kind: Kind, data: dict[str, object], *, session: Session, actor: str | None = None
) -> None:
    for row in records.coordinators(group, session=session):
        if row.local_user_id is not None:
            notify(row.local_user_id, kind, actor_uri=actor, data=data, session=session)


def _activate(settings: Settings, group: Group, row: Member, *, session: Session) -> None:
    _move(row, M.ACTIVE)
    session.add(row)
    session.flush()
    _follow_as_member(
        settings, group, row, row.join_activity_id or local.new_activity_id(settings), session=session
    )


def join(settings: Settings, user: User, group: Group, message: str = "", *, session: Session) -> Member:
    """``user`` (of this node) asks to join ``group``: accepted at once when the group is open."""
    _active(user, session=session)
    row = records.member_of_user(group, user, session=session)
    if row is not None and row.state in (M.ACTIVE.value, M.PENDING.value):
        raise Conflict(MSG_ALREADY)
    if row is not None and row.state == M.INVITED.value:
        return answer_invitation(settings, user, group, accept=True, session=session)
    if row is None:
        row = Member(
            group_id=group.pk,
            member_uri=person_uri(settings, user),
            local_user_id=user.id,
            name=user.display_name or user.username,
        )
    else:
        _move(row, M.PENDING)
    row.message = plain_text(message, 500, multiline=True)
    session.add(row)
    session.flush()
    if group.join_policy == "open":
        _activate(settings, group, row, session=session)
    else:
        _notify_coordinators(
            group,
            Kind.GROUP_JOIN_REQUEST,
            {"group": group.name, "href": f"/groups/{group.name}/members"},
            session=session,
            actor=row.member_uri,
        )
    return row


def receive_join(
    settings: Settings,
    group: Group,
    member_uri: str,
    name: str,
    activity_id: str,
    message: str,
    *,
    session: Session,
) -> Member | None:
    """A ``Join`` of ``group`` by ``member_uri`` (another node's person); None when they are already a
    member or waiting (a repeated request changes nothing)."""
    row = records.member_by_uri(group, member_uri, session=session)
    if row is not None and row.state in (M.ACTIVE.value, M.PENDING.value):
        return None
    if row is None:
        row = Member(group_id=group.pk, member_uri=member_uri, name=name[:200])
    elif row.state == M.INVITED.value:
        row.join_activity_id = activity_id
        _activate(settings, group, row, session=session)
        _answer_join(settings, group, row, accept=True, session=session)
        return row
    else:
        _move(row, M.PENDING)
    row.join_activity_id = activity_id
    row.message = plain_text(message, 500, multiline=True)
    session.add(row)
    session.flush()
    if group.join_policy == "open":
        _activate(settings, group, row, session=session)
        _answer_join(settings, group, row, accept=True, session=session)
    else:
        _notify_coordinators(
            group,
            Kind.GROUP_JOIN_REQUEST,
            {"group": group.name, "href": f"/groups/{group.name}/members"},
            session=session,
            actor=member_uri,
        )
    return row


def _answer_join(settings: Settings, group: Group, row: Member, *, accept: bool, session: Session) -> None:
    """``Accept``/``Reject`` of the member's ``Join``, to the member's node (nothing for our people)."""
    if row.local_user_id is not None or row.join_activity_id is None:
        return
    actor = actor_of(settings, group)
    publish(
        settings,
        actor=actor,
        activity={
            "type": "Accept" if accept else "Reject",
            "object": {
                "id": row.join_activity_id,
                "type": "Join",
                "actor": row.member_uri,
                "object": actor.uri,
            },
            "to": [row.member_uri],
        },
        recipients=[row.member_uri],
        session=session,
    )


def decide_request(
    settings: Settings, coordinator: User, group: Group, member_id: int, *, accept: bool, session: Session
) -> Member:
    """A coordinator accepts or refuses a request to join."""
    require_coordinator(group, coordinator, session=session)
    row = records.member(group, member_id, session=session, lock=True)
    if row is None:
        raise NotFound(MSG_NO_MEMBER)
    if row.state != M.PENDING.value:
        raise Conflict(MSG_NOT_WAITING)
    if accept:
        _activate(settings, group, row, session=session)
    else:
        _move(row, M.REJECTED)
        session.add(row)
    _answer_join(settings, group, row, accept=accept, session=session)
    if row.local_user_id is not None:
        notify(
            row.local_user_id,
            Kind.GROUP_MEMBERSHIP,
            actor_uri=actor_of(settings, group).uri,
            data={"group": group.display_name, "state": row.state, "href": f"/groups/{group.name}"},
            session=session,
        )
    return row


def invite(
    settings: Settings, coordinator: User, group: Group, target_uri: str, name: str = "", *, session: Session
) -> Member:
    """A coordinator invites a person (of this node, or of another: the group's ``Invite``)."""
    require_coordinator(group, coordinator, session=session)
    row = records.member_by_uri(group, target_uri, session=session)
    if row is not None and row.state in (M.ACTIVE.value, M.PENDING.value, M.INVITED.value):
        raise Conflict(N_("This person is already a member, invited or asking to join."))
    username = local.local_username(settings, target_uri)
    user = records.user_by_username(username, session=session) if username else None
    if username is not None and user is None:
        raise NotFound(N_("Nobody of this node has that name."))
    if row is None:
        row = Member(
            group_id=group.pk,
            member_uri=target_uri,
            local_user_id=user.id if user else None,
            name=(user.display_name or user.username) if user else name[:200],
            state=M.INVITED.value,
        )
    else:
        row.state = MEMBERSHIP_LIFECYCLE.check(row.state, M.INVITED).value
        row.updated_at = utcnow()
    actor = actor_of(settings, group)
    if user is not None:
        session.add(row)
        session.flush()
        notify(
            user.pk,
            Kind.GROUP_INVITED,
            actor_uri=actor.uri,
            data={"group": group.display_name, "href": f"/groups/{group.name}"},
            session=session,
        )
        return row
    row.invite_activity_id = local.new_activity_id(settings)
    session.add(row)
    session.flush()
    publish(
        settings,
        actor=actor,
        activity={
            "id": row.invite_activity_id,
            "type": "Invite",
            "object": actor.uri,
            "target": target_uri,
            "to": [target_uri],
        },
        recipients=[target_uri],
        session=session,
    )
    return row


def answer_invitation(
    settings: Settings, user: User, group: Group, *, accept: bool, session: Session
) -> Member:
    """``user`` (of this node) accepts or declines an invitation to ``group``."""
    _active(user, session=session)
    row = records.member_of_user(group, user, session=session)
    if row is None or row.state != M.INVITED.value:
        raise Conflict(MSG_NOT_WAITING)
    _invitation_answered(settings, group, row, accept=accept, session=session)
    return row


def receive_invitation_answer(
    settings: Settings, group: Group, row: Member, *, accept: bool, session: Session
) -> None:
    """The invitee's node answered our ``Invite``."""
    if row.state != M.INVITED.value:
        return
    _invitation_answered(settings, group, row, accept=accept, session=session)


def _invitation_answered(
    settings: Settings, group: Group, row: Member, *, accept: bool, session: Session
) -> None:
    """The invitee joins or declines; the coordinators of this node hear of it."""
    if accept:
        _activate(settings, group, row, session=session)
    else:
        _move(row, M.DECLINED)
        session.add(row)
    _notify_coordinators(
        group,
        Kind.GROUP_INVITATION_ANSWERED,
        {"group": group.display_name, "state": row.state, "href": f"/groups/{group.name}/members"},
        session=session,
        actor=row.member_uri,
    )


def _check_not_last_coordinator(group: Group, row: Member, *, session: Session) -> None:
    if row.role in records.COORDINATING and row.state == M.ACTIVE.value:
        others = [m for m in records.coordinators(group, session=session) if m.id != row.id]
        if not others:
            raise Conflict(MSG_LAST_COORDINATOR)


def leave(settings: Settings, user: User, group: Group, *, session: Session) -> Member:
    """``user`` leaves ``group`` (never its last coordinator)."""
    row = records.member_of_user(group, user, session=session)
    if row is None or row.state not in (M.ACTIVE.value, M.PENDING.value):
        raise Conflict(MSG_NOT_MEMBER)
    _check_not_last_coordinator(group, row, session=session)
    was_member = row.state == M.ACTIVE.value
    _move(row, M.LEFT)
    session.add(row)
    _unfollow_as_member(settings, group, row, session=session)
    if was_member:
        _tell_left(group, row, session=session)
    return row


def receive_leave(settings: Settings, group: Group, member_uri: str, *, session: Session) -> bool:
    """Another node's member left (``Leave``); False when there was nothing to leave. The last
    coordinator's ``Leave`` is refused (:class:`Conflict`)."""
    row = records.member_by_uri(group, member_uri, session=session)
    if row is None or row.state not in (M.ACTIVE.value, M.PENDING.value):
        return False
    _check_not_last_coordinator(group, row, session=session)
    was_member = row.state == M.ACTIVE.value
    _move(row, M.LEFT)
    session.add(row)
    _unfollow_as_member(settings, group, row, session=session)
    if was_member:
        _tell_left(group, row, session=session)
    return True


def _tell_left(group: Group, row: Member, *, session: Session) -> None:
    """The coordinators of this node hear that a member left."""
    _notify_coordinators(
        group,
        Kind.GROUP_MEMBER_LEFT,
        {"group": group.display_name, "href": f"/groups/{group.name}/members"},
        session=session,
        actor=row.member_uri,
    )


def remove(
    settings: Settings, coordinator: User, group: Group, member_id: int, *, session: Session
) -> Member:
    """A coordinator removes a member: the group's ``Remove`` goes to the member's node; they stop
    receiving the group's items."""
    require_coordinator(group, coordinator, session=session)
    row = records.member(group, member_id, session=session, lock=True)
    if row is None:
        raise NotFound(MSG_NO_MEMBER)
    if row.state != M.ACTIVE.value:
        raise Conflict(MSG_NOT_MEMBER)
    _check_not_last_coordinator(group, row, session=session)
    _move(row, M.REMOVED)
    session.add(row)
    _unfollow_as_member(settings, group, row, session=session)
    actor = actor_of(settings, group)
    if row.local_user_id is None:
        publish(
            settings,
            actor=actor,
            activity={
                "type": "Remove",
                "object": row.member_uri,
                "target": members_uri(settings, group),
                "to": [row.member_uri],
            },
            recipients=[row.member_uri],
            session=session,
        )
    else:
        notify(
            row.local_user_id,
            Kind.GROUP_MEMBERSHIP,
            actor_uri=actor.uri,
            data={"group": group.display_name, "state": row.state, "href": f"/groups/{group.name}"},
            session=session,
        )
    return row


# --- roles (the moderators collection) ------------------------------------------------------------------


def set_role(
    settings: Settings, coordinator: User, group: Group, member_id: int, role: str, *, session: Session
) -> Member:
    """A coordinator makes a member coordinator or member again: the group announces ``Add`` or
    ``Remove`` of the member on its ``moderators`` collection (FEP-1b12). The founder stays founder."""
    require_coordinator(group, coordinator, session=session)
    if role not in ("coordinator", "member"):
        raise ValidationFailed(MSG_ROLE, fields={"role": MSG_ROLE})
    row = records.member(group, member_id, session=session, lock=True)
    if row is None or row.state != M.ACTIVE.value:
        raise NotFound(MSG_NO_MEMBER)
    if row.role == "founder" or row.role == role:
        return row
    if role == "member":
        _check_not_last_coordinator(group, row, session=session)
    row.role = role
    row.updated_at = utcnow()
    session.add(row)
    actor = actor_of(settings, group)
    publish_as(
        settings,
        actor=actor,
        activity={
            "type": "Add" if role == "coordinator" else "Remove",
            "object": row.member_uri,
            "target": moderators_uri(settings, group),
        },
        to_followers=True,
        public=True,
        session=session,
    )
    return row


# --- notices to members -------------------------------------------------------------------------------


def post_notice(
    settings: Settings, coordinator: User, group: Group, text: str, *, session: Session
) -> Notice:
    """A notice to the members only: kept here for the members of this node, and announced by the group
    to its members on other nodes (never public; a removed member no longer receives them)."""
    require_coordinator(group, coordinator, session=session)
    content = plain_text(text, NOTICE_MAX + 1, multiline=True)
    if not content or len(content) > NOTICE_MAX:
        raise ValidationFailed(MSG_NOTICE, fields={"text": MSG_NOTICE})
    actor = actor_of(settings, group)
    note_id = settings.url(
        f"/groups/{group.name}/notices/{local.new_activity_id(settings).rsplit('/', 1)[-1]}"
    )
    row = Notice(
        group_uri=actor.uri,
        ap_id=note_id,
        user_id=None,
        author_uri=person_uri(settings, coordinator),
        content=content,
    )
    session.add(row)
    active = records.members(group, session=session)
    for member in active:
        if member.local_user_id is not None and member.local_user_id != coordinator.id:
            notify(
                member.local_user_id,
                Kind.GROUP_NOTICE,
                actor_uri=actor.uri,
                data={"group": group.display_name, "text": content[:200], "href": f"/groups/{group.name}"},
                session=session,
            )
    remote = [m.member_uri for m in active if m.local_user_id is None]
    if remote:
        members = members_uri(settings, group)
        publish_as(
            settings,
            actor=actor,
            activity={
                "type": "Create",
                "to": [members],
                "object": {
                    "type": "Note",
                    "id": note_id,
                    "attributedTo": actor.uri,
                    "content": text_to_html(content),
                    "to": [members],
                },
            },
            recipients=remote,
            session=session,
        )
    session.flush()
    return row
