"""Confirmation before a consequential action (withdrawing a listing, accepting an answer, which declines
the others, suspending a member, unfollowing someone).

The form of such an action carries ``data-confirm``: with JavaScript, ``static/confirm.js`` asks in a
native ``<dialog>`` and, once confirmed, sends the form with ``confirmed=1``. Without JavaScript the form
arrives unconfirmed, and :func:`ask` answers with a page that asks the same question and sends the same
fields again, confirmed. Either way, the handler acts only on a confirmed form."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from node.http.runtime import CSRF_FIELD, render

CONFIRMED = "confirmed"


async def ask(
    request: Request,
    form: FormData,
    *,
    question: str,
    button: str,
    back: str,
    preview: str = "",
    context: dict[str, Any] | None = None,
) -> Response | None:
    """``None`` when ``form`` is confirmed, else the page asking to confirm it (``question`` and
    ``button`` are message ids; ``back`` is where "Cancel" leads). ``preview``, a template rendered
    with ``context``, says under the question what the action would do."""
    if form.get(CONFIRMED) == "1":
        return None
    fields = [
        (name, value)
        for name, value in form.multi_items()
        if isinstance(value, str) and name not in (CSRF_FIELD, CONFIRMED)
    ]
    safe_back = back if back.startswith("/") and not back.startswith("//") else "/"
    return await render(
        request,
        "confirm.html",
        {
            **(context or {}),
            "question": question,
            "button": button,
            "fields": fields,
            "back": safe_back,
            "preview": preview,
        },
    )
