"""The read-only pages of a funder's representative (an account a coordinator linked to a funder):

- ``/funder``: the funders the account represents (straight to the only one);
- ``/funder/{id}?month=``: that funder's plans, the month's visits done, its statement and the invoices
  addressed to it (downloaded at ``/telemanagement/invoices/{id}.pdf``). Another funder's page is 403;
- ``/telemanagement/funders/{id}/representatives/{user_id}/unlink``: a coordinator unlinks an account
  from a funder, after confirming; it no longer reads the funder's pages.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts.models import User
from node.core.errors import N_, DomainError, http_status
from node.http.pages import confirm
from node.http.pages.telemanagement import labels
from node.http.runtime import coordinator_required, form_with_csrf, login_required, render, run
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


@coordinator_required
async def unlink_representative(request: Request, user: User) -> Response:
    """Unlink an account from a funder, once the coordinator confirms."""
    funder_id: int = request.path_params["funder_id"]
    user_id: int = request.path_params["user_id"]
    back = "/telemanagement#funders"
    if request.method == "GET":
        return RedirectResponse(back, status_code=303)
    form = await form_with_csrf(request)
    asking = await confirm.ask(
        request,
        form,
        question=N_("Unlink this representative? The account will no longer read this funder's pages."),
        button=N_("Unlink"),
        back=back,
    )
    if asking is not None:
        return asking
    try:
        await run(request, lambda s: funder_view.unlink(s, user, funder_id, user_id))
    except DomainError as exc:
        raise HTTPException(http_status(exc), exc.message) from None
    return RedirectResponse("/telemanagement?done=unlinked#funders", status_code=303)


def routes() -> list[Route]:
    return [
        Route(
            "/telemanagement/funders/{funder_id:int}/representatives/{user_id:int}/unlink",
            unlink_representative,
            methods=["GET", "POST"],
        ),
        Route("/funder", my_funders, name="funder_view"),
        Route("/funder/{funder_id:int}", funder_page),
    ]
