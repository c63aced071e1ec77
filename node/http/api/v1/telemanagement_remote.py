"""API operations of visits across nodes: a coordinator gives a visit to a provider of another node
(by actor), or every coming visit of a series to a provider of this node or another; a provider clocks a
visit that another node holds (the event is sent to that node only)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict
from node.http.api.v1.telemanagement import TAG, answer, offset_given
from node.http.runtime import node_of, run
from node.telemanagement import federation, given, given_series


class RemoteProviderIn(Strict):
    actor: str = Field(min_length=8, max_length=2048, description="The provider's actor on another node")


class RemoteProviderOut(BaseModel):
    visit_id: int
    actor: str
    visit: str = Field(description="This node's address of the visit, that the provider's events name")


class SeriesProviderIn(Strict):
    provider: str = Field(
        min_length=1,
        max_length=2048,
        description="A username of this node, or the address of a provider's actor on another node",
    )
    from_day: date | None = Field(default=None, description="The first day given (Paris); default: today")


class SeriesProviderOut(BaseModel):
    series_id: int
    given: list[int] = Field(description="The visits given, soonest first")
    left: dict[str, int] = Field(
        description="How many visits stayed where they were, by why: past, clocked, cancelled, locked"
    )


class RemoteClockIn(Strict):
    holder: str = Field(min_length=8, max_length=2048, description="The actor of the node holding the visit")
    visit: str = Field(min_length=8, max_length=2048, description="That node's address of the visit")
    kind: Literal["in", "out"]
    token: str = Field(default="", max_length=100, description="The home's code, read at the door")
    pin: str = Field(default="", max_length=6, description="The home's PIN")
    manual_reason: Literal["", "qr_missing", "qr_damaged", "camera_broken", "no_network", "other"] = ""
    at: datetime | None = Field(default=None, description="The phone's time of the event; default: now")
    offline: bool = False


class RemoteClockOut(BaseModel):
    id: str = Field(description="The EconomicEvent's id")
    visit: str
    kind: str
    at: datetime
    method: str


@operation(
    "POST",
    "/visits/{visit_id:int}/remote-provider",
    summary="Give a planned visit to a provider of another node (coordinators)",
    tag=TAG,
    auth="coordinator",
    body=RemoteProviderIn,
    response=RemoteProviderOut,
)
async def give_to_remote(request: Request, caller: User, body: RemoteProviderIn) -> RemoteProviderOut:
    visit_id: int = request.path_params["visit_id"]
    settings = node_of(request).settings

    def save(s: Session) -> RemoteProviderOut:
        row = given.give_to_remote(s, settings, caller, visit_id, body.actor)
        return RemoteProviderOut(
            visit_id=visit_id, actor=row.actor_uri, visit=federation.visit_uri(settings, visit_id)
        )

    return await run(request, save)


@operation(
    "POST",
    "/series/{series_id:int}/provider",
    summary="Give every coming visit of a series, from a day on, to one provider of this node or another "
    "(coordinators)",
    tag=TAG,
    auth="coordinator",
    body=SeriesProviderIn,
    response=SeriesProviderOut,
)
async def give_series(request: Request, caller: User, body: SeriesProviderIn) -> SeriesProviderOut:
    series_id: int = request.path_params["series_id"]
    settings = node_of(request).settings
    first = body.from_day.isoformat() if body.from_day else ""

    def save(s: Session) -> SeriesProviderOut:
        done = given_series.give_series(
            s, settings, caller, series_id, provider=body.provider, from_day=first
        )
        return SeriesProviderOut(series_id=series_id, given=done.given, left=done.left)

    return await run(request, save)


@operation(
    "POST",
    "/remote-clock-events",
    summary="Check in or out of a visit that another node holds (sent to that node only)",
    tag=TAG,
    body=RemoteClockIn,
    response=RemoteClockOut,
    status=202,
)
async def clock_remote(request: Request, caller: User, body: RemoteClockIn) -> RemoteClockOut:
    settings = node_of(request).settings
    offset_given(body.at)

    def send(s: Session) -> RemoteClockOut:
        clock = federation.send_clock(
            s,
            settings,
            caller,
            holder=body.holder,
            visit=body.visit,
            kind=body.kind,
            token=body.token,
            pin=body.pin,
            manual_reason=body.manual_reason,
            at=body.at,
            offline=body.offline,
        )
        return answer(RemoteClockOut, clock, visit=clock.fulfills)

    return await run(request, send)


def operations() -> list[Operation]:
    return [give_to_remote, give_series, clock_remote]
