"""The account-migration page: one of our people moves to an account on another server."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts import moving
from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.models import RemoteActor
from node.core.errors import DomainError, ValidationFailed, http_status
from node.http.pages.follows import remote_actor
from node.http.runtime import form_with_csrf, login_required, node_of, render, run, text


@login_required
async def move_page(request: Request, user: User) -> Response:
    """GET: where the account moved, or the form; POST: move (the new account is fetched first)."""
    settings = node_of(request).settings
    me = local.person(settings, user).uri
    context: dict[str, object] = {"me": me, "handle": f"{user.username}@{settings.domain}", "errors": {}}
    context["moved_to"] = await run(request, lambda s: moving.moved_to(user.pk, session=s))
    context["done"] = request.query_params.get("done") == "1"
    if request.method == "GET":
        return await render(request, "move.html", {**context, "values": {}})
    form = await form_with_csrf(request)
    target = text(form, "target", 500)
    try:
        if not target:
            raise ValidationFailed(moving.MSG_LOCAL, fields={"target": moving.MSG_LOCAL})
        actor = await remote_actor(request, target)
        if not isinstance(actor, RemoteActor):
            raise ValidationFailed(moving.MSG_LOCAL, fields={"target": moving.MSG_LOCAL})
        await run(request, lambda s: moving.move_away(settings, user, actor, session=s))
    except DomainError as exc:
        context.update(values={"target": target}, errors=exc.fields or {"target": exc.message})
        return await render(request, "move.html", context, status_code=http_status(exc))
    return RedirectResponse("/settings/move?done=1", status_code=303)


def routes() -> list[Route]:
    return [Route("/settings/move", move_page, methods=["GET", "POST"], name="move")]
