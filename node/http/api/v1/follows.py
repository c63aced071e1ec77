"""API operations on the caller's follows: follow anyone on the fediverse by handle or URL, unfollow,
list following and followers, answer follow requests."""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from node.accounts import federation as account_events
from node.accounts import service
from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.social import follows
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict, text
from node.http.pages.follows import follow_overview, remote_actor
from node.http.runtime import node_of, run


class FollowTarget(Strict):
    target: str = text(3, 500, description="user@host, or an actor URL")


class ActorRef(Strict):
    uri: str = text(8, 2048)


class FollowLineOut(BaseModel):
    uri: str
    handle: str
    name: str
    state: str


class Follows(BaseModel):
    following: list[FollowLineOut]
    followers: list[FollowLineOut]
    requests: list[FollowLineOut]
    approve_followers: bool


class ApprovalSetting(Strict):
    approve_followers: bool


def _overview(session: Session, request: Request, caller: User) -> Follows:
    data = follow_overview(session, node_of(request).settings, service.reload(caller, session=session))
    return Follows(
        following=[FollowLineOut(**line.__dict__) for line in data["following"]],
        followers=[FollowLineOut(**line.__dict__) for line in data["followers"]],
        requests=[FollowLineOut(**line.__dict__) for line in data["requests"]],
        approve_followers=data["approve_followers"],
    )


@operation(
    "GET",
    "/follows",
    summary="Who the caller follows, who follows them, pending requests",
    tag="follows",
    response=Follows,
)
async def list_follows(request: Request, caller: User, _body: None) -> Follows:
    return await run(request, _overview, request, caller)


@operation(
    "POST",
    "/follows",
    summary="Follow someone on any server (by handle or actor URL)",
    tag="follows",
    body=FollowTarget,
    response=Follows,
    status=201,
    errors=(409,),
)
async def follow(request: Request, caller: User, body: FollowTarget) -> Follows:
    settings = node_of(request).settings
    actor = await remote_actor(request, body.target)

    def save(session: Session) -> Follows:
        follows.follow(settings, follower=local.person(settings, caller), target=actor, session=session)
        return _overview(session, request, caller)

    return await run(request, save)


@operation(
    "POST",
    "/follows/unfollow",
    summary="Stop following an actor",
    tag="follows",
    body=ActorRef,
    status=204,
    errors=(404,),
)
async def unfollow(request: Request, caller: User, body: ActorRef) -> Response:
    settings = node_of(request).settings
    await run(
        request,
        lambda s: follows.unfollow(
            settings, follower=local.person(settings, caller), target_uri=body.uri, session=s
        ),
    )
    return Response(status_code=204)


@operation(
    "POST",
    "/follows/remove",
    summary="Remove a follower",
    tag="follows",
    body=ActorRef,
    status=204,
    errors=(404,),
)
async def remove_follower(request: Request, caller: User, body: ActorRef) -> Response:
    settings = node_of(request).settings
    await run(
        request,
        lambda s: follows.remove_follower(
            settings, followee=local.person(settings, caller), follower_uri=body.uri, session=s
        ),
    )
    return Response(status_code=204)


@operation(
    "POST",
    "/follows/requests/accept",
    summary="Accept a follow request",
    tag="follows",
    body=ActorRef,
    status=204,
    errors=(404,),
)
async def accept_request(request: Request, caller: User, body: ActorRef) -> Response:
    settings = node_of(request).settings
    await run(
        request,
        lambda s: follows.accept_request(
            settings, followee=local.person(settings, caller), follower_uri=body.uri, session=s
        ),
    )
    return Response(status_code=204)


@operation(
    "POST",
    "/follows/requests/refuse",
    summary="Refuse a follow request",
    tag="follows",
    body=ActorRef,
    status=204,
    errors=(404,),
)
async def refuse_request(request: Request, caller: User, body: ActorRef) -> Response:
    settings = node_of(request).settings
    await run(
        request,
        lambda s: follows.reject_request(
            settings, followee=local.person(settings, caller), follower_uri=body.uri, session=s
        ),
    )
    return Response(status_code=204)


@operation(
    "PUT",
    "/follows/approval",
    summary="Choose whether new followers need the caller's approval",
    tag="follows",
    body=ApprovalSetting,
    response=ApprovalSetting,
)
async def set_approval(request: Request, caller: User, body: ApprovalSetting) -> ApprovalSetting:
    settings = node_of(request).settings

    def save(session: Session) -> ApprovalSetting:
        account = account_events.set_approve_followers(
            settings, caller, body.approve_followers, session=session
        )
        return ApprovalSetting(approve_followers=account.approve_followers)

    return await run(request, save)


def operations() -> list[Operation]:
    """The operations of this resource, in the order they are served."""
    return [list_follows, follow, unfollow, remove_follower, accept_request, refuse_request, set_approval]
