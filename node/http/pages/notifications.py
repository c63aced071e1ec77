"""The notifications page (list, mark all read); the unread counter shown in the menu is read with the
person's session (:func:`node.http.runtime.current_user`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts import people
from node.accounts.models import User
from node.activitypub import addressing
from node.activitypub.actors import local
from node.http.runtime import (
    form_with_csrf,
    login_required,
    node_of,
    notifications_seen,
    render,
    run,
    run_writing,
)
from node.market import notifications
from node.market.models import Notification
from node.settings import Settings

PAGE_LIMIT = 100


@dataclass(frozen=True)
class NotificationLine:
    """One notification as the page and the API show it."""

    id: int
    kind: str
    label: str  # English message id
    url: str | None
    actor_uri: str | None
    actor_name: str
    created_at: datetime
    read_at: datetime | None
    data: dict[str, Any]


def link_of(settings: Settings, row: Notification, data: dict[str, Any]) -> str | None:
    """Where a notification leads: the local page its service gave (``data["href"]``, a path), else
    its object — on this node as a path, elsewhere as it is."""
    for key in ("href", "url"):
        given = data.get(key)
        if isinstance(given, str) and given.startswith("/") and not given.startswith("//"):
            return given
    uri = row.object_uri
    if not uri:
        return None
    if local.is_local(settings, uri):
        path = uri[len(addressing.origin(uri)) :]
        return path or "/"
    return uri if uri.startswith(("https://", "http://")) else None


def _label(kind: str) -> str:
    for known, label in notifications.LABELS.items():
        if known.value == kind:
            return label
    return kind


def _actor_names(session: Session, settings: Settings, uris: set[str]) -> dict[str, str]:
    found = people.describe(settings, sorted(uris), session=session)
    return {uri: person.label for uri, person in found.items() if person.known or person.local}


def lines_for(
    session: Session, settings: Settings, user_id: int, *, limit: int = PAGE_LIMIT, unread_only: bool = False
) -> list[NotificationLine]:
    """The latest notifications of a person, newest first, with their links and actors' names."""
    rows = notifications.list_for(user_id, limit=limit, unread_only=unread_only, session=session)
    names = _actor_names(session, settings, {row.actor_uri for row in rows if row.actor_uri})
    lines = []
    for row in rows:
        assert row.id is not None
        try:
            data = notifications.payload(row)
        except ValueError:
            data = {}
        lines.append(
            NotificationLine(
                id=row.id,
                kind=row.kind,
                label=_label(row.kind),
                url=link_of(settings, row, data),
                actor_uri=row.actor_uri,
                actor_name=names.get(row.actor_uri or "", row.actor_uri or ""),
                created_at=row.created_at,
                read_at=row.read_at,
                data=data,
            )
        )
    return lines


@login_required
async def notifications_page(request: Request, user: User) -> Response:
    settings = node_of(request).settings
    lines = await run(request, lines_for, settings, user.pk)
    unread = sum(1 for line in lines if line.read_at is None)
    if unread:  # seen: the counter in the menu clears, the page still marks them "New" this once
        await run_writing(request, lambda session: notifications.mark_all_read(user.pk, session=session))
        notifications_seen(request)
    return await render(
        request,
        "notifications/list.html",
        {
            "lines": lines,
            "unread": unread,
            "done": request.query_params.get("done"),
        },
    )


@login_required
async def mark_read(request: Request, user: User) -> Response:
    await form_with_csrf(request)
    await run(request, lambda session: notifications.mark_all_read(user.pk, session=session))
    return RedirectResponse("/notifications?done=read", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/notifications", notifications_page, name="notifications"),
        Route("/notifications/read", mark_read, methods=["POST"], name="notifications_read"),
    ]
