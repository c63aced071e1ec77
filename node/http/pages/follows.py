"""A person's follows across the fediverse: follow someone by handle, see followers and following,
answer follow requests, choose whether to approve followers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts import federation as account_events
from node.accounts import people, service
from node.accounts.actors import DIRECTORY
from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.actors.remote import RemoteActorError, RemoteActors
from node.activitypub.actors.resolve import NotResolvable, parse_handle, resolve
from node.activitypub.models import FollowState, RemoteActor
from node.activitypub.social import follows as social_follows
from node.activitypub.transport.fetch import RemoteError
from node.core.errors import N_, DomainError, NotFound, Throttled, ValidationFailed, http_status
from node.http.pages import confirm
from node.http.runtime import checkbox, form_with_csrf, login_required, node_of, render, run, text
from node.settings import Settings


@dataclass(frozen=True)
class FollowLine:
    uri: str
    handle: str
    name: str
    state: str


def _lines(session: Session, settings: Settings, rows: list[tuple[str, str]]) -> list[FollowLine]:
    found = people.describe(settings, [uri for uri, _ in rows], session=session)
    return [
        FollowLine(uri, found[uri].handle, "" if found[uri].local else found[uri].name, state)
        for uri, state in rows
    ]


def follow_overview(session: Session, settings: Settings, user: User) -> dict[str, Any]:
    me = local.person(settings, user).uri
    following = social_follows.follows_of(me, session=session)
    followers = social_follows.followers_of(me, session=session)
    return {
        "following": _lines(session, settings, following),
        "followers": _lines(session, settings, [r for r in followers if r[1] == FollowState.ACCEPTED]),
        "requests": _lines(session, settings, [r for r in followers if r[1] == FollowState.PENDING]),
        "approve_followers": user.approve_followers,
    }


async def _page(request: Request, user: User, *, status_code: int = 200, **extra: Any) -> Response:
    settings = node_of(request).settings
    context = await run(request, lambda s: follow_overview(s, settings, service.reload(user, session=s)))
    context.update({"errors": {}, "done": request.query_params.get("done"), "values": {}}, **extra)
    return await render(request, "follows.html", context, status_code=status_code)


@login_required
async def follows(request: Request, user: User) -> Response:
    return await _page(request, user)


def _local_target(session: Session, settings: Settings, target: str) -> LocalActor | None | bool:
    """Our person named by ``target`` (handle on this domain or local URL); False when not local."""
    handle = parse_handle(target)
    if handle is not None:
        if handle[1] != settings.domain.lower():
            return False
        username: str | None = handle[0].lower()
    elif local.is_local(settings, target.strip()):
        username = local.local_username(settings, target.strip())
    else:
        return False
    if not username:
        return None
    return local.actor_at(settings, settings.url(f"/users/{username}"), session=session, accounts=DIRECTORY)


async def remote_actor(request: Request, target: str) -> RemoteActor | LocalActor:
    """The actor named by a handle or URL: someone of this node, or a remote actor fetched from its
    origin (network, outside any transaction)."""
    settings = node_of(request).settings
    nobody = ValidationFailed(
        N_("Nobody was found at this address."), fields={"target": N_("Nobody was found at this address.")}
    )
    found_here = await run(request, _local_target, settings, target)
    if found_here is None:
        raise nobody
    if isinstance(found_here, LocalActor):
        return found_here
    actors: RemoteActors = request.app.state.remote_actors
    try:
        uri = await resolve(await actors.fetcher(), target, allow_http=settings.allow_private_addresses)
        return await actors.get_actor(uri)
    except (RemoteError, RemoteActorError, NotResolvable):
        raise nobody from None


@login_required
async def follow_someone(request: Request, user: User) -> Response:
    form = await form_with_csrf(request)
    target = text(form, "target", 500)
    settings = node_of(request).settings
    try:
        if not target:
            raise ValidationFailed(
                N_("Type a handle such as name@server.example."), fields={"target": N_("Required.")}
            )
        actor = await remote_actor(request, target)
        await run(
            request,
            lambda s: social_follows.follow(
                settings, follower=local.person(settings, user), target=actor, session=s
            ),
        )
    except Throttled:
        raise
    except DomainError as exc:
        return await _page(
            request,
            user,
            status_code=http_status(exc),
            errors=exc.fields or {"target": exc.message},
            values={"target": target},
        )
    return RedirectResponse("/settings/follows?done=follow", status_code=303)


@login_required
async def follow_action(request: Request, user: User) -> Response:
    """Unfollow, remove a follower, accept or refuse a request, or change the approval setting."""
    form = await form_with_csrf(request)
    action = request.path_params["action"]
    uri = text(form, "uri", 2048)
    settings = node_of(request).settings
    me = local.person(settings, user)
    if action == "unfollow":
        asking = await confirm.ask(
            request,
            form,
            question=N_("Stop following this person? You will no longer receive their offers and demands."),
            button=N_("Unfollow"),
            back="/settings/follows",
        )
        if asking is not None:
            return asking

    def act(session: Session) -> None:
        if action == "unfollow":
            social_follows.unfollow(settings, follower=me, target_uri=uri, session=session)
        elif action == "remove":
            social_follows.remove_follower(settings, followee=me, follower_uri=uri, session=session)
        elif action == "accept":
            social_follows.accept_request(settings, followee=me, follower_uri=uri, session=session)
        elif action == "refuse":
            social_follows.reject_request(settings, followee=me, follower_uri=uri, session=session)
        elif action == "approval":
            account_events.set_approve_followers(
                settings, user, checkbox(form, "approve_followers"), session=session
            )
        else:
            raise NotFound(N_("Unknown action."))

    await run(request, act)
    return RedirectResponse(f"/settings/follows?done={action}", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/settings/follows", follows, name="follows"),
        Route("/settings/follows/follow", follow_someone, methods=["POST"], name="follow_someone"),
        Route("/settings/follows/{action:str}", follow_action, methods=["POST"], name="follow_action"),
    ]
