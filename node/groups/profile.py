"""Creating a group and describing it: the creation wizard's input, the group's public profile (its
followers get the group's announced ``Update``) and the rules its coordinators write."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from node.accounts.models import User
from node.activitypub.social.groups import publish_as
from node.catalog.categories import by_slug
from node.core.errors import N_, Conflict, ValidationFailed
from node.core.text import plain_text
from node.core.timeutil import utcnow
from node.groups import actors as group_actors
from node.groups import legal, records
from node.groups import rules as group_rules
from node.groups.models import Group, Member
from node.groups.service import (
    MSG_CATEGORY,
    MSG_DISPLAY,
    MSG_NAME,
    MSG_NAME_TAKEN,
    MSG_POLICY,
    MSG_SEE,
    MSG_SHAPE,
    MSG_SHARING,
    NAME_RE,
    RESERVED,
    M,
    _active,
    actor_of,
    person_uri,
    require_coordinator,
)
from node.places.gazetteer import default_gazetteer
from node.settings import Settings


@dataclass
class GroupInput:
    """What a founder types in the creation wizard (and coordinators when they edit the profile)."""

    name: str = ""
    display_name: str = ""
    summary: str = ""
    territory: str = ""
    legal_shape: str = ""
    categories: list[str] = field(default_factory=list)
    join_policy: str = "approval"


def _clean(data: GroupInput, *, creating: bool, session: Session) -> dict[str, object]:
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    if creating:
        name = data.name.strip().lower()
        if not NAME_RE.match(name) or name in RESERVED:
            errors["name"] = MSG_NAME
        elif records.name_taken(name, session=session):
            errors["name"] = MSG_NAME_TAKEN
        values["name"] = name
    display = plain_text(data.display_name, 81)
    if not 3 <= len(display) <= 80:
        errors["display_name"] = MSG_DISPLAY
    values["display_name"] = display
    values["summary"] = plain_text(data.summary, 2000, multiline=True)
    territory = plain_text(data.territory, 120)
    values["territory"] = territory
    found = default_gazetteer().search(territory, limit=1) if territory else []
    values["departement"] = found[0].departement if found else ""
    try:
        values["legal_shape"] = legal.Shape(data.legal_shape).value
    except ValueError:
        errors["legal_shape"] = MSG_SHAPE
    slugs: list[str] = []
    for slug in data.categories[:26]:
        try:
            slugs.append(by_slug(slug).slug)
        except ValueError:
            errors["categories"] = MSG_CATEGORY
    values["categories"] = json.dumps(sorted(set(slugs)))
    if data.join_policy not in ("approval", "open"):
        errors["join_policy"] = MSG_POLICY
    values["join_policy"] = data.join_policy
    if errors:
        raise ValidationFailed(
            next(iter(errors.values())) if len(errors) == 1 else N_("Some fields need attention."),
            fields=errors,
        )
    return values


def create_group(settings: Settings, founder: User, data: GroupInput, *, session: Session) -> Group:
    """Create a group whose founder (and first coordinator) is ``founder``."""
    _active(founder, session=session)
    values = _clean(data, creating=True, session=session)
    now = utcnow()
    group = Group(created_at=now, updated_at=now, **values)  # type: ignore[arg-type]
    try:
        with session.begin_nested():
            session.add(group)
            session.flush()
    except IntegrityError:
        raise Conflict(MSG_NAME_TAKEN, fields={"name": MSG_NAME_TAKEN}) from None
    session.add(
        Member(
            group_id=group.pk,
            member_uri=person_uri(settings, founder),
            local_user_id=founder.id,
            name=founder.display_name or founder.username,
            state=M.ACTIVE.value,
            role="founder",
            joined_at=now,
        )
    )
    session.flush()
    return group


def update_profile(
    settings: Settings, coordinator: User, group: Group, data: GroupInput, *, session: Session
) -> Group:
    """Change the group's public profile; its followers receive the group's ``Update`` (announced)."""
    require_coordinator(group, coordinator, session=session)
    for name, value in _clean(data, creating=False, session=session).items():
        setattr(group, name, value)
    group.updated_at = utcnow()
    session.add(group)
    session.flush()
    publish_update(settings, group, session=session)
    return group


def publish_update(settings: Settings, group: Group, *, session: Session) -> None:
    """Announce the group's ``Update`` of itself to its followers (FEP-1b12 moderation activity)."""
    actor = actor_of(settings, group)
    document = group_actors.group_document(settings, group, session=session, create_key=True)
    document.pop("@context", None)
    publish_as(
        settings,
        actor=actor,
        activity={"@context": group_actors.GROUP_CONTEXT, "type": "Update", "object": document},
        to_followers=True,
        public=True,
        session=session,
    )


@dataclass
class RulesInput:
    sharing_rule: str = "coordinator"
    contribution_rate: str = "0"
    contribution_brackets: str = ""
    members_see: str = "all"
    rules_text: str = ""


def update_rules(
    settings: Settings, coordinator: User, group: Group, data: RulesInput, *, session: Session
) -> Group:
    """The coordinators write the group's rules: sharing of work, contribution, what members see."""
    require_coordinator(group, coordinator, session=session)
    errors: dict[str, str] = {}
    try:
        group.sharing_rule = group_rules.SharingRule(data.sharing_rule).value
    except ValueError:
        errors["sharing_rule"] = MSG_SHARING
    if data.members_see not in group_rules.MEMBERS_SEE:
        errors["members_see"] = MSG_SEE
    else:
        group.members_see = data.members_see
    try:
        group.contribution_rate = group_rules.parse_rate(data.contribution_rate)
        group.contribution_brackets = group_rules.brackets_to_json(
            group_rules.parse_brackets(data.contribution_brackets)
        )
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)
    group.rules_text = plain_text(data.rules_text, 4000, multiline=True)
    group.updated_at = utcnow()
    session.add(group)
    return group
