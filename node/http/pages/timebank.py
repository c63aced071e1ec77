"""The time bank on the pages (cooperative nodes; a market node answers 404 with why):

- ``/me/timebank``: my balance (what is held for transfers to other nodes), my limits, my history with
  the agreement each entry comes from, the gift form; ``/me/timebank/gift`` asks for confirmation
  before giving; ``/me/timebank.csv`` exports my history;
- ``/timebank/coordination`` (coordinators): the community account, hours in circulation, velocity,
  accounts near a limit, transfers waiting or in flight, clearing accounts with other nodes, recent
  transfers, and the grant/levy form (reason mandatory); ``/timebank/coordination/transfers.csv``.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts.models import User
from node.core.errors import N_, DomainError, ValidationFailed, http_status
from node.http.runtime import (
    form_with_csrf,
    language_of,
    login_required,
    node_of,
    render,
    run,
    run_on_engine,
    text,
)
from node.timebank import transfers, views
from node.timebank.policy import Policy, amount_from_text, hours_text

KIND_LABELS = {
    "starting_credit": N_("Starting credit"),
    "payment": N_("Payment for a service"),
    "cancellation_fee": N_("Late cancellation fee"),
    "gift": N_("Gift"),
    "grant": N_("Grant from the community"),
    "levy": N_("Levy for the community"),
    "reversal": N_("Correction"),
    "closing": N_("Account closed"),
    "settlement": N_("Settlement between nodes"),
}
STATE_LABELS = {
    "settled": N_("Done"),
    "pending": N_("Waiting for the other node"),
    "waiting": N_("Waiting: a limit is reached"),
    "refused": N_("Refused"),
}


def _require_timebank(request: Request) -> None:
    if not Policy.of(node_of(request).settings).enabled:
        raise HTTPException(
            404, N_("This node keeps no time bank: it is a market node, where prices are in euros.")
        )


def _fmt(lang: str) -> Any:
    return lambda hundredths: hours_text(hundredths, lang)


async def _page(
    request: Request,
    user: User,
    template: str,
    context: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    """A time-bank page with its form's state (errors, values, message) and the labels it uses."""
    return await render(
        request,
        template,
        {
            **context,
            "hours": _fmt(language_of(request, user)),
            "kinds": KIND_LABELS,
            "states": STATE_LABELS,
            "errors": errors or {},
            "values": values or {},
            "message": message,
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


async def _my_page(request: Request, user: User, **form: Any) -> Response:
    settings = node_of(request).settings
    statement = await run(request, lambda s: views.my_statement(s, settings, user))
    return await _page(request, user, "timebank/me.html", {"statement": statement}, **form)


@login_required
async def my_timebank(request: Request, user: User) -> Response:
    _require_timebank(request)
    return await _my_page(request, user)


@login_required
async def gift(request: Request, user: User) -> Response:
    """Step 1 (no ``confirm``): check and show what will happen; step 2 (``confirm``): give."""
    _require_timebank(request)
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    values = {name: text(form, name, 2000) for name in ("recipient", "amount", "message")}
    confirmed = form.get("confirm") == "yes"

    def check(session: Session) -> dict[str, Any]:
        amount = amount_from_text(values["amount"])
        target = transfers.resolve_recipient(session, settings, values["recipient"])
        if isinstance(target, User) and target.id == user.id:
            raise ValidationFailed(transfers.MSG_TO_ONESELF, fields={"recipient": transfers.MSG_TO_ONESELF})
        available = views.balance_of(session, settings, user) or 0
        name = target.display_name or target.username if isinstance(target, User) else target
        return {"amount": amount, "name": name, "after": available - amount, "available": available}

    def plan(session: Session) -> transfers.Planned:
        return transfers.plan_gift(
            session, settings, user, values["recipient"], values["amount"], values["message"], confirm=True
        )

    try:
        if not confirmed:
            summary = await run(request, check)
            return await render(
                request,
                "timebank/confirm_gift.html",
                {"values": values, "summary": summary, "hours": _fmt(language_of(request, user))},
            )
        await run_on_engine(request, lambda engine: transfers.at_once(engine, settings, plan))
    except DomainError as exc:
        return await _my_page(
            request,
            user,
            errors=exc.fields,
            values=values,
            message=None if exc.fields else exc.message,
            status_code=http_status(exc),
        )
    return RedirectResponse("/me/timebank?done=gift", status_code=303)


@login_required
async def my_csv(request: Request, user: User) -> Response:
    _require_timebank(request)
    settings = node_of(request).settings
    body = await run(request, lambda s: views.history_csv(views.my_statement(s, settings, user).lines))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="banque-de-temps.csv"'},
    )


def _coordinator(user: User) -> None:
    if not user.is_coordinator:
        raise HTTPException(403, N_("This page is for coordinators."))


async def _coordination_page(request: Request, user: User, **form: Any) -> Response:
    settings = node_of(request).settings
    figures = await run(request, lambda s: views.figures(s, settings))
    context = {"figures": figures, "policy": Policy.of(settings)}
    return await _page(request, user, "timebank/coordination.html", context, **form)


@login_required
async def coordination(request: Request, user: User) -> Response:
    _require_timebank(request)
    _coordinator(user)
    return await _coordination_page(request, user)


@login_required
async def coordination_transfer(request: Request, user: User) -> Response:
    """A grant or a levy, with its reason."""
    _require_timebank(request)
    _coordinator(user)
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    values = {name: text(form, name, 2000) for name in ("username", "amount", "reason", "direction")}
    kind = "levy" if values["direction"] == "levy" else "grant"

    def plan(session: Session) -> transfers.Planned:
        return transfers.plan_community(
            session, settings, user, values["username"], values["amount"], values["reason"], kind
        )

    try:
        await run_on_engine(request, lambda engine: transfers.at_once(engine, settings, plan))
    except DomainError as exc:
        fields = {("username" if k == "recipient" else k): v for k, v in exc.fields.items()}
        return await _coordination_page(
            request,
            user,
            errors=fields,
            values=values,
            message=None if fields else exc.message,
            status_code=http_status(exc),
        )
    return RedirectResponse(f"/timebank/coordination?done={values['direction'] or 'grant'}", status_code=303)


@login_required
async def coordination_reverse(request: Request, user: User) -> Response:
    """A coordinator's correction of a transfer made inside the node, with the reason."""
    _require_timebank(request)
    _coordinator(user)
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    transfer_id = int(request.path_params["transfer_id"])
    reason = text(form, "reason", 2000)
    try:
        await run(request, lambda s: transfers.reverse(s, settings, user, transfer_id, reason))
    except DomainError as exc:
        return await _coordination_page(
            request, user, message=exc.fields.get("reason", exc.message), status_code=http_status(exc)
        )
    return RedirectResponse("/timebank/coordination?done=reversal", status_code=303)


@login_required
async def coordination_csv(request: Request, user: User) -> Response:
    _require_timebank(request)
    _coordinator(user)
    body = await run(request, views.transfers_csv)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="banque-de-temps-transferts.csv"'},
    )


def routes() -> list[Route]:
    return [
        Route("/me/timebank", my_timebank, name="my_timebank"),
        Route("/me/timebank/gift", gift, methods=["POST"], name="timebank_gift"),
        Route("/me/timebank.csv", my_csv, name="my_timebank_csv"),
        Route("/timebank/coordination", coordination, name="timebank_coordination"),
        Route(
            "/timebank/coordination/transfer",
            coordination_transfer,
            methods=["POST"],
            name="timebank_transfer",
        ),
        Route("/timebank/coordination/transfers.csv", coordination_csv, name="timebank_csv"),
        Route(
            "/timebank/coordination/transfers/{transfer_id:int}/reverse",
            coordination_reverse,
            methods=["POST"],
            name="timebank_reverse",
        ),
    ]
