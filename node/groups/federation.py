"""What the micro-organisations do with incoming activities: their kinds, how they are recognised, and the
handlers, contributed to the node's dispatcher by :func:`inbox_handlers` (before the marketplace).

Kinds (:func:`classify`):

- ``group-announce``: a group's ``Announce`` of an activity (FEP-1b12). Only a ``Group`` may send one
  (anyone else's is refused), and only one that our people or node follow or belong to is heard. The
  announced activity is verified by its origin: embedded, it has the group's origin (the inbox replaced
  any other by its id); given by id, it is fetched from its own origin and must carry that id and an
  actor of that origin. It is then processed as if its actor had sent it (``ctx.announced_by`` names the
  group), through the whole dispatcher: a group's offer is stored as the marketplace stores any offer;
- ``group-join``/``group-leave``: a person of another node asks to join one of our groups, or leaves it;
- ``group-join-answer``: ``Accept``/``Reject`` of a ``Join`` of ours (only from its group) or of an
  ``Invite`` of one of our groups (only from the invitee);
- ``group-invite``: a group of another node invites one of our people;
- ``group-member-removed``: a group of another node removed one of our people (``Remove`` from its
  ``members`` collection, signed by the group);
- ``group-moderators``: ``Add``/``Remove`` on a group's ``moderators`` collection: for a group of another
  node, only when that group announced it (its own act, or a moderator's of its origin); for one of ours,
  always refused (roles change on our node only): answered with the group's ``Reject``, the row ignored;
- ``group-notice``: a group's ``Create(Note)`` to its members, announced by the group;
- ``group-commitment``: a group's ``Commitment`` naming the member who carries out an agreement it provides
  (``Create``, or ``Update`` on a replacement): recorded as the agreement's ``performer``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from node.activitypub import addressing, vocab
from node.activitypub.actors import local
from node.activitypub.actors.local import Groups
from node.activitypub.addressing import id_of, same_origin, types_of
from node.activitypub.inbox.context import Outcome, PermanentFailure, ProcessingContext
from node.activitypub.inbox.dispatch import Contribution, contribution
from node.activitypub.outbox.publish import publish
from node.activitypub.social import follows
from node.activitypub.social.groups import is_group_announce
from node.core.errors import DomainError
from node.core.text import html_to_text
from node.groups import memberships, records, service
from node.groups.models import Group
from node.market.agreements import service as agreement_service
from node.market.agreements.parties import is_holder
from node.market.agreements.sync import find_agreement
from node.market.notifications import Kind, notify

log = logging.getLogger("asasap.groups")

ANNOUNCE = "group-announce"
JOIN = "group-join"
JOIN_ANSWER = "group-join-answer"
LEAVE = "group-leave"
INVITE = "group-invite"
MEMBER_REMOVED = "group-member-removed"
MODERATORS = "group-moderators"
NOTICE = "group-notice"
COMMITMENT = "group-commitment"
KINDS = frozenset(
    {ANNOUNCE, JOIN, JOIN_ANSWER, LEAVE, INVITE, MEMBER_REMOVED, MODERATORS, NOTICE, COMMITMENT}
)
TYPES = frozenset(
    {"Announce", "Join", "Leave", "Accept", "Reject", "Invite", "Add", "Remove", "Create", "Update"}
)
NOT_ANNOUNCED = frozenset({"Announce", "Follow", "Undo", "Join", "Leave", "Invite"})
NOTICE_MAX = 2000

Announced = Callable[[ProcessingContext, vocab.Activity], tuple[str | None, Outcome]]


def _refuse(ctx: ProcessingContext, reason: str) -> PermanentFailure:
    log.info("refused %s from %s: %s", ctx.row.activity_id, ctx.actor_uri, reason)
    return PermanentFailure(reason)


def _local_group(ctx: ProcessingContext, uri: str | None, groups: Groups) -> Group | None:
    name = local.local_group_name(ctx.settings, uri) if uri else None
    found = groups.find(name, session=ctx.session) if name else None
    return found if isinstance(found, Group) else None


def _collection_of(ctx: ProcessingContext, group_uri: str, name: str) -> set[str]:
    """The ids a group of another node gives its ``name`` collection (ours: ``<group>/<name>``)."""
    found = {group_uri + "/" + name}
    try:
        raw = json.loads(ctx.actor(group_uri).raw or "{}")
    except ValueError:
        raw = {}
    for key in (name, "attributedTo") if name == "moderators" else (name,):
        value = id_of(raw.get(key)) if isinstance(raw, Mapping) else None
        if value and same_origin(value, group_uri):
            found.add(value)
    return found


def classify(ctx: ProcessingContext, activity: vocab.Activity, *, groups: Groups) -> str | None:
    """The groups' kind of ``activity`` (see the module docs), or None when it is none of theirs."""
    kind = activity.type
    if kind == "Announce":
        if is_group_announce(activity):
            return ANNOUNCE
        if activity.object is None and activity.object_id is not None:
            # Only an id: a group's announce when the signer is a group we know (a relay's share otherwise).
            return ANNOUNCE if records.is_known_group(ctx.actor_uri, session=ctx.session) else None
        return None
    if kind == "Join":
        return JOIN if _local_group(ctx, activity.object_id, groups) is not None else None
    if kind == "Leave":
        return LEAVE if _local_group(ctx, activity.object_id, groups) is not None else None
    if kind in ("Accept", "Reject") and activity.object_id is not None:
        if records.remote_by_activity(activity.object_id, session=ctx.session) is not None:
            return JOIN_ANSWER
        if records.by_invite_activity(activity.object_id, session=ctx.session) is not None:
            return JOIN_ANSWER
        return None
    if kind == "Invite":
        target = activity.target_id or next(iter(activity.to), None)
        if activity.object_id == ctx.actor_uri and target and local.local_username(ctx.settings, target):
            return INVITE
        return None
    if kind in ("Add", "Remove") and activity.target_id is not None:
        if activity.target_id.rsplit("/", 1)[-1] == "moderators":
            return MODERATORS
        if kind == "Remove" and activity.object_id and local.local_username(ctx.settings, activity.object_id):
            return MEMBER_REMOVED
        return None
    if kind in ("Create", "Update") and activity.object is not None:
        if "Commitment" in types_of(activity.object):
            return COMMITMENT
        if kind == "Create" and ctx.announced_by is not None and ctx.announced_by == activity.actor:
            if "Note" in types_of(activity.object):
                return NOTICE
    return None


# --- announces ---------------------------------------------------------------------------------------


def _heard(ctx: ProcessingContext, group_uri: str) -> bool:
    """Whether one of our actors follows or belongs to ``group_uri`` (else its announces are ignored)."""
    if any(
        local.is_local(ctx.settings, uri)
        for uri in follows.accepted_followers(group_uri, session=ctx.session)
    ):
        return True
    return any(
        row.state == "active" for row in records.remote_members_of_group(group_uri, session=ctx.session)
    )


def on_announce(ctx: ProcessingContext, activity: vocab.Activity, *, announced: Announced) -> Outcome:
    """A group's ``Announce``: the announced activity, verified by its origin, processed as its actor's."""
    if ctx.announced_by is not None:
        raise _refuse(ctx, "an Announce inside an Announce")
    if ctx.actor(ctx.actor_uri).type != "Group":
        raise _refuse(ctx, "an Announce of an activity from an actor that is not a group")
    if not _heard(ctx, ctx.actor_uri):
        log.info("ignored an announce of %s: nobody here follows or belongs to it", ctx.actor_uri)
        return Outcome.IGNORED
    inner: Mapping[str, Any] | None = activity.object
    if inner is None:
        assert activity.object_id is not None
        inner = ctx.document(activity.object_id)
        if id_of(inner) != activity.object_id:
            raise _refuse(ctx, "the announced activity's origin served another id")
        if not any(kind in vocab.ACTIVITY_KINDS for kind in types_of(inner)):
            return Outcome.IGNORED  # the share of an object: not a group's announce of an activity
    try:
        parsed = vocab.parse_activity(inner)
    except vocab.VocabError as exc:
        raise _refuse(ctx, f"unreadable announced activity: {exc}") from None
    if not same_origin(parsed.id, parsed.actor):
        raise _refuse(ctx, "the announced activity's id and actor have different origins")
    if activity.object is not None and not same_origin(parsed.id, ctx.actor_uri):
        raise _refuse(ctx, "an embedded activity of another origin than the group's")
    if parsed.type in NOT_ANNOUNCED:
        return Outcome.IGNORED
    _, outcome = announced(ctx.announced(inner, parsed.actor), parsed)
    return outcome


# --- membership of our groups ------------------------------------------------------------------------


def on_join(ctx: ProcessingContext, activity: vocab.Activity, *, groups: Groups) -> Outcome:
    group = _local_group(ctx, activity.object_id, groups)
    if group is None:
        return Outcome.IGNORED
    sender = ctx.actor(ctx.actor_uri)
    content = activity.raw.get("content")
    message = html_to_text(content, 500) if isinstance(content, str) else ""
    row = service.receive_join(
        ctx.settings,
        group,
        ctx.actor_uri,
        sender.name or sender.handle,
        activity.id,
        message,
        session=ctx.session,
    )
    return Outcome.DONE if row is not None else Outcome.IGNORED


def on_leave(ctx: ProcessingContext, activity: vocab.Activity, *, groups: Groups) -> Outcome:
    group = _local_group(ctx, activity.object_id, groups)
    if group is None:
        return Outcome.IGNORED
    try:
        left = service.receive_leave(ctx.settings, group, ctx.actor_uri, session=ctx.session)
    except DomainError as exc:
        raise _refuse(ctx, exc.message) from None
    return Outcome.DONE if left else Outcome.IGNORED


def on_join_answer(ctx: ProcessingContext, activity: vocab.Activity) -> Outcome:
    assert activity.object_id is not None
    accepted = activity.type == "Accept"
    ours = records.remote_by_activity(activity.object_id, session=ctx.session)
    if ours is not None:
        if ours.group_uri != ctx.actor_uri or ours.join_activity_id != activity.object_id:
            raise _refuse(ctx, "an answer to a request to join from someone else than the group")
        changed = memberships.group_answered(ctx.settings, ours, accepted=accepted, session=ctx.session)
        return Outcome.DONE if changed else Outcome.IGNORED
    invited = records.by_invite_activity(activity.object_id, session=ctx.session)
    if invited is None:
        return Outcome.IGNORED
    if invited.member_uri != ctx.actor_uri:
        raise _refuse(ctx, "an answer to an invitation from someone else than the invitee")
    group = ctx.session.get(Group, invited.group_id)
    if group is None or not group.is_active:
        return Outcome.IGNORED
    service.receive_invitation_answer(ctx.settings, group, invited, accept=accepted, session=ctx.session)
    return Outcome.DONE


# --- what groups of other nodes tell our people ----------------------------------------------------------


def on_invite(ctx: ProcessingContext, activity: vocab.Activity) -> Outcome:
    target = activity.target_id or next(iter(activity.to), "")
    username = local.local_username(ctx.settings, target)
    user = records.user_by_username(username, session=ctx.session) if username else None
    if user is None:
        return Outcome.IGNORED
    group = ctx.actor(ctx.actor_uri)
    if group.type != "Group":
        raise _refuse(ctx, "an invitation from an actor that is not a group")
    row = records.remote_membership(group.uri, user.pk, session=ctx.session)
    done = memberships.invited(row, group, user, activity.id, session=ctx.session)
    return Outcome.DONE if done is not None else Outcome.IGNORED


def on_member_removed(ctx: ProcessingContext, activity: vocab.Activity) -> Outcome:
    assert activity.object_id is not None and activity.target_id is not None
    if activity.target_id not in _collection_of(ctx, ctx.actor_uri, "members"):
        raise _refuse(ctx, "a Remove from a collection that is not the signer's members")
    username = local.local_username(ctx.settings, activity.object_id)
    user = records.user_by_username(username, session=ctx.session) if username else None
    row = records.remote_membership(ctx.actor_uri, user.pk, session=ctx.session) if user else None
    if row is None:
        return Outcome.IGNORED
    return Outcome.DONE if memberships.removed(ctx.settings, row, session=ctx.session) else Outcome.IGNORED


def on_moderators(ctx: ProcessingContext, activity: vocab.Activity, *, groups: Groups) -> Outcome:
    assert activity.target_id is not None
    ours = _local_group(ctx, activity.target_id.rsplit("/", 1)[0], groups)
    if ours is not None:
        # Roles of our groups change here only, by their coordinators: anyone else's change is refused.
        actor = service.actor_of(ctx.settings, ours)
        publish(
            ctx.settings,
            actor=actor,
            activity={"type": "Reject", "object": activity.id, "to": [ctx.actor_uri]},
            recipients=[ctx.actor_uri],
            session=ctx.session,
        )
        log.info(
            "refused %s from %s: a role change of %s from another node", activity.id, ctx.actor_uri, actor.uri
        )
        return Outcome.IGNORED  # the Reject is the answer; nothing else changes
    group_uri = ctx.announced_by
    if group_uri is None or activity.target_id not in _collection_of(ctx, group_uri, "moderators"):
        raise _refuse(ctx, "a role change not announced by its group")
    if not same_origin(activity.actor, group_uri):
        raise _refuse(ctx, "a role change by an actor of another origin than the group's")
    username = local.local_username(ctx.settings, activity.object_id or "")
    user = records.user_by_username(username, session=ctx.session) if username else None
    row = records.remote_membership(group_uri, user.pk, session=ctx.session) if user else None
    if row is None:
        return Outcome.IGNORED
    role = "coordinator" if activity.type == "Add" else "member"
    return Outcome.DONE if memberships.role_changed(row, role, session=ctx.session) else Outcome.IGNORED


def on_notice(ctx: ProcessingContext, activity: vocab.Activity) -> Outcome:
    note = activity.object or {}
    note_id = id_of(note)
    if note_id is None or not same_origin(note_id, ctx.actor_uri):
        raise _refuse(ctx, "a notice of another origin than its group's")
    content = note.get("content")
    text = html_to_text(content, NOTICE_MAX) if isinstance(content, str) else ""
    kept = memberships.notice_received(ctx.actor_uri, note_id, text, session=ctx.session)
    return Outcome.DONE if kept else Outcome.IGNORED


def on_commitment(ctx: ProcessingContext, activity: vocab.Activity) -> Outcome:
    """The group providing an agreement names (or replaces) the member who carries it out."""
    commitment = activity.object or {}
    agreement_id = id_of(commitment.get("clauseOf"))
    member = id_of(commitment.get("provider"))
    if agreement_id is None or member is None or not addressing.is_uri(member):
        raise _refuse(ctx, "a Commitment without its agreement (clauseOf) or member (provider)")
    attributed = id_of(commitment.get("attributedTo"))
    if attributed not in (None, ctx.actor_uri):
        raise _refuse(ctx, "a Commitment attributed to someone else than its signer")
    agreement = find_agreement(agreement_id, lock=True, session=ctx.session)
    if agreement is not None:
        if agreement.provider_uri != ctx.actor_uri:
            raise _refuse(ctx, "a Commitment from a group that does not provide the agreement")
        if agreement.performer_uri != member:
            agreement.performer_uri = member
            ctx.session.add(agreement)
            if is_holder(agreement):
                agreement_service.sync_holder(ctx.settings, agreement, session=ctx.session)
    username = local.local_username(ctx.settings, member)
    user = records.user_by_username(username, session=ctx.session) if username else None
    if user is not None:
        notify(
            user.pk,
            Kind.GROUP_ASSIGNED,
            object_uri=agreement_id,
            actor_uri=ctx.actor_uri,
            data={"href": "/me/groups"},
            session=ctx.session,
        )
    return Outcome.DONE if agreement is not None or user is not None else Outcome.IGNORED


def inbox_handlers(groups: Groups, *, announced: Announced) -> Contribution:
    """The groups' part of the node's dispatcher; ``groups`` finds our groups, ``announced`` processes an
    activity a group announced through the whole dispatcher (the composition binds it)."""

    def kind_of(ctx: ProcessingContext, activity: vocab.Activity) -> str | None:
        return classify(ctx, activity, groups=groups)

    return contribution(
        "groups",
        types=TYPES,
        kinds=KINDS,
        classify=kind_of,
        handlers={
            ANNOUNCE: (lambda ctx, a: on_announce(ctx, a, announced=announced),),
            JOIN: (lambda ctx, a: on_join(ctx, a, groups=groups),),
            LEAVE: (lambda ctx, a: on_leave(ctx, a, groups=groups),),
            JOIN_ANSWER: (on_join_answer,),
            INVITE: (on_invite,),
            MEMBER_REMOVED: (on_member_removed,),
            MODERATORS: (lambda ctx, a: on_moderators(ctx, a, groups=groups),),
            NOTICE: (on_notice,),
            COMMITMENT: (on_commitment,),
        },
    )
