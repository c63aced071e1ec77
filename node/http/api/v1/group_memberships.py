"""API operations on the caller's groups: joining, answering and leaving groups of other nodes (their
``Join``, ``Accept``/``Reject`` of an invitation, ``Leave``), and the caller's groups here and there.
Listed before :mod:`node.http.api.v1.groups`, so that ``/groups/remote/...`` is not read as a group named
``remote``."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.activitypub.actors import local
from node.groups import memberships, records
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict, text
from node.http.api.v1.groups import TAG
from node.http.pages.groups.pages import remote_actor
from node.http.runtime import node_of, run


class RemoteJoinIn(Strict):
    group: str = text(3, 300, description="The group's handle (name@host) or address")
    message: str = Field(default="", max_length=2000)


class RemoteAnswerIn(Strict):
    group: str = text(8, 2048, description="The group's actor id")
    accept: bool


class MyGroupOut(BaseModel):
    group: str
    name: str
    state: str
    role: str
    here: bool


@operation(
    "POST",
    "/groups/remote/join",
    summary="Ask to join a group of another node (its Join)",
    tag=TAG,
    body=RemoteJoinIn,
    response=MyGroupOut,
    status=201,
    errors=(409, 422),
)
async def join_remote(request: Request, caller: User, body: RemoteJoinIn) -> MyGroupOut:
    settings = node_of(request).settings
    actor = await remote_actor(request, body.group, "group")

    def save(session: Session) -> MyGroupOut:
        row = memberships.join_remote(settings, caller, actor, body.message, session=session)
        return MyGroupOut(
            group=row.group_uri, name=row.group_name, state=row.state, role=row.role, here=False
        )

    return await run(request, save)


@operation(
    "POST",
    "/groups/remote/answer",
    summary="Accept or decline an invitation of a group of another node",
    tag=TAG,
    body=RemoteAnswerIn,
    response=MyGroupOut,
    errors=(409,),
)
async def answer_remote(request: Request, caller: User, body: RemoteAnswerIn) -> MyGroupOut:
    settings = node_of(request).settings
    accept = body.accept

    def save(session: Session) -> MyGroupOut:
        row = memberships.answer_remote_invitation(
            settings, caller, body.group, accept=accept, session=session
        )
        return MyGroupOut(
            group=row.group_uri, name=row.group_name, state=row.state, role=row.role, here=False
        )

    return await run(request, save)


class RemoteGroupIn(Strict):
    group: str = text(8, 2048, description="The group's actor id")


@operation(
    "POST",
    "/groups/remote/leave",
    summary="Leave a group of another node (its Leave)",
    tag=TAG,
    body=RemoteGroupIn,
    response=MyGroupOut,
    errors=(404, 409),
)
async def leave_remote(request: Request, caller: User, body: RemoteGroupIn) -> MyGroupOut:
    settings = node_of(request).settings

    def save(session: Session) -> MyGroupOut:
        row = memberships.leave_remote(settings, caller, body.group, session=session)
        return MyGroupOut(
            group=row.group_uri, name=row.group_name, state=row.state, role=row.role, here=False
        )

    return await run(request, save)


@operation(
    "GET",
    "/me/groups",
    summary="The caller's groups, here and on other nodes",
    tag=TAG,
    response=MyGroupOut,
    list_response=True,
)
async def my_groups(request: Request, caller: User, _body: None) -> list[MyGroupOut]:
    settings = node_of(request).settings

    def load(session: Session) -> list[MyGroupOut]:
        here = [
            MyGroupOut(
                group=local.group(settings, g.name).uri,
                name=g.display_name,
                state=m.state,
                role=m.role,
                here=True,
            )
            for g, m in records.groups_of_user(caller, session=session)
        ]
        there = [
            MyGroupOut(group=r.group_uri, name=r.group_name, state=r.state, role=r.role, here=False)
            for r in records.remote_memberships_of(caller, session=session)
        ]
        return here + there

    return await run(request, load)


def operations() -> list[Operation]:
    return [
        join_remote,
        answer_remote,
        leave_remote,
        my_groups,
    ]
