"""Research figures on the web:

- ``/research``: this node's figures for everyone, a chart and its data table per indicator, withheld
  cells said as such, and market and cooperative nodes side by side when this node collected them
  (``asasap research collect --save``);
- ``/research/coordination`` (coordinators, admins and researchers, read-only): the same with the
  federated scope, the data dictionary and the export form; ``/research/export`` downloads CSV (figures,
  or the dictionary) or JSON;
- ``/research/figures``: the signed monthly document other nodes collect (404 unless the node publishes);
- ``/settings/research``: a person's choice to be left out of the figures, with the privacy notice.
"""

from __future__ import annotations

import json

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts.models import User
from node.core.errors import N_
from node.http.federation.actors import activity_json
from node.http.runtime import (
    checkbox,
    form_with_csrf,
    login_required,
    node_of,
    render,
    run,
)
from node.research import collect, document, export, figures, views
from node.research.catalogue import dictionary
from node.research.records import PeriodError


def _reader(user: User) -> None:
    if not user.reads_research:
        raise HTTPException(403, N_("This page is for coordinators and researchers."))


def _cache(request: Request) -> figures.Cache:
    """This application's cache of figures (on its state: one per node application)."""
    cache = getattr(request.app.state, "research_figures", None)
    if not isinstance(cache, figures.Cache):
        cache = request.app.state.research_figures = figures.Cache()
    return cache


async def _figures(request: Request, first: str | None, last: str | None) -> figures.Figures:
    settings = node_of(request).settings
    months = figures.period(first, last)
    cache = _cache(request)
    found = cache.get(months)
    if found is None:
        found = await run(request, lambda session: figures.compute(session, settings, months))
        cache.put(found)
    return found


def _comparison(request: Request) -> views.Comparison | None:
    return views.comparison(collect.load(node_of(request).settings.data_dir))


async def public(request: Request) -> Response:
    computed = await _figures(request, None, None)
    context = {"figures": computed, "charts": views.charts(computed), "comparison": _comparison(request)}
    return await render(request, "research/figures.html", context)


@login_required
async def coordination(request: Request, user: User) -> Response:
    _reader(user)
    first, last = request.query_params.get("from") or None, request.query_params.get("to") or None
    try:
        computed = await _figures(request, first, last)
    except PeriodError as exc:
        computed = await _figures(request, None, None)
        return await render(
            request,
            "research/coordination.html",
            _coordination_context(computed, str(exc), first, last),
            status_code=400,
        )
    context = _coordination_context(computed, None, first, last)
    return await render(
        request, "research/coordination.html", {**context, "comparison": _comparison(request)}
    )


def _coordination_context(
    computed: figures.Figures, error: str | None, first: str | None, last: str | None
) -> dict[str, object]:
    return {
        "figures": computed,
        "charts": views.charts(computed),
        "federated": views.charts(computed, "federated"),
        "dictionary": dictionary(computed.k),
        "error": error,
        "values": {"from": first or computed.months[0], "to": last or computed.months[-1]},
    }


@login_required
async def download(request: Request, user: User) -> Response:
    _reader(user)
    params = request.query_params
    kind = params.get("format", "csv")
    if kind not in ("csv", "json", "dictionary"):
        raise HTTPException(400, N_("Choose CSV, JSON or the data dictionary."))
    try:
        computed = await _figures(request, params.get("from") or None, params.get("to") or None)
    except PeriodError as exc:
        raise HTTPException(400, str(exc)) from None
    name = f"figures-{computed.months[0]}-{computed.months[-1]}"
    if kind == "json":
        body = json.dumps(export.to_json(computed), ensure_ascii=False, indent=2)
        media, filename = "application/json", f"{name}.json"
    elif kind == "dictionary":
        body, media, filename = export.dictionary_csv(computed.k), "text/csv; charset=utf-8", "dictionary.csv"
    else:
        body, media, filename = export.figures_csv(computed), "text/csv; charset=utf-8", f"{name}.csv"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


async def signed_figures(request: Request) -> Response:
    settings = node_of(request).settings
    if not settings.research_publish:
        raise HTTPException(404, N_("This node does not publish research figures."))
    closed = document.closed_months()
    computed = await _figures(request, closed[0], closed[-1])

    def build(session: Session) -> dict[str, object]:
        return document.build(session, settings, computed=computed)

    return activity_json(await run(request, build))


@login_required
async def opt_out(request: Request, user: User) -> Response:
    """GET shows the choice and the notice; POST records it (figures are computed afresh without them)."""
    if request.method == "POST":
        form = await form_with_csrf(request)
        out = checkbox(form, "opt_out")
        await run(request, lambda session: figures.set_opt_out(session, user.pk, out))
        _cache(request).clear()
        return RedirectResponse("/settings/research?saved=1", status_code=303)
    current = await run(request, lambda session: figures.is_opted_out(session, user.pk))
    context = {
        "opted_out": current,
        "saved": request.query_params.get("saved"),
        "k": node_of(request).settings.research_min_people,
    }
    return await render(request, "research/opt_out.html", context)


def routes() -> list[Route]:
    return [
        Route("/research", public, name="research"),
        Route("/research/coordination", coordination, name="research_coordination"),
        Route("/research/export", download, name="research_export"),
        Route(document.PATH, signed_figures, name="research_figures"),
        Route("/settings/research", opt_out, methods=["GET", "POST"], name="research_opt_out"),
    ]
