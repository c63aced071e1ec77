"""``/me/agreement-plans/{agreement_id}``: the beneficiary side of an agreement, or a coordinator, turns it
into a care plan with its visits planned (:mod:`node.telemanagement.from_agreement`); the agreement
page shows the plan made (:func:`plan_context`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts.models import User
from node.core.errors import DomainError, http_status
from node.http.runtime import form_with_csrf, login_required, node_of, run
from node.market.models import Agreement
from node.telemanagement import from_agreement, visits


def plan_context(session: Session, user: User, agreement: Agreement) -> dict[str, Any]:
    """What the agreement page shows of its care plan: the plan made, its visits still planned, and
    whether ``user`` may make it."""
    plan = from_agreement.plan_of_agreement(session, agreement.id or 0)
    may = from_agreement.may_make(agreement, user)
    if plan is None:
        return {
            "care_plan": None,
            "may_make_plan": may and agreement.state in from_agreement.IN_FORCE,
        }
    coming = [
        line
        for line in visits.between(session, visits.day_bounds(visits.today())[0], plan_end(), plan_id=plan.id)
        if line.visit.state == "planned"
    ]
    return {"care_plan": plan, "care_plan_visits": coming[:5], "care_plan_count": len(coming)}


def plan_end() -> datetime:
    """Far enough ahead for every planned visit (an agreement's schedule lasts a year at most)."""
    return visits.day_bounds(visits.today() + timedelta(days=800))[0]


@login_required
async def make(request: Request, user: User) -> Response:
    agreement_id: int = request.path_params["agreement_id"]
    back = f"/me/agreements/{agreement_id}"
    if request.method == "GET":
        return RedirectResponse(back, status_code=303)
    await form_with_csrf(request)
    settings = node_of(request).settings
    try:
        made = await run(request, lambda s: from_agreement.make_plan(s, settings, user, agreement_id))
    except DomainError as exc:
        raise HTTPException(http_status(exc), exc.message) from None
    done = "plan_made" if made.created else "plan_exists"
    return RedirectResponse(f"{back}?done={done}#care-plan", status_code=303)


def routes() -> list[Route]:
    return [Route("/me/agreement-plans/{agreement_id:int}", make, methods=["GET", "POST"])]
