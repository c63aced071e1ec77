"""Notification pages: what a person wants by e-mail (per topic), the unsubscribe links of the e-mails
(which work without logging in), and the Web Push subscriptions of their browsers (JSON, from
``static/push.js``)."""

from __future__ import annotations

import hmac
import json
from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from node.accounts.models import User
from node.core import mail
from node.core.errors import N_, DomainError, http_status
from node.emails import preferences, push
from node.http.runtime import csrf_token, form_with_csrf, login_required, node_of, render, run, text


async def _page(request: Request, user: User, *, saved: bool = False, status_code: int = 200) -> Response:
    chosen = await run(request, lambda session: preferences.preferences_of(user.pk, session=session))
    return await render(
        request,
        "email_settings.html",
        {
            "mail_on": mail.enabled(node_of(request).settings),
            "has_email": bool(user.email),
            "topics": [
                (topic.value, preferences.TOPIC_LABELS[topic], chosen.frequency(topic).value)
                for topic in preferences.Topic
            ],
            "frequencies": [(f.value, label) for f, label in preferences.FREQUENCY_LABELS.items()],
            "saved": saved,
        },
        status_code=status_code,
    )


@login_required
async def email_settings(request: Request, user: User) -> Response:
    if request.method == "GET":
        return await _page(request, user, saved=request.query_params.get("saved") == "1")
    form = await form_with_csrf(request)
    choices = {
        topic.value: text(form, topic.value, 20) for topic in preferences.Topic if form.get(topic.value)
    }

    def save(session: Session) -> None:
        preferences.choose(user, choices, session=session)

    try:
        await run(request, save)
    except DomainError as exc:
        return await _page(request, user, status_code=http_status(exc))
    return RedirectResponse("/settings/notifications?saved=1", status_code=303)


async def unsubscribe(request: Request) -> Response:
    """GET asks to confirm (link checkers must not unsubscribe anyone); POST stops the e-mails, also as
    the one-click unsubscribe of RFC 8058 that mail clients send. The signed link is the authority:
    no login, no CSRF token."""
    settings = node_of(request).settings
    user_id, topic = int(request.path_params["user_id"]), str(request.path_params["topic"])
    signature = str(request.path_params["signature"])
    valid = preferences.check_unsubscribe(settings, user_id, topic, signature)
    known = topic in preferences.Topic._value2member_map_
    label = preferences.TOPIC_LABELS.get(preferences.Topic(topic)) if known else None
    context: dict[str, object] = {"valid": valid, "label": label, "action": request.url.path}
    if request.method == "GET" or not valid:
        return await render(request, "email_unsubscribe.html", context, status_code=200 if valid else 404)
    try:
        await run(
            request,
            lambda session: preferences.unsubscribe(settings, user_id, topic, signature, session=session),
        )
    except DomainError:
        return await render(request, "email_unsubscribe.html", {**context, "valid": False}, status_code=404)
    return await render(request, "email_unsubscribe.html", {**context, "done": True})


async def push_key(request: Request) -> Response:
    """The node's VAPID public key (``applicationServerKey``), for the page that subscribes."""
    return JSONResponse({"publicKey": push.public_key(node_of(request).settings)})


async def _push_json(request: Request) -> Any:
    """The JSON body of a push request, once the CSRF token (header ``X-CSRF-Token``) is checked."""
    sent = request.headers.get("x-csrf-token", "")
    if not hmac.compare_digest(sent.encode(), csrf_token(request).encode()):
        raise HTTPException(
            403, N_("The form expired or did not come from this site. Reload the page and try again.")
        )
    try:
        return json.loads(await request.body())
    except ValueError:
        raise HTTPException(400, push.MSG_BAD_SUBSCRIPTION) from None


@login_required
async def push_subscribe(request: Request, user: User) -> Response:
    """Keep this browser's push subscription (``PushSubscription.toJSON()``)."""
    data = await _push_json(request)
    settings = node_of(request).settings
    await run(request, lambda session: push.subscribe(settings, user, data, session=session))
    return JSONResponse({"subscribed": True}, status_code=201)


@login_required
async def push_unsubscribe(request: Request, user: User) -> Response:
    data = await _push_json(request)
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str):
        raise HTTPException(400, push.MSG_BAD_SUBSCRIPTION)
    await run(request, lambda session: push.unsubscribe(user, endpoint, session=session))
    return JSONResponse({"subscribed": False})


def routes() -> list[Route]:
    return [
        Route("/push/key", push_key, name="push_key"),
        Route("/push/subscriptions", push_subscribe, methods=["POST"], name="push_subscribe"),
        Route("/push/subscriptions/delete", push_unsubscribe, methods=["POST"], name="push_unsubscribe"),
        Route("/settings/notifications", email_settings, methods=["GET", "POST"], name="email_settings"),
        Route(
            "/mail/unsubscribe/{user_id:int}/{topic}/{signature}",
            unsubscribe,
            methods=["GET", "POST"],
            name="mail_unsubscribe",
        ),
    ]
