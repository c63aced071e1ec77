"""Agreements on the pages and on the wire.

- ``/me/agreements``: one's agreements; ``/me/agreements/{id}``: an agreement with its timeline, the
  actions its state allows (confirm, cancel, dispute; settle for coordinators of the node holding a
  disputed one) and the contact form, the details the parties shared shown to the two parties only.
- ``/agreements/{uuid}``: an agreement held here. As ActivityStreams JSON it needs an HTTP signature
  (401 without one): the parties' nodes get the whole document, other nodes the public part of a
  completed agreement (what checking an evaluation needs), everyone else 404. Browsers are sent to
  the agreement's page.
- ``/agreement-contacts/{id}``: contact details a party shared from here, as JSON to a signed request
  from the other party's node only (404 for anyone else).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts import people
from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.inbox.verify import InboxError, KeyUnavailable
from node.core.errors import N_, DomainError, NotFound, http_status
from node.http.errors import json_error
from node.http.federation.actors import activity_json, wants_activity_json
from node.http.federation.signed import refusal, signer_key
from node.http.pages.market import proposals as proposal_pages
from node.http.pages.telemanagement import agreement_plans
from node.http.runtime import form_with_csrf, language_of, login_required, node_of, render, run, text
from node.market import schedule as sched
from node.market.agreements import contacts as agreement_contacts
from node.market.agreements import parties as agreement_parties
from node.market.agreements import service as agreements
from node.market.agreements import sync as agreement_sync
from node.market.agreements.documents import stored_schedule
from node.market.agreements.parties import (
    MSG_NO_SUCH_AGREEMENT,
    PartyRole,
    agreement_for,
    agreements_of,
    is_holder,
    other_party,
    role_of,
    timeline,
)
from node.market.bids import service as bids
from node.market.evaluations import service as evaluations
from node.market.models import Agreement
from node.market.money import format_hours, format_price
from node.settings import Settings
from node.timebank import payments as timebank_payments
from node.timebank.policy import hours_text

log = logging.getLogger("asasap.market")

ACTIONS = ("confirm", "cancel", "dispute", "contact", "settle")


# --- pages --------------------------------------------------------------------------------------------


def _names(session: Session, settings: Settings, uris: set[str]) -> dict[str, str]:
    """Display names of the actors named in an agreement (the handle only for want of a name)."""
    return {
        uri: person.label
        for uri, person in people.describe(settings, sorted(uris), session=session).items()
        if person.known
    }


def _summary(session: Session, settings: Settings, agreement: Agreement, lang: str) -> dict[str, Any]:
    proposal = agreement_parties.proposal_of(agreement, session=session)
    price = bids.price_of(agreement)
    schedule = stored_schedule(agreement.schedule)
    return {
        "agreement": agreement,
        "item": proposal_pages.card(settings, proposal, lang) if proposal else None,
        "title": proposal.title if proposal else agreement.proposal_ap_id,
        "price": format_price(price, lang) if price else "",
        "hours": format_hours(agreement.quantity_hours, lang) if agreement.quantity_hours is not None else "",
        "schedule": sched.summary(schedule, lang) if schedule else "",
    }


def detail_context(
    session: Session, settings: Settings, user: User, agreement: Agreement, lang: str
) -> dict[str, Any]:
    """What the agreement page shows ``user`` (a party, or a coordinator for a dispute)."""
    me = local.person(settings, user).uri
    role = (
        role_of(agreement, me)
        if user.id in (agreement.local_provider_id, agreement.local_requester_id)
        else None
    )
    events = timeline(agreement, session=session)
    names = _names(
        session, settings, {agreement.provider_uri, agreement.requester_uri} | {e.actor_uri for e in events}
    )
    contacts = agreement_contacts.contacts_for(settings, user, agreement, session=session)
    other_role: PartyRole | None = None
    if role is not None:
        other_role = "requester" if role == "provider" else "provider"
    return {
        **_summary(session, settings, agreement, lang),
        "role": role,
        "holder": is_holder(agreement),
        "names": names,
        "events": events,
        "actions": agreements.actions_for(settings, user, agreement),
        "mine": contacts.get(role) if role else None,
        "theirs": contacts.get(other_role) if other_role else None,
        "evaluate_url": evaluations.evaluation_url(agreement)
        if agreement.state == "completed" and role
        else None,
        "payment": timebank_payments.status_of(session, settings, agreement),
        "payment_hours": lambda hundredths: hours_text(hundredths, lang),
        **agreement_plans.plan_context(session, user, agreement),
    }


@login_required
async def my_agreements(request: Request, user: User) -> Response:
    settings = node_of(request).settings
    lang = language_of(request, user)

    def load(session: Session) -> list[dict[str, Any]]:
        rows = []
        for agreement in agreements_of(user, session=session):
            summary = _summary(session, settings, agreement, lang)
            other = other_party(agreement, local.person(settings, user).uri)
            summary["other"] = _names(session, settings, {other}).get(other, other)
            rows.append(summary)
        return rows

    rows = await run(request, load)
    return await render(request, "agreements/list.html", {"rows": rows})


async def _detail_page(
    request: Request,
    user: User,
    agreement_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    settings = node_of(request).settings
    lang = language_of(request, user)

    def load(session: Session) -> dict[str, Any]:
        agreement = agreement_for(settings, user, agreement_id, session=session)
        return detail_context(session, settings, user, agreement, lang)

    context = await run(request, load)
    mine = context["mine"]
    context.update(
        errors=errors or {},
        values=values or {"address": mine.address if mine else "", "phone": mine.phone if mine else ""},
        message=message,
        done=request.query_params.get("done"),
    )
    return await render(request, "agreements/detail.html", context, status_code=status_code)


@login_required
async def agreement_page(request: Request, user: User) -> Response:
    return await _detail_page(request, user, int(request.path_params["agreement_id"]))


@login_required
async def agreement_action(request: Request, user: User) -> Response:
    """``POST /me/agreements/{id}/{action}``: confirm, cancel, dispute, share contact details, settle."""
    form = await form_with_csrf(request)
    action = request.path_params["action"]
    if action not in ACTIONS:
        raise NotFound(N_("Unknown action."))
    settings = node_of(request).settings
    agreement_id = int(request.path_params["agreement_id"])
    values = {name: text(form, name, 2000) for name in ("reason", "address", "phone", "outcome")}

    def save(session: Session) -> None:
        agreement = agreement_for(settings, user, agreement_id, lock=True, session=session)
        if action == "confirm":
            agreements.confirm_completion(settings, user, agreement, session=session)
        elif action == "cancel":
            agreements.cancel(settings, user, agreement, values["reason"], session=session)
        elif action == "dispute":
            agreements.dispute(settings, user, agreement, values["reason"], session=session)
        elif action == "contact":
            agreement_contacts.share_contact(
                settings, user, agreement, values["address"], values["phone"], session=session
            )
        else:
            outcome: Literal["completed", "cancelled"] = (
                "completed" if values["outcome"] == "completed" else "cancelled"
            )
            agreements.settle_dispute(settings, user, agreement, outcome, values["reason"], session=session)

    try:
        await run(request, save)
    except NotFound:
        raise
    except DomainError as exc:
        fields = {f"{action}_{name}" if name == "reason" else name: m for name, m in exc.fields.items()}
        return await _detail_page(
            request,
            user,
            agreement_id,
            errors=fields,
            values=values,
            message=None if fields else exc.message,
            status_code=http_status(exc),
        )
    return RedirectResponse(f"/me/agreements/{agreement_id}?done={action}", status_code=303)


# --- documents for other nodes ------------------------------------------------------------------------


async def signed_key_owner(request: Request) -> str | Response:
    """The actor whose key signed this GET (verified), or the 400/401 answer to send."""
    try:
        key = await signer_key(request, unsigned="This document needs a signed request.")
    except InboxError as exc:
        return refusal(exc)
    if key.owner is None:
        return refusal(KeyUnavailable("Unknown signature key."))
    return key.owner


async def _signed_document(request: Request, load: Any) -> Response:
    owner = await signed_key_owner(request)
    if isinstance(owner, Response):
        owner.headers["Vary"] = "Accept"
        return owner
    document = await run(request, load, node_of(request).settings, owner)
    if document is None:
        return json_error(404, "not_found", "No such document.", headers={"Vary": "Accept"})
    return activity_json(document, vary=True)


async def agreement_document(request: Request) -> Response:
    """``GET /agreements/{uuid}``: the document for parties' nodes, or the page for a browser."""
    settings = node_of(request).settings
    ap_id = settings.url(f"/agreements/{request.path_params['uuid']}")
    if wants_activity_json(request.headers.get("accept", "")):
        return await _signed_document(
            request, lambda s, st, owner: agreement_sync.agreement_document_for(st, ap_id, owner, session=s)
        )
    return await _redirect_for(request)


@login_required
async def _redirect_for(request: Request, user: User) -> Response:
    """A browser asking for an agreement held here: its page, for a party."""
    settings = node_of(request).settings
    ap_id = settings.url(f"/agreements/{request.path_params['uuid']}")

    def find(session: Session) -> int:
        found = agreement_sync.find_agreement(ap_id, session=session)
        if found is None or found.id is None:
            raise NotFound(MSG_NO_SUCH_AGREEMENT)
        return agreement_for(settings, user, found.id, session=session).id or 0

    response = RedirectResponse(f"/me/agreements/{await run(request, find)}", status_code=303)
    response.headers["Vary"] = "Accept"
    return response


async def contact_document(request: Request) -> Response:
    """``GET /agreement-contacts/{id}``: contact details, to the other party's node only."""
    contact_id = int(request.path_params["contact_id"])
    return await _signed_document(
        request,
        lambda s, st, owner: agreement_contacts.contact_document_for(st, contact_id, owner, session=s),
    )


def routes() -> list[Route]:
    return [
        Route("/me/agreements", my_agreements, name="my_agreements"),
        Route("/me/agreements/{agreement_id:int}", agreement_page, name="agreement"),
        Route(
            "/me/agreements/{agreement_id:int}/{action:str}",
            agreement_action,
            methods=["POST"],
            name="agreement_action",
        ),
        Route("/agreements/{uuid:str}", agreement_document, name="agreement_document"),
        Route("/agreement-contacts/{contact_id:int}", contact_document, name="agreement_contact"),
    ]
