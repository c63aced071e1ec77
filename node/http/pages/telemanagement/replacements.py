"""Replacement on absence, in pages:

- ``/me/absence``: a provider declares days away; their planned visits in those days are freed;
- ``/telemanagement/replacements``: the coordinators' list of visits waiting for someone, each with the
  suggested replacements (the absent provider's group, qualified, free; those who applied marked) and
  the form that gives it;
- ``/me/replacements/{visit_id}/apply``: a provider the visit is offered to applies (from their day
  page, which lists the offers);
- ``/me/replacements/{visit_id}/choose``: the beneficiary (their day page lists their visits waiting,
  with the applicants) or a coordinator gives the visit to one applicant; the others are told.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts.models import User
from node.core.errors import DomainError, http_status
from node.groups.colleagues import colleagues_of
from node.http.pages.telemanagement import labels
from node.http.runtime import coordinator_required, form_with_csrf, login_required, node_of, render, run, text
from node.telemanagement import applications, replacement


async def _absence_page(request: Request, **form: Any) -> Response:
    return await render(
        request,
        "telemanagement/absence.html",
        {
            "errors": form.get("errors") or {},
            "values": form.get("values") or {},
            "message": form.get("message"),
        },
        status_code=form.get("status_code", 200),
    )


@login_required
async def absence(request: Request, user: User) -> Response:
    if request.method == "GET":
        return await _absence_page(request)
    form = await form_with_csrf(request)
    values = {name: text(form, name, 200) for name in ("first_day", "last_day", "reason")}
    try:
        _absence, freed = await run(
            request,
            lambda s: replacement.declare_absence(
                s,
                node_of(request).settings,
                user,
                first_day=values["first_day"],
                last_day=values["last_day"],
                reason=values["reason"],
            ),
        )
    except DomainError as exc:
        return await _absence_page(
            request, errors=exc.fields, values=values, message=exc.message, status_code=http_status(exc)
        )
    return RedirectResponse(f"/me/visits?done=absence&freed={len(freed)}", status_code=303)


async def _list_page(request: Request, user: User, **form: Any) -> Response:
    def load(s: Session) -> dict[str, Any]:
        found = replacement.waiting(s, user)
        return {
            "waiting": [
                (line, replacement.suggestions(s, user, line.visit.id or 0, colleagues_of))
                for line, _row in found
            ],
            "applied": {
                line.visit.id: {person.id for person in applications.applicants(s, user, line.visit.id or 0)}
                for line, _row in found
            },
        }

    context = await run(request, load)
    return await render(
        request,
        "telemanagement/replacements.html",
        {
            **context,
            **labels.ALL,
            "done": request.query_params.get("done"),
            "errors": form.get("errors") or {},
            "message": form.get("message"),
            "failed_visit": form.get("visit_id"),
        },
        status_code=form.get("status_code", 200),
    )


@coordinator_required
async def replacements(request: Request, user: User) -> Response:
    return await _list_page(request, user)


@coordinator_required
async def reassign(request: Request, user: User) -> Response:
    visit_id: int = request.path_params["visit_id"]
    if request.method == "GET":
        return RedirectResponse("/telemanagement/replacements", status_code=303)
    form = await form_with_csrf(request)
    provider = text(form, "provider", 30) or text(form, "other", 30)
    try:
        await run(
            request, lambda s: replacement.reassign(s, node_of(request).settings, user, visit_id, provider)
        )
    except DomainError as exc:
        return await _list_page(
            request,
            user,
            errors=exc.fields,
            message=exc.message,
            visit_id=visit_id,
            status_code=http_status(exc),
        )
    return RedirectResponse("/telemanagement/replacements?done=given", status_code=303)


@login_required
async def apply(request: Request, user: User) -> Response:
    """A provider applies for a visit offered to them; back to their day page."""
    visit_id: int = request.path_params["visit_id"]
    if request.method == "GET":
        return RedirectResponse("/me/visits#offers", status_code=303)
    await form_with_csrf(request)
    try:
        await run(request, lambda s: applications.apply(s, user, visit_id, colleagues_of))
    except DomainError as exc:
        raise HTTPException(http_status(exc), exc.message) from None
    return RedirectResponse("/me/visits?done=applied#offers", status_code=303)


@login_required
async def choose(request: Request, user: User) -> Response:
    """The beneficiary or a coordinator gives the visit to one of its applicants."""
    visit_id: int = request.path_params["visit_id"]
    back = "/telemanagement/replacements" if user.is_coordinator else "/me/visits#waiting"
    if request.method == "GET":
        return RedirectResponse(back, status_code=303)
    form = await form_with_csrf(request)
    chosen = text(form, "applicant", 12)
    try:
        await run(
            request,
            lambda s: applications.choose(
                s, node_of(request).settings, user, visit_id, int(chosen) if chosen.isdigit() else 0
            ),
        )
    except DomainError as exc:
        raise HTTPException(http_status(exc), exc.message) from None
    if user.is_coordinator:
        return RedirectResponse("/telemanagement/replacements?done=given", status_code=303)
    return RedirectResponse("/me/visits?done=chosen#waiting", status_code=303)


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/me/replacements/{visit_id:int}/apply", apply, methods=both),
        Route("/me/replacements/{visit_id:int}/choose", choose, methods=both),
        Route("/me/absence", absence, methods=both, name="my_absence"),
        Route("/telemanagement/replacements", replacements, name="tm_replacements"),
        Route("/telemanagement/replacements/{visit_id:int}", reassign, methods=both),
    ]
