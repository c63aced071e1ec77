"""Pages of offers and demands: a proposal's page (also its ActivityStreams document), post and edit
forms, withdrawal, and the author's own list (their search is :mod:`node.http.pages.search`).

Every form works without JavaScript; ``static/places.js`` only adds autocompletion of communes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from node.accounts import people
from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.addressing import AS_CONTEXT
from node.catalog import categories
from node.catalog.categories import CATEGORIES
from node.core.errors import N_, DomainError, NotFound, PermissionDenied, Throttled, http_status
from node.core.text import html_to_text, text_to_html
from node.core.timeutil import utcnow
from node.groups import actors as group_actors
from node.groups import verified
from node.http.errors import STATUS_CODES, json_error
from node.http.federation.actors import ACTIVITY_JSON, activity_json, signature_refusal, wants_activity_json
from node.http.pages import confirm
from node.http.pages.avatars import CACHE_FOREVER
from node.http.pages.market import bids as bid_pages
from node.http.pages.market import evaluations as evaluation_pages
from node.http.runtime import (
    checkbox,
    current_user,
    form_with_csrf,
    language_of,
    login_required,
    node_of,
    render,
    run,
    text,
)
from node.market import schedule as sched
from node.market.evaluations.service import reputations_of
from node.market.lifecycles import ProposalState, accepts_bids
from node.market.models import Proposal
from node.market.money import format_hours, format_price
from node.market.proposals import notes as proposal_notes
from node.market.proposals import photos as proposal_photos
from node.market.proposals import reactions
from node.market.proposals import service as proposals
from node.market.proposals.records import (
    MAX_PAGE,
    PAGE_SIZE,
    local_uuid,
    price_from,
    schedule_from,
    to_doc,
)
from node.market.vocab import proposal_to_json
from node.settings import Mode, Settings

log = logging.getLogger("asasap.web")

LIFETIME_CHOICES = (7, 14, 30, 60, 90, 180)


# --- display --------------------------------------------------------------------------------------------


def card(settings: Settings, row: Proposal, lang: str) -> dict[str, Any]:
    """What a page shows of a proposal, already formatted for ``lang``."""
    origin, state, deadline = row.origin, row.state, row.bidding_deadline
    postal_code, currency, hours = row.postal_code, row.price_currency, row.quantity_hours
    return {
        "row": row,
        "url": urlsplit(row.ap_id).path if origin == "" else f"/proposals/remote/{row.id}",
        "local": origin == "",
        "node": origin or settings.domain,
        "category": categories.label(row.category, lang) if row.category else "",
        "place": f"{row.commune_name} ({postal_code})" if postal_code else row.commune_name,
        "price": price_text(row.price_amount, currency, row.price_basis, lang),
        "free": currency is None,
        "hours": hours_text(hours, lang) if hours is not None else "",
        "schedule": schedule_text(row.schedule, lang, sched.local_today()),
        "open": state == ProposalState.OPEN.value,
        "photos": proposal_photos.photos_of(row) if row.photos else [],
        "takes_bids": deadline is not None and accepts_bids(state, deadline, utcnow()),
    }


# A listing formats the same few prices, quantities and schedules again and again: each is formatted
# once per process for its stored value and language (and, for a schedule, the day: a date of another
# year is written with its year), the same text as formatting it anew.


@functools.lru_cache(maxsize=1024)
def price_text(amount: Decimal | None, currency: str | None, basis: str | None, lang: str) -> str:
    """A proposal's price as its card shows it (empty when free or left to the answers)."""
    price = price_from(amount, currency, basis)
    return format_price(price, lang) if price is not None else ""


@functools.lru_cache(maxsize=1024)
def hours_text(hours: Decimal, lang: str) -> str:
    return format_hours(hours, lang)


@functools.lru_cache(maxsize=4096)
def schedule_text(stored: str | None, lang: str, today: date) -> str:
    """A proposal's stored schedule as its card shows it on ``today`` (empty when it has none)."""
    schedule = schedule_from(stored)
    return sched.summary(schedule, lang, today=today) if schedule is not None else ""


def with_ratings(
    session: Session, settings: Settings, rows: Sequence[Proposal], lang: str
) -> list[dict[str, Any]]:
    """The cards of ``rows`` with their authors' ratings (``rating``: a ReputationView, or None before
    any evaluation), read in one query, and their authors (``author``: a
    :class:`~node.accounts.people.Person`, with their picture), so that a listing shows whom people trust."""
    uris = [row.author_uri for row in rows]
    reputations = reputations_of(uris, session=session)
    users = people.local_users(settings, uris, session=session)  # read once, for names and badges
    authors = people.describe(settings, uris, session=session, users=users)
    checked = verified.facts_by_uri(users, session=session)
    cards = []
    for row in rows:
        item = card(settings, row, lang)
        item["author"] = authors[row.author_uri]
        item["verified"] = checked.get(row.author_uri, [])
        reputation = reputations.get(row.author_uri)
        rated = reputation is not None and reputation.count > 0
        item["rating"] = evaluation_pages.reputation_view(reputation) if reputation and rated else None
        cards.append(item)
    return with_node_names(session, cards)


def with_node_names(session: Session, cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``cards`` with the names their nodes give themselves (``node_name``, on the cards from other
    nodes), read in one query for the whole list rather than one per card as ``node_label`` would."""
    names = people.node_names({item["node"] for item in cards if not item["local"]}, session=session)
    for item in cards:
        if not item["local"]:
            item["node_name"] = names.get(item["node"], item["node"])
    return cards


# --- one proposal -------------------------------------------------------------------------------------


def _author_line(session: Session, settings: Settings, row: Proposal) -> dict[str, str | None]:
    group_name = local.local_group_name(settings, row.author_uri)
    group = group_actors.DIRECTORY.find(group_name, session=session) if group_name else None
    if group is not None:  # a group's offer: the group is its author
        return {
            "name": group.display_name,
            "url": f"/groups/{group.name}",
            "handle": f"{group.name}@{settings.domain}",
            "avatar": None,
        }
    author = people.person(settings, row.author_uri, session=session)
    if not author.known:
        return {"name": row.author_uri, "url": row.author_uri, "handle": row.author_uri, "avatar": None}
    return {
        "name": author.name or author.username,
        "url": author.url,
        "handle": author.handle,
        "avatar": author.avatar,
    }


async def _page(request: Request, row: Proposal, viewer: User | None) -> Response:
    settings = node_of(request).settings
    lang = language_of(request, viewer)
    author = await run(request, _author_line, settings, row)
    is_author = viewer is not None and row.local_author_id == viewer.id
    bid_panel = await run(request, bid_pages.panel, settings, row, viewer, lang)
    received = (
        await run(request, lambda s: reactions.counts(row.id or 0, session=s))
        if is_author and row.id
        else None
    )
    return await render(
        request,
        "proposals/detail.html",
        {
            "proposal": row,
            "viewer": viewer,
            "item": card(settings, row, lang),
            "author": author,
            "is_author": is_author,
            "saved": request.query_params.get("saved"),
            "bid_panel": bid_panel,
            "reactions": received,  # likes, boosts and mentions from the fediverse, shown to the author only
        },
    )


def _load_local(session: Session, settings: Settings, proposal_uuid: str) -> tuple[Proposal, bool] | None:
    row = proposals.get_local(settings, proposal_uuid, session=session)
    if row is None:
        return None
    return row, proposals.is_visible(row, session=session)


def _tombstone(row: Proposal) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": row.ap_id,
        "type": "Tombstone",
        "formerType": "Proposal",
        "deleted": row.closed_at.isoformat() if row.closed_at else None,
    }


async def _activity_document(request: Request, build: Any) -> Response:
    refused = await signature_refusal(request)
    if refused is not None:
        refused.headers["Vary"] = "Accept"
        return refused
    settings = node_of(request).settings
    found = await run(request, _load_local, settings, request.path_params["uuid"])
    if found is None or not found[1]:
        return json_error(404, STATUS_CODES[404], "No such proposal.", headers={"Vary": "Accept"})
    row = found[0]
    if row.state == ProposalState.WITHDRAWN.value:
        return JSONResponse(
            _tombstone(row), status_code=410, media_type=ACTIVITY_JSON, headers={"Vary": "Accept"}
        )
    return activity_json(build(settings, row), vary=True)


def _proposal_json(settings: Settings, row: Proposal) -> dict[str, Any]:
    return proposal_photos.with_attachments(settings, row, proposal_to_json(to_doc(settings, row)))


def _note_json(settings: Settings, row: Proposal) -> dict[str, Any]:
    return proposal_notes.note_document(row, followers=row.author_uri + "/followers")


async def proposal_page(request: Request) -> Response:
    """``/proposals/{uuid}``: the page, or the ``Proposal`` to ``Accept: application/activity+json``."""
    if wants_activity_json(request.headers.get("accept", "")):
        return await _activity_document(request, _proposal_json)
    settings = node_of(request).settings
    viewer = await current_user(request)
    found = await run(request, _load_local, settings, request.path_params["uuid"])
    is_author = found is not None and viewer is not None and found[0].local_author_id == viewer.id
    if found is None or not (found[1] or is_author):
        raise NotFound(N_("No such proposal."))
    row = found[0]
    response: Response
    if row.state == ProposalState.WITHDRAWN.value and not is_author:
        response = await render(request, "proposals/gone.html", {"proposal": row}, status_code=410)
    else:
        response = await _page(request, row, viewer)
    response.headers.add_vary_header("Accept")
    return response


async def proposal_note(request: Request) -> Response:
    """``/proposals/{uuid}/note``: the readable ``Note`` sent for the proposal (what Mastodon shows)."""
    if not wants_activity_json(request.headers.get("accept", "")):
        return RedirectResponse(f"/proposals/{request.path_params['uuid']}", status_code=303)
    return await _activity_document(request, _note_json)


async def remote_page(request: Request) -> Response:
    """``/proposals/remote/{id}``: a proposal received from another node."""
    viewer = await current_user(request)
    proposal_id = int(request.path_params["proposal_id"])

    def load(session: Session) -> Proposal:
        row = proposals.get_by_id(proposal_id, session=session)
        if row is None or row.origin == "" or not proposals.is_visible(row, session=session):
            raise NotFound(N_("No such proposal."))
        return row

    return await _page(request, await run(request, load), viewer)


# --- forms ----------------------------------------------------------------------------------------------


def form_input(form: FormData) -> proposals.ProposalInput:
    description = text(form, "description", 20_000)
    return proposals.ProposalInput(
        purpose=text(form, "purpose", 20),
        title=text(form, "title", 500),
        # Typed text, not HTML: markup typed in is dropped (script with its content), the rest escaped.
        description=text_to_html(html_to_text(description, 20_000)),
        category=text(form, "category", 64),
        postal_code=text(form, "postal_code", 20),
        commune_name=text(form, "commune_name", 200),
        schedule_kind=text(form, "schedule_kind", 20) or "none",
        start=text(form, "start", 40),
        end=text(form, "end", 40),
        weekdays=[str(v)[:4] for v in form.getlist("weekdays")][:7],
        start_time=text(form, "start_time", 10),
        end_time=text(form, "end_time", 10),
        first_day=text(form, "first_day", 12),
        last_day=text(form, "last_day", 12),
        quantity=text(form, "quantity", 40),
        price=text(form, "price", 64),
        price_basis=text(form, "price_basis", 20) or "per_hour",
        currency=text(form, "currency", 8),
        free=checkbox(form, "free"),
        lifetime_days=text(form, "lifetime_days", 5),
        bidding_deadline=text(form, "bidding_deadline", 40),
    )


async def _form_with_photos(request: Request) -> tuple[FormData, list[bytes]]:
    """The post or edit form and the bytes of its photos (each at most one byte over the limit, so that
    an oversized one is still refused as such)."""
    limit = node_of(request).settings.max_body_bytes
    try:
        form = await form_with_csrf(request, max_files=proposal_photos.MAX_PHOTOS + 1)
        uploads = [
            await value.read(limit + 1) for value in form.getlist("photos") if isinstance(value, UploadFile)
        ]
    finally:
        await request.close()  # the uploads' temporary files
    return form, uploads


async def _prepared(uploads: list[bytes], alt: str, max_bytes: int) -> list[bytes]:
    """The photos re-encoded, in a worker thread and outside any transaction (decoding takes a while)."""
    return await anyio.to_thread.run_sync(
        functools.partial(proposal_photos.prepare, uploads, alt, max_bytes=max_bytes)
    )


def form_values(data: proposals.ProposalInput) -> dict[str, Any]:
    values = asdict(data)
    values["description"] = html_to_text(data.description, 20_000)
    for name in ("start", "end", "bidding_deadline"):
        values[name] = values[name][:16]  # datetime-local: no seconds, no offset
    return values


async def form_page(
    request: Request,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    proposal: Proposal | None = None,
    message: str | None = None,
    status_code: int = 200,
    action: str | None = None,
    on_behalf_of: str | None = None,
) -> Response:
    """The post and edit form; ``action`` and ``on_behalf_of`` (a group's name) for a group's offer."""
    settings = node_of(request).settings
    if action is None:
        action = f"/proposals/{local_uuid(settings, proposal.ap_id)}/edit" if proposal else "/proposals/new"
    return await render(
        request,
        "proposals/form.html",
        {
            "values": values,
            "errors": errors,
            "proposal": proposal,
            "action": action,
            "on_behalf_of": on_behalf_of,
            "message": message,
            "currencies": proposals.currencies_for(settings),
            "market": settings.mode is Mode.MARKET,
            "all_categories": CATEGORIES,
            "lifetimes": LIFETIME_CHOICES,
            "day_codes": sched.DAY_CODES,
        },
        status_code=status_code,
    )


@login_required
async def new_proposal(request: Request, user: User) -> Response:
    if request.method == "GET":
        purpose = request.query_params.get("purpose", "offer")
        data = proposals.ProposalInput(
            purpose=purpose if purpose in ("offer", "request") else "offer",
            postal_code=user.postal_code,
            commune_name=user.commune_name,
            lifetime_days=str(proposals.LIFETIME_DEFAULT_DAYS),
        )
        return await form_page(request, form_values(data), {})
    settings = node_of(request).settings
    form, uploads = await _form_with_photos(request)
    data = form_input(form)
    alt = text(form, "photos_alt", proposal_photos.MAX_ALT)
    pictures: list[bytes] = []

    def save(session: Session) -> Proposal:
        photos = proposal_photos.column(pictures, alt) if pictures else None
        created = proposals.create(settings, user, data, session=session, photos=photos)
        proposal_photos.write(settings, pictures)  # once the proposal is valid; before the commit
        return created

    try:
        pictures = await _prepared(uploads, alt, settings.max_body_bytes)
        row = await run(request, save)
    except Throttled:
        raise
    except DomainError as exc:
        values = form_values(data) | {"photos_alt": alt}
        return await form_page(request, values, exc.fields, status_code=http_status(exc))
    return RedirectResponse(row.ap_id + "?saved=created", status_code=303)


def _own(session: Session, settings: Settings, proposal_uuid: str, user: User) -> Proposal:
    row = proposals.get_local(settings, proposal_uuid, session=session)
    if row is None:
        raise NotFound(N_("No such proposal."))
    if row.local_author_id != user.id:
        raise PermissionDenied(proposals.MSG_NOT_AUTHOR)
    return row


@login_required
async def edit_proposal(request: Request, user: User) -> Response:
    settings = node_of(request).settings
    proposal_uuid = request.path_params["uuid"]
    row = await run(request, _own, settings, proposal_uuid, user)
    if request.method == "GET":
        values = form_values(proposals.input_of(row))
        values["lifetime_days"] = ""
        return await form_page(request, values, {}, proposal=row)
    form, uploads = await _form_with_photos(request)
    data = form_input(form)
    data.purpose = row.purpose
    alt = text(form, "photos_alt", proposal_photos.MAX_ALT)

    remove = checkbox(form, "remove_photos")
    pictures: list[bytes] = []

    def save(session: Session) -> Proposal:
        photos = proposal_photos.column(pictures, alt) if pictures else ("[]" if remove else None)
        own = _own(session, settings, proposal_uuid, user)
        updated = proposals.update(settings, user, own, data, session=session, photos=photos)
        proposal_photos.write(settings, pictures)
        return updated

    try:
        pictures = await _prepared(uploads, alt, settings.max_body_bytes)
        await run(request, save)
    except DomainError as exc:
        return await form_page(
            request,
            form_values(data) | {"photos_alt": alt},
            exc.fields,
            proposal=row,
            message=None if exc.fields else exc.message,
            status_code=http_status(exc),
        )
    return RedirectResponse(row.ap_id + "?saved=updated", status_code=303)


@login_required
async def withdraw_proposal(request: Request, user: User) -> Response:
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    proposal_uuid = request.path_params["uuid"]
    await run(request, _own, settings, proposal_uuid, user)  # others are refused before being asked
    asking = await confirm.ask(
        request,
        form,
        question=N_("Withdraw this proposal? Nobody will be able to answer it any more."),
        button=N_("Withdraw"),
        back="/me/proposals",
    )
    if asking is not None:
        return asking

    def save(session: Session) -> Proposal:
        return proposals.withdraw(
            settings, user, _own(session, settings, proposal_uuid, user), session=session
        )

    await run(request, save)
    return RedirectResponse("/me/proposals?saved=withdrawn", status_code=303)


@login_required
async def my_proposals(request: Request, user: User) -> Response:
    settings = node_of(request).settings
    lang = language_of(request, user)

    page_text = request.query_params.get("page", "1")
    page = int(page_text) if page_text.isdigit() and 1 <= int(page_text) <= MAX_PAGE else 1

    def load(session: Session) -> list[dict[str, Any]]:
        # one more than a page: whether there is a next one, without counting them all
        rows = proposals.of_author(
            user.pk, session=session, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1
        )
        return [card(settings, row, lang) for row in rows]

    cards = await run(request, load)
    return await render(
        request,
        "proposals/mine.html",
        {
            "cards": cards[:PAGE_SIZE],
            "saved": request.query_params.get("saved"),
            "previous_page": page - 1 if page > 1 else None,
            "next_page": page + 1 if len(cards) > PAGE_SIZE else None,
        },
    )


async def photo(request: Request) -> Response:
    """``GET /photos/<hash>.jpg``: a proposal's photo, cached for ever (its name is its content)."""
    found = proposal_photos.path_of(node_of(request).settings, request.path_params["digest"])
    if found is None or not found.is_file():
        raise NotFound(N_("No such picture."))
    return FileResponse(found, media_type="image/jpeg", headers={"Cache-Control": CACHE_FOREVER})


def routes() -> list[BaseRoute]:
    return [
        Route("/photos/{digest}.jpg", photo),
        Route("/proposals/new", new_proposal, methods=["GET", "POST"]),
        Route("/proposals/remote/{proposal_id:int}", remote_page),
        Route("/proposals/{uuid}", proposal_page),
        Route("/proposals/{uuid}/note", proposal_note),
        Route("/proposals/{uuid}/edit", edit_proposal, methods=["GET", "POST"]),
        Route("/proposals/{uuid}/withdraw", withdraw_proposal, methods=["POST"]),
        Route("/me/proposals", my_proposals),
    ]
