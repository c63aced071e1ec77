"""Answers and bids on the pages: the answer form (on the proposal page and on its own page), "my
answers" (``/me/bids``), the answers received on one's proposals (``/me/bids/received``) with each
bidder's price, reputation and distance, and the withdraw, accept and reject buttons.

The proposal page includes ``bids/_on_proposal.html``; given ``bid_panel`` (:func:`panel`, computed in
the proposal page's transaction) it shows the answers or the viewer's own answer inline, otherwise
links to the pages here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts import people
from node.accounts.models import User
from node.core.errors import N_, DomainError, NotFound, Throttled, ValidationFailed, http_status
from node.core.timeutil import utcnow
from node.http.pages import confirm
from node.http.pages.market import evaluations as evaluation_pages
from node.http.pages.market import proposals as proposal_pages
from node.http.runtime import (
    form_with_csrf,
    language_of,
    login_required,
    node_of,
    render,
    run,
    text,
)
from node.market import schedule as sched
from node.market.agreements.documents import stored_schedule
from node.market.bids import service as bids
from node.market.bids import views as bid_views
from node.market.lifecycles import accepts_bids
from node.market.models import Bid, Proposal
from node.market.money import format_hours, format_price
from node.settings import Settings
from node.timebank import views as timebank_views

PARIS = ZoneInfo(sched.PARIS)
MSG_BAD_TIME = N_("Enter a date and a time.")
MSG_WINDOW = N_("Give both the start and the end, or neither.")


@dataclass(frozen=True)
class BidLine:
    """A bid as a page shows it, formatted for the reader's language."""

    bid: Bid
    price: str
    hours: str
    schedule: str
    bidder_name: str = ""
    bidder_handle: str = ""
    bidder_url: str = ""
    reputation: evaluation_pages.ReputationView | None = None
    distance: str = ""
    agreement_id: int | None = None
    bidder_avatar: str | None = None

    @property
    def active(self) -> bool:
        return self.bid.state == bids.ACTIVE


def bid_line(
    bid: Bid, lang: str, view: bid_views.BidView | None = None, agreement_id: int | None = None
) -> BidLine:
    price = bids.price_of(bid)
    schedule = stored_schedule(bid.schedule)
    distance = ""
    if view is not None and view.distance_km is not None:
        distance = f"{max(1, round(view.distance_km))}\u00a0km"
    return BidLine(
        bid=bid,
        price=format_price(price, lang) if price else "",
        hours=format_hours(bid.quantity_hours, lang) if bid.quantity_hours is not None else "",
        schedule=sched.summary(schedule, lang) if schedule else "",
        bidder_name=view.bidder_name if view else "",
        bidder_handle=view.bidder_handle if view else "",
        bidder_url=view.bidder_url if view else "",
        reputation=evaluation_pages.ReputationView(view.standing.reputation) if view else None,
        distance=distance,
        agreement_id=agreement_id,
    )


def with_pictures(session: Session, settings: Settings, lines: list[BidLine]) -> list[BidLine]:
    """``lines`` with their bidders' pictures, read in one query per kind of person."""
    bidders = people.describe(settings, [line.bid.bidder_uri for line in lines], session=session)
    return [dataclasses.replace(line, bidder_avatar=bidders[line.bid.bidder_uri].avatar) for line in lines]


def panel(
    session: Session, settings: Settings, proposal: Proposal, viewer: User | None, lang: str
) -> dict[str, Any]:
    """What ``bids/_on_proposal.html`` shows to ``viewer`` (pass it as ``bid_panel``): the answers
    for the author, the viewer's own active answer otherwise, and whether they may answer now."""
    if viewer is None:
        return {"author": False, "lines": [], "own": None, "may_bid": False}
    if bids.is_author(proposal, viewer):
        views = bid_views.bids_for(settings, viewer, proposal, session=session)
        return {
            "author": True,
            "lines": with_pictures(session, settings, [bid_line(v.bid, lang, v) for v in views]),
            "own": None,
            "may_bid": False,
            # time bank (issue 12): the author's balance before accepting an answer priced in tokens
            "tokens": timebank_views.before_accepting(
                session, settings, viewer, proposal.purpose, [v.bid for v in views], lang
            ),
        }
    own = bid_views.own_bid(settings, viewer, proposal, session=session)
    return {
        "author": False,
        "lines": [],
        "own": bid_line(own, lang) if own else None,
        "may_bid": own is None and accepts_bids(proposal.state, proposal.bidding_deadline, utcnow()),
        "eligible": bids.eligible(proposal, viewer),
    }


def _card(settings: Settings, proposal: Proposal, lang: str) -> dict[str, Any]:
    return proposal_pages.card(settings, proposal, lang)


def _safe_next(value: str, default: str) -> str:
    """A local path to go back to (never another site)."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else default


# --- the answer form ----------------------------------------------------------------------------------


def _moment(value: str, name: str, errors: dict[str, str]) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors[name] = MSG_BAD_TIME
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=PARIS)


FORM_FIELDS = (("amount", 64), ("basis", 10), ("hours", 40), ("start", 40), ("end", 40), ("message", 4000))


def form_values(form: FormData) -> dict[str, str]:
    return {name: text(form, name, limit) for name, limit in FORM_FIELDS}


def bid_input(values: dict[str, str]) -> bids.BidInput:
    """The service's input from the answer form's values (times are Paris wall-clock times)."""
    errors: dict[str, str] = {}
    start, end = _moment(values["start"], "start", errors), _moment(values["end"], "end", errors)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)
    if (start is None) != (end is None):
        raise ValidationFailed(MSG_WINDOW, fields={"end" if end is None else "start": MSG_WINDOW})
    schedule = sched.TimeWindow(start, end) if start is not None and end is not None else None
    basis = values["basis"] if values["basis"] in ("per_hour", "total") else None
    return bids.BidInput(
        amount=values["amount"],
        basis="total" if basis == "total" else "per_hour" if basis else None,
        hours=values["hours"],
        schedule=schedule,
        message=values["message"],
    )


async def _new_page(
    request: Request,
    user: User,
    proposal_ap_id: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    settings = node_of(request).settings
    lang = language_of(request, user)

    def load(session: Session) -> dict[str, Any]:
        proposal = bids.proposal_by_ap_id(proposal_ap_id, session=session)
        return {
            "proposal": proposal,
            "item": _card(settings, proposal, lang),
            **panel(session, settings, proposal, user, lang),
        }

    context = await run(request, load)
    context.update(
        values=values or {"basis": context["proposal"].price_basis or "per_hour"},
        errors=errors or {},
        message=message,
        next=_safe_next(request.query_params.get("next", ""), context["item"]["url"]),
    )
    return await render(request, "bids/new.html", context, status_code=status_code)


@login_required
async def new_bid(request: Request, user: User) -> Response:
    """``GET /bids/new?proposal=<id>``: answer a proposal (or see one's answer to it)."""
    return await _new_page(request, user, request.query_params.get("proposal", "")[:2048])


@login_required
async def create_bid(request: Request, user: User) -> Response:
    """``POST /bids``: place the answer; the form again with its errors when refused."""
    form = await form_with_csrf(request)
    proposal_ap_id = text(form, "proposal", 2048)
    settings = node_of(request).settings
    values = form_values(form)
    try:
        data = bid_input(values)

        def save(session: Session) -> None:
            proposal = bids.proposal_by_ap_id(proposal_ap_id, session=session)
            bids.place_bid(settings, user, proposal, data, session=session)

        await run(request, save)
    except (NotFound, Throttled):
        raise
    except DomainError as exc:
        return await _new_page(
            request,
            user,
            proposal_ap_id,
            values=values,
            errors=exc.fields,
            message=None if exc.fields else exc.message,
            status_code=http_status(exc),
        )
    target = _safe_next(text(form, "next", 2048), "/me/bids")
    return RedirectResponse(f"{target}{'&' if '?' in target else '?'}done=placed#answers", status_code=303)


# --- lists --------------------------------------------------------------------------------------------


@login_required
async def my_bids(request: Request, user: User) -> Response:
    """``/me/bids``: the answers one sent, with their state."""
    settings = node_of(request).settings
    lang = language_of(request, user)

    def load(session: Session) -> list[dict[str, Any]]:
        return [
            {
                "line": bid_line(mine.bid, lang, agreement_id=mine.agreement.id if mine.agreement else None),
                "item": _card(settings, mine.proposal, lang),
            }
            for mine in bid_views.my_bids(user, session=session)
        ]

    rows = await run(request, load)
    return await render(request, "bids/mine.html", {"rows": rows, "done": request.query_params.get("done")})


@login_required
async def received_bids(request: Request, user: User) -> Response:
    """``/me/bids/received``: the answers to one's proposals (``?proposal=<id>`` for one of them)."""
    settings = node_of(request).settings
    lang = language_of(request, user)
    only = request.query_params.get("proposal", "")

    def load(session: Session) -> list[dict[str, Any]]:
        groups = []
        for proposal, active in bid_views.proposals_with_bids(user, session=session):
            if only and str(proposal.id) != only:
                continue
            views = bid_views.bids_for(settings, user, proposal, session=session)
            groups.append(
                {
                    "proposal": proposal,
                    "item": _card(settings, proposal, lang),
                    "active": active,
                    "lines": with_pictures(session, settings, [bid_line(v.bid, lang, v) for v in views]),
                    # time bank (issue 12): the balance before accepting an answer priced in tokens
                    "tokens": timebank_views.before_accepting(
                        session, settings, user, proposal.purpose, [v.bid for v in views], lang
                    ),
                }
            )
        return groups

    groups = await run(request, load)
    return await render(
        request,
        "bids/received.html",
        {"groups": groups, "done": request.query_params.get("done"), "only": only},
    )


# --- decisions ----------------------------------------------------------------------------------------


async def _decide(request: Request, user: User, action: str) -> Response:
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    bid_id = int(request.path_params["bid_id"])
    reason = text(form, "reason", 2000)
    if action == "accept":
        await run(request, lambda session: bid_views.visible_bid(user, bid_id, session=session))
        asking = await confirm.ask(
            request,
            form,
            question=N_("Accept this answer? The other answers to this proposal will be declined."),
            button=N_("Accept"),
            back="/me/bids/received",
        )
        if asking is not None:
            return asking

    def save(session: Session) -> str:
        bid, proposal = bid_views.visible_bid(user, bid_id, session=session)
        if action == "withdraw":
            bids.withdraw_bid(settings, user, bid, session=session)
            return "/me/bids?done=withdrawn"
        if action == "reject":
            bids.reject_bid(settings, user, bid, reason, session=session)
            return f"/me/bids/received?proposal={proposal.id}&done=rejected"
        agreement = bids.accept_bid(settings, user, bid, session=session)
        return f"/me/agreements/{agreement.id}?done=accepted"

    return RedirectResponse(await run(request, save), status_code=303)


@login_required
async def withdraw(request: Request, user: User) -> Response:
    return await _decide(request, user, "withdraw")


@login_required
async def accept(request: Request, user: User) -> Response:
    return await _decide(request, user, "accept")


@login_required
async def reject(request: Request, user: User) -> Response:
    return await _decide(request, user, "reject")


def routes() -> list[Route]:
    return [
        Route("/me/bids", my_bids, name="my_bids"),
        Route("/me/bids/received", received_bids, name="received_bids"),
        Route("/bids/new", new_bid, name="new_bid"),
        Route("/bids", create_bid, methods=["POST"], name="create_bid"),
        Route("/bids/{bid_id:int}/withdraw", withdraw, methods=["POST"], name="withdraw_bid"),
        Route("/bids/{bid_id:int}/accept", accept, methods=["POST"], name="accept_bid"),
        Route("/bids/{bid_id:int}/reject", reject, methods=["POST"], name="reject_bid"),
    ]
