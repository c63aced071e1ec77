"""The coordinators' telemanagement pages:

- ``/telemanagement``: funders, beneficiaries and care plans, with the forms that add them;
- ``/telemanagement/beneficiaries/{id}``: the sealed details (opened for coordinators only), the
  home's QR code to print (``qr.svg``) and its revocation;
- ``/telemanagement/plans/{id}``: versions (and a new one), the month's planned against done hours,
  the visits, and the form planning a visit or a recurring series; its series, each with the form that
  gives every coming visit of it to one provider (``/telemanagement/series/{id}/provider``, confirmed);
- ``/telemanagement/board``: the week's visits, day by day; ``/telemanagement/visits/{id}``: one
  visit, its clock events, assignment and cancellation with a reason;
- ``/telemanagement/anomalies``: the month's visits with an anomaly;
- ``/telemanagement/access-log``: the latest openings of sealed private data;
- ``/telemanagement/funders/{id}/representatives``: link an account to a funder (its read-only view);
- ``/telemanagement/funders/{id}/statement.csv?month=``: a funder's monthly statement.

Every form's URL answers GET by sending back to the page that shows the form.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts.models import User
from node.catalog import categories
from node.core.errors import N_, DomainError, http_status
from node.http.pages import confirm
from node.http.pages.telemanagement import labels
from node.http.runtime import coordinator_required, form_with_csrf, node_of, render, run, text
from node.telemanagement import (
    checks,
    clocking,
    door,
    funder_view,
    given,
    given_series,
    notes,
    plans,
    statements,
    visits,
)

T = TypeVar("T")
PLAN_FIELDS = ("valid_from", "valid_until", "hourly_rate", "participation")


async def _page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    return await render(
        request,
        template,
        {
            **context,
            **labels.ALL,
            "errors": errors or {},
            "values": values or {},
            "message": message,
            "done": request.query_params.get("done"),
            "sap_categories": categories.CATEGORIES,
        },
        status_code=status_code,
    )


async def _read(request: Request, fn: Callable[[Session], T]) -> T:
    """``fn`` in a transaction; what the domain refuses (no such row) becomes the page's error."""
    try:
        return await run(request, fn)
    except DomainError as exc:
        raise HTTPException(http_status(exc), exc.message) from None


def _int(value: str, default: int = 0) -> int:
    return int(value) if value.isdigit() and len(value) < 10 else default


def _month(request: Request) -> str:
    month = request.query_params.get("month", "")
    try:
        checks.month_bounds(month)
    except DomainError:
        return checks.current_month()
    return month


# --- the overview: funders, beneficiaries, plans ---------------------------------------------------


def _overview(session: Session) -> dict[str, Any]:
    funders = plans.funders(session)
    people = plans.beneficiaries(session)
    return {
        "funders": funders,
        "beneficiaries": people,
        "plans": plans.plans(session),
        "funder_names": {f.id: f.name for f in funders},
        "beneficiary_names": {b.id: b.name for b in people},
        "representatives": {f.id: funder_view.representatives(session, f.id or 0) for f in funders},
    }


async def _overview_page(request: Request, **form: Any) -> Response:
    return await _page(request, "telemanagement/index.html", await run(request, _overview), **form)


@coordinator_required
async def overview(request: Request, user: User) -> Response:
    return await _overview_page(request)


async def _submit(
    request: Request,
    names: tuple[str, ...],
    action: Callable[[Session, dict[str, str]], Any],
    success: Callable[[Any], str],
    on_error: Callable[..., Any],
) -> Response:
    """The pattern of every form here: read ``names``, run ``action`` in one transaction, redirect to
    ``success(result)``, or show ``on_error`` with the errors and what was typed."""
    if request.method == "GET":
        return RedirectResponse(success(None), status_code=303)
    form = await form_with_csrf(request)
    values = {name: text(form, name, 4000) for name in names}
    values.update({k: text(form, k, 20) for k in form if k.startswith("hours_")})
    try:
        result = await run(request, lambda s: action(s, values))
    except DomainError as exc:
        response: Response = await on_error(
            errors=exc.fields,
            values=values,
            message=None if exc.fields else exc.message,
            status_code=http_status(exc),
        )
        return response
    return RedirectResponse(success(result), status_code=303)


def _hours(values: dict[str, str]) -> dict[str, str]:
    return {key.removeprefix("hours_"): value for key, value in values.items() if key.startswith("hours_")}


@coordinator_required
async def add_funder(request: Request, user: User) -> Response:
    def save(s: Session, v: dict[str, str]) -> object:
        return plans.create_funder(
            s,
            user,
            name=v["name"],
            kind=v["kind"],
            billing=v["billing"],
            reference=v["reference"],
            siret=v["siret"],
        )

    return await _submit(
        request,
        ("name", "kind", "billing", "reference", "siret"),
        save,
        lambda _: "/telemanagement?done=funder#funders",
        lambda **f: _overview_page(request, **f),
    )


@coordinator_required
async def add_beneficiary(request: Request, user: User) -> Response:
    settings = node_of(request).settings

    def save(s: Session, v: dict[str, str]) -> int:
        row = plans.create_beneficiary(
            s,
            settings,
            user,
            name=v["name"],
            commune=v["commune"],
            address=v["address"],
            door_code=v["door_code"],
            health=v["health"],
        )
        return row.id or 0

    return await _submit(
        request,
        ("name", "commune", "address", "door_code", "health"),
        save,
        lambda new: f"/telemanagement/beneficiaries/{new}" if new else "/telemanagement#beneficiaries",
        lambda **f: _overview_page(request, **f),
    )


@coordinator_required
async def add_plan(request: Request, user: User) -> Response:
    def save(s: Session, v: dict[str, str]) -> int:
        terms = plans.parse_terms(**{name: v[name] for name in PLAN_FIELDS}, hours=_hours(v))
        plan = plans.create_plan(
            s,
            user,
            beneficiary_id=_int(v["beneficiary"]),
            funder_id=_int(v["funder"]),
            folder_number=v["folder_number"],
            terms=terms,
        )
        return plan.id or 0

    return await _submit(
        request,
        ("beneficiary", "funder", "folder_number", *PLAN_FIELDS),
        save,
        lambda new: f"/telemanagement/plans/{new}" if new else "/telemanagement#plans",
        lambda **f: _overview_page(request, **f),
    )


# --- a beneficiary and the home's QR code ------------------------------------------------------------


async def _beneficiary_page(request: Request, user: User, beneficiary_id: int, **form: Any) -> Response:
    settings = node_of(request).settings

    def load(s: Session) -> dict[str, Any]:
        row = plans.beneficiary(s, beneficiary_id)
        return {
            "beneficiary": row,
            "details": plans.private_details(
                s, settings, row, reader_id=user.id, fields="address,door_code,health", purpose="page"
            ),
            "code": clocking.home_token(settings, row),
            "plans": plans.plans(s, beneficiary_id=beneficiary_id),
            "funder_names": {f.id: f.name for f in plans.funders(s)},
            "pin_locked": door.locked(s, settings, beneficiary_id),
        }

    context = await _read(request, load)
    return await _page(request, "telemanagement/beneficiary.html", context, **form)


@coordinator_required
async def beneficiary_page(request: Request, user: User) -> Response:
    return await _beneficiary_page(request, user, request.path_params["beneficiary_id"])


@coordinator_required
async def beneficiary_qr(request: Request, user: User) -> Response:
    settings = node_of(request).settings
    beneficiary_id = request.path_params["beneficiary_id"]
    svg = await _read(request, lambda s: clocking.home_qr_svg(settings, plans.beneficiary(s, beneficiary_id)))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@coordinator_required
async def revoke_code(request: Request, user: User) -> Response:
    beneficiary_id = request.path_params["beneficiary_id"]
    return await _submit(
        request,
        (),
        lambda s, _v: clocking.revoke_home_code(s, user, beneficiary_id),
        lambda result: (
            f"/telemanagement/beneficiaries/{beneficiary_id}" + ("?done=revoked" if result else "")
        ),
        lambda **f: _beneficiary_page(request, user, beneficiary_id, **f),
    )


# --- a plan: versions, month, visits -----------------------------------------------------------------


async def _plan_page(request: Request, plan_id: int, **form: Any) -> Response:
    month = _month(request)

    def load(s: Session) -> dict[str, Any]:
        plan = plans.plan_of(s, plan_id)
        first, start, end = checks.month_bounds(month)
        versions = plans.versions(s, plan_id)
        return {
            "plan": plan,
            "beneficiary": plans.beneficiary(s, plan.beneficiary_id),
            "funder_names": {f.id: f.name for f in plans.funders(s)},
            "versions": [(v, plans.hours_of(s, v.id or 0)) for v in versions],
            "summary": checks.plan_month(s, plan_id, month),
            "lines": visits.between(s, start, end, plan_id=plan_id),
            "series": given_series.of_plan(s, plan_id),
            "series_given": _series_given(request),
            "month": month,
            "previous_month": (first - timedelta(days=1)).strftime("%Y-%m"),
            "next_month": (first + timedelta(days=32)).strftime("%Y-%m"),
        }

    context = await _read(request, load)
    return await _page(request, "telemanagement/plan.html", context, **form)


@coordinator_required
async def plan_page(request: Request, user: User) -> Response:
    return await _plan_page(request, request.path_params["plan_id"])


@coordinator_required
async def add_version(request: Request, user: User) -> Response:
    plan_id = request.path_params["plan_id"]

    def save(s: Session, v: dict[str, str]) -> object:
        terms = plans.parse_terms(**{name: v[name] for name in PLAN_FIELDS}, hours=_hours(v))
        return plans.add_version(s, user, plan_id, terms)

    return await _submit(
        request,
        PLAN_FIELDS,
        save,
        lambda _: f"/telemanagement/plans/{plan_id}?done=version",
        lambda **f: _plan_page(request, plan_id, **f),
    )


@coordinator_required
async def add_visits(request: Request, user: User) -> Response:
    """One visit, or a series when a rule is given."""
    plan_id = request.path_params["plan_id"]

    def save(s: Session, v: dict[str, str]) -> int:
        common = {
            "plan_id": plan_id,
            "category": v["category"],
            "start": v["start"],
            "minutes": _int(v["minutes"]),
            "provider": v["provider"],
        }
        if v["rule"]:
            skip = v["skip_holidays"] == "1"
            series = visits.plan_series(
                s, user, rule=v["rule"], excluded=v["excluded"], skip_holidays=skip, **common
            )
            return len(series[1])
        visits.plan_visit(s, user, **common)
        return 1

    return await _submit(
        request,
        ("category", "start", "minutes", "provider", "rule", "excluded", "skip_holidays"),
        save,
        lambda count: f"/telemanagement/plans/{plan_id}?done=visits&count={count or 0}",
        lambda **f: _plan_page(request, plan_id, **f),
    )


def _series_given(request: Request) -> dict[str, int] | None:
    """What the last series given did, from the address it sent back to: ``given`` and each reason."""
    if request.query_params.get("done") != "series":
        return None
    names = ("given", *given_series.REASONS)
    return {name: _int(request.query_params.get(name, "")) for name in names}


@coordinator_required
async def give_series(request: Request, user: User) -> Response:
    """Give every coming visit of a series, from a day on, to one provider (after a confirmation)."""
    series_id: int = request.path_params["series_id"]
    plan_id = await _read(request, lambda s: given_series.series_of(s, series_id).plan_id)
    back = f"/telemanagement/plans/{plan_id}#tm-series-h"
    if request.method == "GET":
        return RedirectResponse(back, status_code=303)
    form = await form_with_csrf(request)
    values = {"provider": text(form, "provider", 2048), "from_day": text(form, "from_day", 20)}
    settings = node_of(request).settings
    dry = form.get(confirm.CONFIRMED) != "1"  # unconfirmed: count first, by the very same function
    try:
        done = await run(
            request,
            lambda s: given_series.give_series(
                s,
                settings,
                user,
                series_id,
                provider=values["provider"],
                from_day=values["from_day"],
                dry_run=dry,
            ),
        )
    except DomainError as exc:
        prefix = f"series{series_id}_"
        return await _plan_page(
            request,
            plan_id,
            errors={prefix + name: message for name, message in exc.fields.items()},
            values={prefix + name: value for name, value in values.items()},
            message=None if exc.fields else exc.message,
            status_code=http_status(exc),
        )
    if dry:
        asking = await confirm.ask(
            request,
            form,
            question=N_(
                "Give every coming visit of this series, from the day chosen, to this provider? Visits "
                "already past, clocked or cancelled stay as they are."
            ),
            button=N_("Give the series"),
            back=back,
            preview="telemanagement/_series_preview.html",
            context={"counts": done.counts()},
        )
        assert asking is not None
        return asking
    counts = "".join(f"&{reason}={n}" for reason, n in done.left.items())
    return RedirectResponse(
        f"/telemanagement/plans/{plan_id}?done=series&given={len(done.given)}{counts}#tm-series-h",
        status_code=303,
    )


# --- the week board, one visit, anomalies ------------------------------------------------------------


@coordinator_required
async def board(request: Request, user: User) -> Response:
    try:
        day = date.fromisoformat(request.query_params.get("week", ""))
    except ValueError:
        day = visits.today()
    monday = day - timedelta(days=day.weekday())
    start, end = visits.day_bounds(monday)[0], visits.day_bounds(monday + timedelta(days=6))[1]
    lines = await run(request, lambda s: visits.between(s, start, end))
    days = [monday + timedelta(days=n) for n in range(7)]
    by_day = {
        d: [line for line in lines if line.visit.starts_at.astimezone(visits.PARIS).date() == d] for d in days
    }
    context = {
        "days": days,
        "by_day": by_day,
        "monday": monday,
        "previous_week": monday - timedelta(days=7),
        "next_week": monday + timedelta(days=7),
    }
    return await _page(request, "telemanagement/board.html", context)


async def _visit_page(request: Request, user: User, visit_id: int, **form: Any) -> Response:
    def load(s: Session) -> dict[str, Any]:
        visit = visits.visit_of(s, visit_id)
        plan = plans.plan_of(s, visit.plan_id)
        provider = s.get(User, visit.provider_id) if visit.provider_id else None
        return {
            "visit": visit,
            "plan": plan,
            "beneficiary": plans.beneficiary(s, plan.beneficiary_id),
            "provider": provider,
            "events": clocking.events_of(s, visit_id),
            "anomalies": checks.visit_anomalies(s, node_of(request).settings, visit),
            "note": notes.read(s, node_of(request).settings, user, visit_id),
        }

    context = await _read(request, load)
    return await _page(request, "telemanagement/visit.html", context, **form)


@coordinator_required
async def visit_page(request: Request, user: User) -> Response:
    return await _visit_page(request, user, request.path_params["visit_id"])


@coordinator_required
async def assign(request: Request, user: User) -> Response:
    """Give the visit to a provider here (a username), of another node (their actor's address) or to no
    one, once confirmed."""
    visit_id = request.path_params["visit_id"]
    if request.method == "POST":
        form = await form_with_csrf(request)
        asking = await confirm.ask(
            request,
            form,
            question=N_(
                "Give this visit to the provider entered? Whoever had it, here or on another node, no longer "
                "has it."
            ),
            button=N_("Give the visit"),
            back=f"/telemanagement/visits/{visit_id}",
            preview="telemanagement/_give_preview.html",
            context={"provider": text(form, "provider", 2048).strip()},
        )
        if asking is not None:
            return asking
    return await _submit(
        request,
        ("provider",),
        lambda s, v: given.assign(s, node_of(request).settings, user, visit_id, v["provider"]),
        lambda _: f"/telemanagement/visits/{visit_id}?done=assigned",
        lambda **f: _visit_page(request, user, visit_id, **f),
    )


@coordinator_required
async def cancel(request: Request, user: User) -> Response:
    visit_id = request.path_params["visit_id"]
    return await _submit(
        request,
        ("reason", "note"),
        lambda s, v: given.cancel(s, node_of(request).settings, user, visit_id, v["reason"], v["note"]),
        lambda _: f"/telemanagement/visits/{visit_id}?done=cancelled",
        lambda **f: _visit_page(request, user, visit_id, **f),
    )


@coordinator_required
async def anomalies(request: Request, user: User) -> Response:
    month = _month(request)
    settings = node_of(request).settings
    _first, start, end = checks.month_bounds(month)
    found = await run(request, lambda s: checks.anomalies(s, settings, start, end))
    return await _page(request, "telemanagement/anomalies.html", {"anomalies": found, "month": month})


@coordinator_required
async def link_representative(request: Request, user: User) -> Response:
    """Link an account to a funder: it then reads that funder's pages under ``/funder``."""
    funder_id: int = request.path_params["funder_id"]
    return await _submit(
        request,
        ("username",),
        lambda s, v: funder_view.link(s, user, funder_id, v["username"]),
        lambda _: "/telemanagement?done=representative#funders",
        lambda **f: _overview_page(request, **f),
    )


@coordinator_required
async def access_log(request: Request, user: User) -> Response:
    """The latest openings of sealed private data: who, when, which fields of which record, why."""
    rows = await _read(request, lambda s: notes.access_log(s, user))
    return await _page(request, "telemanagement/access_log.html", {"rows": rows})


@coordinator_required
async def statement_csv(request: Request, user: User) -> Response:
    """A funder's statement of a month, as CSV (``?month=YYYY-MM``, default this month)."""
    month = _month(request)
    funder_id: int = request.path_params["funder_id"]
    body = await _read(request, lambda s: statements.statement_csv(s, funder_id, month))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="releve-{funder_id}-{month}.csv"'},
    )


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/telemanagement", overview, name="telemanagement"),
        Route("/telemanagement/funders", add_funder, methods=both),
        Route("/telemanagement/beneficiaries", add_beneficiary, methods=both),
        Route("/telemanagement/plans", add_plan, methods=both),
        Route("/telemanagement/beneficiaries/{beneficiary_id:int}", beneficiary_page),
        Route("/telemanagement/beneficiaries/{beneficiary_id:int}/qr.svg", beneficiary_qr),
        Route("/telemanagement/beneficiaries/{beneficiary_id:int}/revoke-code", revoke_code, methods=both),
        Route("/telemanagement/plans/{plan_id:int}", plan_page),
        Route("/telemanagement/plans/{plan_id:int}/versions", add_version, methods=both),
        Route("/telemanagement/plans/{plan_id:int}/visits", add_visits, methods=both),
        Route("/telemanagement/series/{series_id:int}/provider", give_series, methods=both),
        Route("/telemanagement/board", board, name="telemanagement_board"),
        Route("/telemanagement/visits/{visit_id:int}", visit_page),
        Route("/telemanagement/visits/{visit_id:int}/assign", assign, methods=both),
        Route("/telemanagement/visits/{visit_id:int}/cancel", cancel, methods=both),
        Route("/telemanagement/anomalies", anomalies, name="telemanagement_anomalies"),
        Route("/telemanagement/funders/{funder_id:int}/statement.csv", statement_csv),
        Route("/telemanagement/access-log", access_log, name="telemanagement_access_log"),
        Route("/telemanagement/funders/{funder_id:int}/representatives", link_representative, methods=both),
    ]
