"""``/telemanagement/beneficiaries/{id}/pin``: a coordinator draws the home's PIN, shown once on this
page (only its HMAC is kept; see :mod:`node.telemanagement.door`)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts.models import User
from node.core.errors import DomainError, http_status
from node.http.runtime import coordinator_required, form_with_csrf, node_of, render, run
from node.telemanagement import door, plans


@coordinator_required
async def new_pin(request: Request, user: User) -> Response:
    beneficiary_id: int = request.path_params["beneficiary_id"]
    if request.method == "GET":
        return RedirectResponse(f"/telemanagement/beneficiaries/{beneficiary_id}#tm-pin-h", status_code=303)
    await form_with_csrf(request)
    settings = node_of(request).settings

    def draw(s: Session) -> dict[str, Any]:
        pin = door.new_pin(s, settings, user, beneficiary_id)
        return {"pin": pin, "beneficiary": plans.beneficiary(s, beneficiary_id)}

    try:
        context = await run(request, draw)
    except DomainError as exc:
        raise HTTPException(http_status(exc), exc.message) from None
    response = await render(request, "telemanagement/pin.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


def routes() -> list[Route]:
    return [Route("/telemanagement/beneficiaries/{beneficiary_id:int}/pin", new_pin, methods=["GET", "POST"])]
