"""API operations on micro-organisations: the directory, a group's profile, joining and leaving,
invitations, members and roles (with their categories of associates), and rules. Groups of other nodes
and the caller's groups are :mod:`node.http.api.v1.group_memberships`; colleges, the legal checklist and
the constitution :mod:`node.http.api.v1.group_constitution`; the group at work (offers, answers,
agreements, assignment, calendar, notices) :mod:`node.http.api.v1.group_work`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.core.errors import N_, NotFound, PermissionDenied
from node.groups import associates, legal, records, service
from node.groups import profile as group_profile
from node.groups import rules as group_rules
from node.groups.models import Group, Member
from node.http.api.framework import Operation, operation
from node.http.api.schemas import CategorySlug, DecimalText, Strict, text
from node.http.pages.groups.pages import person_address
from node.http.runtime import node_of, run
from node.settings import Settings

TAG = "groups"
MSG_MEMBERS_ONLY = N_("Only the group's members see this.")
Percent = Annotated[Decimal, DecimalText.between(Decimal(0), Decimal(100))]


class GroupCreate(Strict):
    """A new group: ``name`` is its address (``/groups/<name>``, ``name@host``)."""

    name: str = Field(
        min_length=3,
        max_length=30,
        pattern=service.NAME_RE.pattern,
        json_schema_extra={"not": {"enum": [name for name in sorted(service.RESERVED)]}},
        description="Not one of the node's reserved names",
    )
    display_name: str = text(3, 80)
    summary: str = Field(default="", max_length=2000)
    territory: str = Field(default="", max_length=120)
    legal_shape: legal.Shape
    categories: list[CategorySlug] = Field(default_factory=list, max_length=26)
    join_policy: Literal["approval", "open"] = "approval"


class GroupOut(BaseModel):
    name: str
    id: str = Field(description="The Group actor's ActivityPub id")
    display_name: str
    summary: str
    territory: str
    legal_shape: str
    categories: list[str]
    join_policy: str
    members: int
    created_at: datetime


class MemberOut(BaseModel):
    id: int
    actor: str
    name: str
    state: str
    role: str
    category: str
    capital_percent: Decimal
    college: int | None
    associate: bool
    bureau_role: str
    offers: list[str]


class MemberChange(Strict):
    """What a coordinator changes about a member: role, and their place in the constitution."""

    role: Literal["coordinator", "member"] | None = None
    category: str | None = Field(default=None, max_length=20)
    capital_percent: Percent | None = Field(default=None, description="Share of the capital, %")
    college: int | None = None
    associate: bool | None = None
    bureau_role: Literal["", "president", "treasurer", "secretary"] | None = None
    offers: list[CategorySlug] | None = Field(default=None, max_length=26)
    contract_items: list[str] | None = Field(default=None, max_length=6, description="CAE: items of L7331-2")
    contract_signed_on: date | None = None


class JoinIn(Strict):
    message: str = Field(default="", max_length=2000)


class AnswerIn(Strict):
    accept: bool


class DecisionIn(Strict):
    accept: bool


class InviteIn(Strict):
    person: str = text(1, 300, description="A username here, or a handle elsewhere")


class RulesIn(Strict):
    sharing_rule: Literal["coordinator", "round_robin", "first_available"]
    contribution_rate: Percent = Decimal("0")
    contribution_brackets: list[
        tuple[Annotated[Decimal, DecimalText.between(Decimal(0), group_rules.AMOUNT_MAX)], Percent]
    ] = Field(
        default_factory=list,
        max_length=group_rules.BRACKETS_MAX,
        description="[[from amount, rate %], ...], marginal: the first from 0, the amounts increasing",
    )
    members_see: Literal["all", "own"] = "all"
    rules_text: str = Field(default="", max_length=4000)


def _group_out(settings: Settings, group: Group, *, session: Session) -> GroupOut:
    return GroupOut(
        name=group.name,
        id=service.actor_of(settings, group).uri,
        display_name=group.display_name,
        summary=group.summary,
        territory=group.territory,
        legal_shape=group.legal_shape,
        categories=records.json_list(group.categories),
        join_policy=group.join_policy,
        members=records.member_count(group, session=session),
        created_at=group.created_at,
    )


def _member_out(row: Member) -> MemberOut:
    assert row.id is not None
    return MemberOut(
        id=row.id,
        actor=row.member_uri,
        name=row.name,
        state=row.state,
        role=row.role,
        category=row.category,
        capital_percent=row.capital_percent,
        college=row.college_id,
        associate=row.associate,
        bureau_role=row.bureau_role,
        offers=records.json_list(row.offers),
    )


def name_of(request: Request) -> str:
    return str(request.path_params["name"])


def member_of(group: Group, caller: User, *, session: Session) -> Member:
    row = records.member_of_user(group, caller, session=session)
    if row is None or row.state != "active":
        raise PermissionDenied(MSG_MEMBERS_ONLY)
    return row


@operation(
    "GET",
    "/groups",
    summary="Groups of this node (search)",
    tag=TAG,
    auth="none",
    response=GroupOut,
    list_response=True,
    query={
        "q": {"type": "string", "description": "Words in the name, description or territory"},
        "shape": {"type": "string", "enum": [s.value for s in legal.Shape]},
        "departement": {"type": "string"},
        "category": {"type": "string"},
    },
)
async def list_groups(request: Request, caller: User | None, _body: None) -> list[GroupOut]:
    settings = node_of(request).settings
    params = request.query_params

    def load(session: Session) -> list[GroupOut]:
        found = records.search(
            session=session,
            text=params.get("q", "")[:100],
            shape=params.get("shape", "")[:16],
            departement=params.get("departement", "")[:3],
            category=params.get("category", "")[:64],
        )
        return [_group_out(settings, g, session=session) for g in found]

    return await run(request, load)


@operation(
    "POST",
    "/groups",
    summary="Create a group (the caller is its founder)",
    tag=TAG,
    body=GroupCreate,
    response=GroupOut,
    status=201,
    errors=(409,),
)
async def create_group(request: Request, caller: User, body: GroupCreate) -> GroupOut:
    settings = node_of(request).settings
    data = group_profile.GroupInput(**body.model_dump(mode="json"))

    def save(session: Session) -> GroupOut:
        return _group_out(
            settings, group_profile.create_group(settings, caller, data, session=session), session=session
        )

    return await run(request, save)


@operation(
    "GET",
    "/groups/{name}",
    summary="A group's profile",
    tag=TAG,
    auth="none",
    response=GroupOut,
    errors=(404,),
)
async def get_group(request: Request, caller: User | None, _body: None) -> GroupOut:
    settings = node_of(request).settings
    return await run(
        request, lambda s: _group_out(settings, service.group_named(name_of(request), session=s), session=s)
    )


class GroupChange(Strict):
    """A new public profile of the group (its name, address and legal shape stay)."""

    display_name: str = text(3, 80)
    summary: str = Field(default="", max_length=2000)
    territory: str = Field(default="", max_length=120)
    categories: list[CategorySlug] = Field(default_factory=list, max_length=26)
    join_policy: Literal["approval", "open"] = "approval"


@operation(
    "PUT",
    "/groups/{name}",
    summary="Change the group's public profile (coordinators; its followers get the group's Update)",
    tag=TAG,
    body=GroupChange,
    response=GroupOut,
    errors=(403, 404, 422),
)
async def change_group(request: Request, caller: User, body: GroupChange) -> GroupOut:
    settings = node_of(request).settings

    def save(session: Session) -> GroupOut:
        group = service.group_named(name_of(request), session=session)
        data = group_profile.GroupInput(**body.model_dump(mode="json"), legal_shape=group.legal_shape)
        return _group_out(
            settings,
            group_profile.update_profile(settings, caller, group, data, session=session),
            session=session,
        )

    return await run(request, save)


@operation(
    "GET",
    "/groups/{name}/members",
    summary="Members, requests and invitations (members only)",
    tag=TAG,
    response=MemberOut,
    list_response=True,
    errors=(403, 404),
)
async def list_members(request: Request, caller: User, _body: None) -> list[MemberOut]:
    def load(session: Session) -> list[MemberOut]:
        group = service.group_named(name_of(request), session=session)
        member_of(group, caller, session=session)
        rows = records.members(group, session=session, states=["active", "pending", "invited"])
        return [_member_out(r) for r in rows]

    return await run(request, load)


@operation(
    "POST",
    "/groups/{name}/join",
    summary="Ask to join a group of this node (joins at once when open)",
    tag=TAG,
    body=JoinIn,
    response=MemberOut,
    errors=(404, 409),
)
async def join_group(request: Request, caller: User, body: JoinIn) -> MemberOut:
    settings = node_of(request).settings

    def save(session: Session) -> MemberOut:
        group = service.group_named(name_of(request), session=session)
        return _member_out(service.join(settings, caller, group, body.message, session=session))

    return await run(request, save)


@operation(
    "POST",
    "/groups/{name}/leave",
    summary="Leave a group of this node (never as its last coordinator)",
    tag=TAG,
    response=MemberOut,
    errors=(404, 409),
)
async def leave_group(request: Request, caller: User, _body: None) -> MemberOut:
    settings = node_of(request).settings
    return await run(
        request,
        lambda s: _member_out(
            service.leave(settings, caller, service.group_named(name_of(request), session=s), session=s)
        ),
    )


@operation(
    "POST",
    "/groups/{name}/invitation",
    summary="Accept or decline an invitation to a group of this node",
    tag=TAG,
    body=AnswerIn,
    response=MemberOut,
    errors=(404, 409),
)
async def answer_invitation(request: Request, caller: User, body: AnswerIn) -> MemberOut:
    settings = node_of(request).settings
    return await run(
        request,
        lambda s: _member_out(
            service.answer_invitation(
                settings,
                caller,
                service.group_named(name_of(request), session=s),
                accept=body.accept,
                session=s,
            )
        ),
    )


@operation(
    "POST",
    "/groups/{name}/invitations",
    summary="Invite a person, here or on another node (coordinators)",
    tag=TAG,
    body=InviteIn,
    response=MemberOut,
    status=201,
    errors=(403, 404, 409, 422),
)
async def invite(request: Request, caller: User, body: InviteIn) -> MemberOut:
    settings = node_of(request).settings
    uri, display = await person_address(request, body.person)
    return await run(
        request,
        lambda s: _member_out(
            service.invite(
                settings, caller, service.group_named(name_of(request), session=s), uri, display, session=s
            )
        ),
    )


@operation(
    "POST",
    "/groups/{name}/members/{member_id:int}/decision",
    summary="Accept or refuse a request to join (coordinators)",
    tag=TAG,
    body=DecisionIn,
    response=MemberOut,
    errors=(403, 404, 409),
)
async def decide(request: Request, caller: User, body: DecisionIn) -> MemberOut:
    settings = node_of(request).settings
    member_id = int(request.path_params["member_id"])
    return await run(
        request,
        lambda s: _member_out(
            service.decide_request(
                settings,
                caller,
                service.group_named(name_of(request), session=s),
                member_id,
                accept=body.accept,
                session=s,
            )
        ),
    )


@operation(
    "PATCH",
    "/groups/{name}/members/{member_id:int}",
    summary="Change a member's role and place in the constitution (coordinators)",
    tag=TAG,
    body=MemberChange,
    response=MemberOut,
    errors=(403, 404, 409, 422),
)
async def change_member(request: Request, caller: User, body: MemberChange) -> MemberOut:
    settings = node_of(request).settings
    member_id = int(request.path_params["member_id"])
    changes = body.model_dump(exclude_unset=True)
    if body.offers is not None:
        changes["offers"] = [slug.value for slug in body.offers]

    def save(session: Session) -> MemberOut:
        group = service.group_named(name_of(request), session=session)
        row = records.member(group, member_id, session=session)
        if row is None:
            raise NotFound(service.MSG_NO_MEMBER)
        if "role" in changes and changes["role"] is not None:
            service.set_role(settings, caller, group, member_id, changes["role"], session=session)
        constitution_fields = set(changes) - {"role"}
        if constitution_fields:

            def given(key: str, current: Any) -> Any:
                """The new value of a field that cannot be empty; null leaves it unchanged."""
                value = changes.get(key)
                return current if value is None else value

            items = changes.get("contract_items")
            signed = changes.get("contract_signed_on") or row.contract_signed_on
            associates.set_associate(
                settings,
                caller,
                group,
                member_id,
                associates.AssociateInput(
                    category=given("category", row.category) or "",
                    capital_percent=str(given("capital_percent", row.capital_percent)),
                    college_id=changes.get("college", row.college_id),
                    associate=given("associate", row.associate),
                    bureau_role=given("bureau_role", row.bureau_role) or "",
                    offers=changes.get("offers") or records.json_list(row.offers),
                    contract_items=items if items is not None else records.contract_items(row),
                    contract_signed_on=str(signed) if signed else "",
                ),
                session=session,
            )
        session.flush()
        return _member_out(row)

    return await run(request, save)


@operation(
    "DELETE",
    "/groups/{name}/members/{member_id:int}",
    summary="Remove a member (coordinators)",
    tag=TAG,
    response=MemberOut,
    errors=(403, 404, 409),
)
async def remove_member(request: Request, caller: User, _body: None) -> MemberOut:
    settings = node_of(request).settings
    member_id = int(request.path_params["member_id"])
    return await run(
        request,
        lambda s: _member_out(
            service.remove(
                settings, caller, service.group_named(name_of(request), session=s), member_id, session=s
            )
        ),
    )


@operation(
    "PUT",
    "/groups/{name}/rules",
    summary="Write the group's rules (coordinators)",
    tag=TAG,
    body=RulesIn,
    response=GroupOut,
    errors=(403, 422),
)
async def put_rules(request: Request, caller: User, body: RulesIn) -> GroupOut:
    settings = node_of(request).settings
    data = group_profile.RulesInput(
        sharing_rule=body.sharing_rule,
        contribution_rate=str(body.contribution_rate),
        contribution_brackets="\n".join(f"{start}: {rate}" for start, rate in body.contribution_brackets),
        members_see=body.members_see,
        rules_text=body.rules_text,
    )

    def save(session: Session) -> GroupOut:
        group = group_profile.update_rules(
            settings, caller, service.group_named(name_of(request), session=session), data, session=session
        )
        return _group_out(settings, group, session=session)

    return await run(request, save)


def operations() -> list[Operation]:
    return [
        list_groups,
        create_group,
        get_group,
        change_group,
        list_members,
        join_group,
        leave_group,
        answer_invitation,
        invite,
        decide,
        change_member,
        remove_member,
        put_rules,
    ]
