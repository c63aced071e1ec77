"""``/me``: a person's own corner, reached from the "Me" tab: their profile, proposals, answers,
agreements, notifications, and the time bank and groups, which no longer fit in the menu of a phone."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from node.accounts.models import User
from node.http.runtime import login_required, render


@login_required
async def me(request: Request, user: User) -> Response:
    return await render(request, "me.html")


def routes() -> list[Route]:
    return [Route("/me", me, name="me")]
