"""The read-only pages of a funder's representative (an account a coordinator linked to a funder):

- ``/funder``: the funders the account represents (straight to the only one);
- ``/funder/{id}?month=``: that funder's plans, the month's visits done, its statement and the invoices
  addressed to it (downloaded at ``/telemanagement/invoices/{id}.pdf``). Another funder's page is 403.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts.models import User
from node.core.errors import DomainError, http_status
from node.http.pages.telemanagement import labels
from node.http.runtime import login_required, render, run
from node.telemanagement import checks, funder_view


@login_required
async def my_funders(request: Request, user: User) -> Response:
    funders = await run(request, lambda s: funder_view.funders_of(s, user))
    if len(funders) == 1:
        return RedirectResponse(f"/funder/{funders[0].id}", status_code=303)
    return await render(request, "telemanagement/funders_mine.html", {"funders": funders})


@login_required
async def funder_page(request: Request, user: User) -> Response:
    funder_id: int = request.path_params["funder_id"]
    month = request.query_params.get("month") or checks.current_month()
    try:
        context = await run(request, lambda s: funder_view.view(s, user, funder_id, month))
    except DomainError as exc:
        raise HTTPException(http_status(exc), exc.message) from None
    return await render(request, "telemanagement/funder.html", {**context, **labels.ALL})


def routes() -> list[Route]:
    return [
        Route("/funder", my_funders, name="funder_view"),
        Route("/funder/{funder_id:int}", funder_page),
    ]
