"""The group at work, on the pages: its shared calendar (week view, each member's month), its offers
(published in its name with the proposal form), the answers it receives and sends, its agreements and
the member assigned to each."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from node.accounts import people
from node.accounts.models import User
from node.core.errors import N_, DomainError, NotFound, http_status
from node.core.timeutil import utcnow
from node.groups import calendar, records, service
from node.groups import work as group_work
from node.groups.models import Group
from node.http.pages.groups import views
from node.http.pages.groups.forms import form_route
from node.http.pages.groups.pages import _group
from node.http.pages.market import bids as bid_pages
from node.http.pages.market import evaluations as evaluation_pages
from node.http.pages.market import proposals as proposal_pages
from node.http.runtime import form_with_csrf, language_of, login_required, node_of, render, run, text
from node.market.bids import service as bids
from node.market.evaluations import service as evaluations
from node.market.models import Agreement
from node.market.money import format_hours
from node.market.proposals import service as proposals
from node.settings import Settings

MONTH_FORMAT = "%Y-%m"


@login_required
async def calendar_page(request: Request, user: User) -> Response:
    """``/groups/{name}/calendar?week=YYYY-MM-DD&month=YYYY-MM``: the week of the group's work, by day,
    and each member's hours, amounts and contributions in the month."""
    settings = node_of(request).settings
    name = request.path_params["name"]
    lang = language_of(request, user)
    monday = calendar.monday_of(calendar.parse_day(request.query_params.get("week", "")))
    year, month = calendar.parse_month(request.query_params.get("month", ""))

    def load(session: Session) -> dict[str, Any]:
        group = _group(session, name)
        viewer = views.viewer_of(group, user, session=session)
        if not viewer.member:
            raise NotFound(N_("Only the group's members see this page."))
        only = None
        if group.members_see == "own" and not viewer.coordinator and viewer.membership is not None:
            only = viewer.membership.member_uri
        week = calendar.week(settings, group, monday, session=session, only=only)
        lines = calendar.month(settings, group, year, month, session=session)
        if only is not None:
            lines = [line for line in lines if line.member_uri == only]
        names = {m.member_uri: m.name for m in records.members(group, session=session)}
        return {
            "group": group,
            "viewer": viewer,
            "week": week,
            "names": names,
            "lines": lines,
            "total": calendar.totals(lines),
        }

    context = await run(request, load)
    context.update(
        year=year,
        month=month,
        hours=lambda value: format_hours(value, lang),
        amounts=lambda value: views.amounts_text(value, lang),
        paris=calendar.PARIS,
    )
    return await render(request, "groups/calendar.html", context)


@login_required
async def work_page(request: Request, user: User) -> Response:
    """``/groups/{name}/work``: the group's offers, the answers to them, its own answers, its
    agreements with their member and what a coordinator may do on each (coordinators act here)."""
    return await _work(request, user)


async def _work(request: Request, user: User, *, message: str = "", status_code: int = 200) -> Response:
    """The work page; ``message``: why the last action was refused."""
    settings = node_of(request).settings
    name = request.path_params["name"]
    lang = language_of(request, user)

    def load(session: Session) -> dict[str, Any]:
        group = _group(session, name)
        viewer = views.viewer_of(group, user, session=session)
        if not viewer.member:
            raise NotFound(N_("Only the group's members see this page."))
        agreements = group_work.agreements_of(settings, group, session=session)
        parties = people.describe(
            settings,
            [
                uri
                for a in agreements
                for uri in (a.requester_uri, a.provider_uri, a.performer_uri or "")
                if uri
            ],
            session=session,
        )
        return {
            "group": group,
            "viewer": viewer,
            "offers": [
                proposal_pages.card(settings, p, lang)
                for p in group_work.proposals_of(settings, group, session=session)
            ],
            "received": [
                (bid_pages.bid_line(b, lang), proposal_pages.card(settings, p, lang))
                for b, p in group_work.received_bids(settings, group, session=session)
            ],
            "sent": [
                (bid_pages.bid_line(b, lang), proposal_pages.card(settings, p, lang))
                for b, p in group_work.bids_of(settings, group, session=session)
            ],
            "agreements": [(a, group_work.actions(settings, group, a)) for a in agreements],
            "parties": parties,
            "members": records.members(group, session=session),
            "group_uri": service.actor_of(settings, group).uri,
        }

    context = await run(request, load)
    context.update(done=request.query_params.get("done"), message=message)
    return await render(request, "groups/work.html", context, status_code=status_code)


def _coordinated(
    session: Session, settings: Settings, name: str, user: User, item: int
) -> tuple[Group, Agreement, str]:
    """The group ``name``, its agreement ``item`` and the group's actor id, for one of its coordinators."""
    group = _group(session, name)
    service.require_coordinator(group, user, session=session)
    agreement = group_work.agreement_of(settings, group, item, session=session)
    return group, agreement, service.actor_of(settings, group).uri


async def _evaluation(
    request: Request,
    user: User,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    settings = node_of(request).settings
    name = request.path_params["name"]
    item = int(request.path_params["item"])

    def load(session: Session) -> dict[str, Any]:
        _, agreement, me = _coordinated(session, settings, name, user, item)
        return evaluation_pages.evaluation_view(session, settings, agreement, me, utcnow())

    context = await run(request, load)
    context.update(form_action=f"/groups/{name}/agreements/{item}/evaluate", back_url=f"/groups/{name}/work")
    return await evaluation_pages.render_form(
        request, context, values=values, errors=errors, message=message, status_code=status_code
    )


@login_required
async def evaluate(request: Request, user: User) -> Response:
    """``/groups/{name}/agreements/{id}/evaluate``: a coordinator evaluates, for the group, the other
    party of a completed agreement (the evaluation form, double-blind as for a person)."""
    if request.method == "GET":
        return await _evaluation(request, user)
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    name = request.path_params["name"]
    item = int(request.path_params["item"])

    def save(session: Session) -> str:
        group, agreement, me = _coordinated(session, settings, name, user, item)
        _, role = evaluations.other_party(agreement, me)
        data = evaluation_pages.form_input(form, role)
        group_work.evaluate(settings, user, group, item, data, session=session)
        return f"/groups/{name}/agreements/{item}/evaluate?done=1"

    return await evaluation_pages.post_evaluation(
        request, form, save, lambda **again: _evaluation(request, user, **again)
    )


@login_required
async def new_offer(request: Request, user: User) -> Response:
    """``/groups/{name}/offers``: a coordinator publishes an offer (or a demand) in the group's name."""
    settings = node_of(request).settings
    name = request.path_params["name"]
    await run(request, lambda s: service.require_coordinator(_group(s, name), user, session=s))
    if request.method == "GET":
        data = proposals.ProposalInput(
            purpose="offer",
            postal_code=user.postal_code,
            commune_name=user.commune_name,
            lifetime_days=str(proposals.LIFETIME_DEFAULT_DAYS),
        )
        return await proposal_pages.form_page(
            request, proposal_pages.form_values(data), {}, action=f"/groups/{name}/offers", on_behalf_of=name
        )
    form = await form_with_csrf(request)
    data = proposal_pages.form_input(form)
    try:
        row = await run(
            request, lambda s: group_work.publish_offer(settings, user, _group(s, name), data, session=s)
        )
    except DomainError as exc:
        return await proposal_pages.form_page(
            request,
            proposal_pages.form_values(data),
            exc.fields,
            status_code=http_status(exc),
            action=f"/groups/{name}/offers",
            on_behalf_of=name,
        )
    return RedirectResponse(row.ap_id + "?saved=created", status_code=303)


@login_required
async def answer(request: Request, user: User) -> Response:
    """``POST /groups/{name}/answer``: the group answers a demand (from the proposal's page)."""
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    name = request.path_params["name"]
    data = bid_pages.bid_input(bid_pages.form_values(form))
    proposal_ap_id = text(form, "proposal", 2048)

    def save(session: Session) -> None:
        proposal = bids.proposal_by_ap_id(proposal_ap_id, session=session)
        group_work.answer(settings, user, _group(session, name), proposal, data, session=session)

    await run(request, save)
    return RedirectResponse(f"/groups/{name}/work?done=answered", status_code=303)


async def _act(request: Request, user: User, action: str) -> Response:
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    name = request.path_params["name"]
    item = int(request.path_params["item"])

    def save(session: Session) -> None:
        group = _group(session, name)
        if action in ("accept", "reject"):
            group_work.decide_bid(
                settings,
                user,
                group,
                item,
                accept=action == "accept",
                reason=text(form, "reason", 2000),
                session=session,
            )
        elif action == "assign":
            member = text(form, "member", 12)
            group_work.assign(
                settings, user, group, item, int(member) if member.isdigit() else None, session=session
            )
        elif action == "confirm":
            group_work.confirm(settings, user, group, item, session=session)
        elif action == "cancel":
            group_work.cancel(settings, user, group, item, text(form, "reason", 2000), session=session)
        elif action == "dispute":
            group_work.dispute(settings, user, group, item, text(form, "reason", 2000), session=session)
        elif action == "withdraw":
            group_work.withdraw_offer(settings, user, group, item, session=session)

    try:
        await run(request, save)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _work(request, user, message=exc.message, status_code=http_status(exc))
    return RedirectResponse(f"/groups/{name}/work?done={action}", status_code=303)


def _endpoint(action: str) -> Any:
    @login_required
    async def endpoint(request: Request, user: User) -> Response:
        return await _act(request, user, action)

    endpoint.__name__ = f"group_work_{action}"
    return endpoint


def routes() -> list[BaseRoute]:
    work = "/groups/{name}/work"
    acts = (
        ("/groups/{name}/bids/{item:int}/", ("accept", "reject")),
        ("/groups/{name}/agreements/{item:int}/", ("assign", "confirm", "cancel", "dispute")),
        ("/groups/{name}/offers/{item:int}/", ("withdraw",)),
    )
    return [
        Route("/groups/{name}/calendar", calendar_page),
        Route(work, work_page),
        Route("/groups/{name}/offers", new_offer, methods=["GET", "POST"]),
        form_route("/groups/{name}/answer", answer, work),
        *(form_route(prefix + action, _endpoint(action), work) for prefix, names in acts for action in names),
        Route("/groups/{name}/agreements/{item:int}/evaluate", evaluate, methods=["GET", "POST"]),
    ]
