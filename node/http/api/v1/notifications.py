"""API operations on the caller's notifications: list them, mark them all read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.http.api.framework import Operation, operation
from node.http.pages.notifications import lines_for
from node.http.runtime import gettext_for, node_of, run
from node.market import notifications

MAX_LIMIT = 200


class NotificationOut(BaseModel):
    id: int
    kind: str
    label: str = Field(description="What happened, in the caller's language")
    url: str | None = Field(description="Where it leads: a path on this node, or another node's URL")
    actor: str | None
    actor_name: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationList(BaseModel):
    unread: int
    items: list[NotificationOut]


class MarkedRead(BaseModel):
    marked: int


def _limit(raw: str | None) -> int:
    if raw is None or not raw.isdigit():
        return 50
    return max(1, min(MAX_LIMIT, int(raw[:4])))


@operation(
    "GET",
    "/notifications",
    summary="The caller's notifications, newest first",
    tag="notifications",
    response=NotificationList,
    query={
        "unread": {"description": "true: only unread ones", "schema": {"type": "boolean"}},
        "limit": {
            "description": f"How many (1 to {MAX_LIMIT}, 50 by default)",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        },
    },
)
async def list_notifications(request: Request, caller: User, _body: None) -> NotificationList:
    settings = node_of(request).settings
    translate = gettext_for(request, caller)
    unread_only = request.query_params.get("unread", "").lower() in ("true", "1", "yes")
    limit = _limit(request.query_params.get("limit"))

    def load(session: Session) -> NotificationList:
        lines = lines_for(session, settings, caller.pk, limit=limit, unread_only=unread_only)
        return NotificationList(
            unread=notifications.unread_count(caller.pk, session=session),
            items=[
                NotificationOut(
                    id=line.id,
                    kind=line.kind,
                    label=translate(line.label),
                    url=line.url,
                    actor=line.actor_uri,
                    actor_name=line.actor_name,
                    data=line.data,
                    created_at=line.created_at,
                    read_at=line.read_at,
                )
                for line in lines
            ],
        )

    return await run(request, load)


@operation(
    "POST",
    "/notifications/read",
    summary="Mark all the caller's notifications as read",
    tag="notifications",
    response=MarkedRead,
)
async def mark_notifications_read(request: Request, caller: User, _body: None) -> MarkedRead:
    return MarkedRead(
        marked=await run(request, lambda session: notifications.mark_all_read(caller.pk, session=session))
    )


def operations() -> list[Operation]:
    """The operations of this resource, in the order they are served."""
    return [list_notifications, mark_notifications_read]
