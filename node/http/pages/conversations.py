"""Conversation pages (the list with unread counts, a thread, writing to someone), blocks, reports, and
the coordinators' moderation queue. Every form's URL also answers GET (a reload never gives 405)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts import blocks, people
from node.accounts.models import User
from node.activitypub.actors import local
from node.conversations import messages, reports
from node.core.errors import N_, DomainError, Throttled, ValidationFailed, http_status
from node.http.pages.follows import remote_actor
from node.http.runtime import (
    checkbox,
    coordinator_required,
    form_with_csrf,
    login_required,
    node_of,
    render,
    run,
    text,
)
from node.market.proposals import records as proposals


def _names(session: Session, request: Request, uris: list[str]) -> dict[str, Any]:
    return dict(people.describe(node_of(request).settings, uris, session=session))


async def _page_list(request: Request, user: User) -> Response:
    def load(session: Session) -> dict[str, Any]:
        summaries = messages.conversations_of(user.pk, session=session)
        uris = sorted({uri for s in summaries for uri in s.others})
        return {"summaries": summaries, "people": _names(session, request, uris)}

    return await render(request, "conversations/list.html", await run(request, load))


@login_required
async def conversation_list(request: Request, user: User) -> Response:
    return await _page_list(request, user)


async def _new_form(
    request: Request, user: User, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    about = values.get("about", "")
    title = ""
    if about:
        found = await run(request, lambda s: proposals.get_by_ap_id(about, session=s))
        title = found.title if found is not None else ""
    return await render(
        request,
        "conversations/new.html",
        {"values": values, "errors": errors, "about_title": title},
        status_code=status,
    )


@login_required
async def new_conversation(request: Request, user: User) -> Response:
    """GET: the form (``?to=`` a person, ``?about=`` a proposal); POST: write."""
    if request.method == "GET":
        values = {k: request.query_params.get(k, "")[:2048] for k in ("to", "about")}
        return await _new_form(request, user, values, {})
    form = await form_with_csrf(request)
    values = {
        "to": text(form, "to", 500),
        "about": text(form, "about", 2048),
        "text": text(form, "text", 10_000),
    }
    settings = node_of(request).settings
    try:
        if not values["to"]:
            raise ValidationFailed(messages.MSG_NO_RECIPIENT, fields={"to": messages.MSG_NO_RECIPIENT})
        actor = await remote_actor(request, values["to"])
        about = values["about"] or None

        def save(session: Session) -> int:
            subject = proposals.get_by_ap_id(about, session=session) if about else None
            conversation, _ = messages.start(
                settings,
                user,
                [actor.uri],
                values["text"],
                subject_uri=subject.ap_id if subject else None,
                subject_title=subject.title if subject else "",
                session=session,
            )
            assert conversation.id is not None
            return conversation.id

        conversation_id = await run(request, save)
    except Throttled:
        raise
    except DomainError as exc:
        return await _new_form(request, user, values, exc.fields or {"to": exc.message}, http_status(exc))
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)


@login_required
async def conversation_thread(request: Request, user: User) -> Response:
    """GET: the thread (marked read); POST: answer in it."""
    conversation_id = int(request.path_params["conversation_id"])
    settings = node_of(request).settings
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = await form_with_csrf(request)
        values = {"text": text(form, "text", 10_000)}
        try:
            await run(
                request, lambda s: messages.reply(settings, user, conversation_id, values["text"], session=s)
            )
            return RedirectResponse(f"/conversations/{conversation_id}#latest", status_code=303)
        except Throttled:
            raise
        except DomainError as exc:
            errors, status = exc.fields or {"text": exc.message}, http_status(exc)

    def load(session: Session) -> dict[str, Any]:
        conversation, members, shown = messages.thread(settings, user.pk, conversation_id, session=session)
        others = [m.actor_uri for m in members if m.user_id != user.pk]
        blocked = {uri for uri in others if blocks.is_blocked(user.pk, uri, session=session)}
        names = _names(session, request, [*others, *(s.message.author_uri for s in shown)])
        return {
            "conversation": conversation,
            "others": others,
            "shown": shown,
            "people": names,
            "blocked": blocked,
        }

    context = await run(request, load)
    return await render(
        request,
        "conversations/thread.html",
        {**context, "values": values, "errors": errors},
        status_code=status,
    )


@login_required
async def block_page(request: Request, user: User) -> Response:
    """GET: who the person blocks; POST: block or unblock (``action``) an actor."""
    settings = node_of(request).settings
    if request.method == "POST":
        form = await form_with_csrf(request)
        actor, back = text(form, "actor", 2048), text(form, "back", 300)
        own = local.person(settings, user).uri
        if text(form, "action", 10) == "unblock":
            await run(request, lambda s: blocks.unblock(user.pk, actor, session=s))
        else:
            await run(request, lambda s: blocks.block(user.pk, own, actor, session=s))
        target = back if back.startswith("/") and not back.startswith("//") else "/blocks"
        return RedirectResponse(target, status_code=303)

    def load(session: Session) -> dict[str, Any]:
        rows = blocks.blocked_by(user.pk, session=session)
        return {"rows": rows, "people": _names(session, request, [r.blocked_uri for r in rows])}

    return await render(request, "conversations/blocks.html", await run(request, load))


@login_required
async def report_page(request: Request, user: User) -> Response:
    """GET: the report form (``?target=`` what is reported); POST: file it."""
    settings = node_of(request).settings
    if request.method == "GET":
        values = {"target": request.query_params.get("target", "")[:2048], "reason": "other"}
        return await render(
            request, "conversations/report.html", {"values": values, "errors": {}, "reasons": reports.REASONS}
        )
    form = await form_with_csrf(request)
    values = {
        "target": text(form, "target", 2048),
        "reason": text(form, "reason", 20),
        "comment": text(form, "comment", 2000),
    }
    try:
        await run(
            request,
            lambda s: reports.file_report(
                settings,
                user,
                [values["target"]],
                values["reason"],
                values["comment"],
                forward=checkbox(form, "forward"),
                session=s,
            ),
        )
    except Throttled:
        raise
    except DomainError as exc:
        return await render(
            request,
            "conversations/report.html",
            {"values": values, "errors": exc.fields or {"comment": exc.message}, "reasons": reports.REASONS},
            status_code=http_status(exc),
        )
    return await render(
        request,
        "conversations/report.html",
        {"values": {}, "errors": {}, "reasons": reports.REASONS, "done": True},
    )


@coordinator_required
async def moderation_queue(request: Request, user: User) -> Response:
    """GET: the open reports; POST (``/moderation/reports/{id}``): a decision."""
    settings = node_of(request).settings
    notice = ""
    if request.method == "POST":
        form = await form_with_csrf(request)
        report_id = int(request.path_params["report_id"])
        await run(
            request,
            lambda s: reports.decide(
                settings,
                user,
                report_id,
                text(form, "action", 20),
                text(form, "target", 2048),
                text(form, "note", 2000),
                session=s,
            ),
        )
        return RedirectResponse("/moderation/reports?done=1", status_code=303)
    if request.query_params.get("done"):
        notice = N_("The decision is recorded.")

    def load(session: Session) -> dict[str, Any]:
        rows = reports.queue(user, session=session)
        items = [(row, reports.targets_of(row)) for row in rows]
        uris = [uri for _, targets in items for uri in targets] + [row.reporter_uri for row in rows]
        logged = reports.recent_decisions(user, session=session)
        uris += [row.sent_to for row in logged if row.sent_to]
        return {"items": items, "people": _names(session, request, uris), "decisions": logged}

    context = await run(request, load)
    return await render(
        request, "conversations/moderation.html", {**context, "notice": notice, "actions": reports.ACTIONS}
    )


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/conversations", conversation_list, name="conversations"),
        Route("/conversations/new", new_conversation, methods=both, name="conversation_new"),
        Route("/conversations/{conversation_id:int}", conversation_thread, methods=both, name="conversation"),
        Route("/blocks", block_page, methods=both, name="blocks"),
        Route("/reports/new", report_page, methods=both, name="report_new"),
        Route("/moderation/reports", moderation_queue, name="moderation"),
        Route(
            "/moderation/reports/{report_id:int}", moderation_queue, methods=both, name="moderation_decide"
        ),
    ]
