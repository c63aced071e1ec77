"""The providers' telemanagement pages, made for a phone:

- ``/me/visits``: my visits of the day (``?day=``), each with the address and door code of the home,
  and the check-in / check-out form: the code printed under the home's QR code, or clocking by hand with
  a reason; the secret URL of my calendar feed, and a button that replaces it;
- ``/me/remote-visits/{id}/clock``: the check-in / check-out of a visit another node holds and gave me
  (listed on my day, marked with that node's name), sent to that node only;
- ``/me/visits/{id}/note``: my note on one of my visits (text and an optional health observation),
  sealed, read by me and the coordinators only;
- ``/home/{token}``: what a phone's camera opens when it reads a home's QR code: my visits there today,
  with one big button to check in or out;
- ``/calendar/{token}.ics``: my visits as an iCalendar feed (no login: the URL is the secret).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts.models import User
from node.core.errors import DomainError, PermissionDenied, ValidationFailed, http_status
from node.groups.colleagues import colleagues_of
from node.http.pages.telemanagement import labels
from node.http.runtime import checkbox, form_with_csrf, login_required, node_of, render, run, text
from node.telemanagement import applications, clocking, door, feeds, notes, remote_visits, visits


def _day(request: Request) -> date:
    try:
        return date.fromisoformat(request.query_params.get("day", ""))
    except ValueError:
        return visits.today()


async def _day_page(request: Request, user: User, day: date, **form: Any) -> Response:
    settings = node_of(request).settings

    def load(s: Any) -> dict[str, Any]:
        return {
            "doors": clocking.provider_day(s, settings, user, day),
            "remote_doors": remote_visits.provider_day(s, user, day),
            "feed": feeds.feed_url(s, settings, user),
            "offers": applications.offers(s, user, colleagues_of),
            "waiting_mine": applications.waiting_for(s, user),
        }

    context = await run(request, load)
    return await render(
        request,
        "telemanagement/day.html",
        {
            **context,
            **labels.ALL,
            "day": day,
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "is_today": day == visits.today(),
            "day_start": visits.day_bounds(day)[0],
            "done": request.query_params.get("done"),
            "errors": form.get("errors") or {},
            "message": form.get("message"),
            "failed_visit": form.get("visit_id"),
            "position_check": settings.telemanagement_position_check,
        },
        status_code=form.get("status_code", 200),
    )


@login_required
async def my_day(request: Request, user: User) -> Response:
    return await _day_page(request, user, _day(request))


@login_required
async def clock(request: Request, user: User) -> Response:
    """A check-in or check-out, then back to where it was made (the day or the home's page)."""
    visit_id: int = request.path_params["visit_id"]
    settings = node_of(request).settings

    def save(s: Any, f: dict[str, Any]) -> None:
        clocking.clock(s, settings, user, visit_id, f["kind"], token=f["token"], manual_reason=f["reason"],
                       pin=f["pin"], at=f["at"], offline=f["offline"], client_id=f["client_id"],
                       position=f["position"])  # fmt: skip

    return await _clocked(request, user, visit_id, save)


@login_required
async def clock_remote(request: Request, user: User) -> Response:
    """A check-in or check-out of a visit another node holds: sent to that node only, then back to the
    day (the same form and offline queue as our own visits)."""
    remote_id: int = request.path_params["remote_id"]
    settings = node_of(request).settings

    def send(s: Any, f: dict[str, Any]) -> None:
        remote_visits.clock(s, settings, user, remote_id, f["kind"], token=f["token"], pin=f["pin"],
                            manual_reason=f["reason"], at=f["at"], offline=f["offline"],
                            client_id=f["client_id"])  # fmt: skip

    return await _clocked(request, user, f"r{remote_id}", send)


async def _clocked(
    request: Request, user: User, failed: int | str, act: Callable[[Any, dict[str, Any]], None]
) -> Response:
    if request.method == "GET":
        return RedirectResponse("/me/visits", status_code=303)
    form = await form_with_csrf(request)
    fields: dict[str, Any] = {
        "kind": text(form, "kind", 10),
        "token": text(form, "token", 200),
        "reason": text(form, "manual_reason", 30),
        "pin": text(form, "pin", 12),
        "client_id": text(form, "client_id", 64) or None,
        "offline": checkbox(form, "offline"),
    }
    back = text(form, "back", 200)
    try:
        fields["at"], fields["position"] = _sent_time(text(form, "at", 40)), _position(form)
        await run(request, lambda s: act(s, fields))
    except DomainError as exc:
        return await _day_page(
            request,
            user,
            visits.today(),
            errors=exc.fields,
            message=exc.message,
            visit_id=failed,
            status_code=http_status(exc),
        )
    target = back if back.startswith("/home/") else "/me/visits"
    return RedirectResponse(f"{target}?done={'in' if fields['kind'] == 'in' else 'out'}", status_code=303)


async def _note_page(request: Request, user: User, visit_id: int, **form: Any) -> Response:
    settings = node_of(request).settings

    def load(s: Any) -> dict[str, Any]:
        visit = visits.visit_of(s, visit_id)
        if visit.provider_id != user.id:
            raise PermissionDenied(notes.MSG_NOT_YOURS)
        return {"visit": visit, "note": notes.read(s, settings, user, visit_id)}

    try:
        context = await run(request, load)
    except DomainError as exc:
        raise HTTPException(http_status(exc), exc.message) from None
    return await render(
        request,
        "telemanagement/note.html",
        {
            **context,
            "done": request.query_params.get("done"),
            "errors": form.get("errors") or {},
            "values": form.get("values") or {},
            "message": form.get("message"),
        },
        status_code=form.get("status_code", 200),
    )


@login_required
async def note(request: Request, user: User) -> Response:
    """The provider's note on one of their visits: the form (GET) and its saving (POST)."""
    visit_id: int = request.path_params["visit_id"]
    if request.method == "GET":
        return await _note_page(request, user, visit_id)
    form = await form_with_csrf(request)
    values = {"text": text(form, "text", 5000), "health": text(form, "health", 5000)}
    settings = node_of(request).settings
    try:
        await run(
            request, lambda s: notes.write(s, settings, user, visit_id, values["text"], values["health"])
        )
    except DomainError as exc:
        if not exc.fields:
            raise HTTPException(http_status(exc), exc.message) from None
        return await _note_page(
            request,
            user,
            visit_id,
            errors=exc.fields,
            values=values,
            message=exc.message,
            status_code=http_status(exc),
        )
    return RedirectResponse(f"/me/visits/{visit_id}/note?done=saved", status_code=303)


def _sent_time(value: str) -> datetime | None:
    """The phone's time of an event it kept (ISO 8601 with its offset), or none: now."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationFailed(clocking.MSG_TIME, fields={"at": clocking.MSG_TIME})
    return moment


def _position(form: FormData) -> tuple[float, float] | None:
    """The phone's position at clock time, when it sent one (never stored: compared, then dropped)."""
    lat, lon = text(form, "latitude", 30), text(form, "longitude", 30)
    if not (lat and lon):
        return None
    try:
        return float(lat), float(lon)
    except ValueError:
        raise ValidationFailed(door.MSG_POSITION, fields={"position": door.MSG_POSITION}) from None


@login_required
async def home(request: Request, user: User) -> Response:
    settings = node_of(request).settings
    token: str = request.path_params["token"]
    try:
        place, doors = await run(request, lambda s: clocking.at_home(s, settings, user, token))
    except DomainError as exc:
        raise HTTPException(http_status(exc) if http_status(exc) != 422 else 404, exc.message) from None
    return await render(
        request,
        "telemanagement/home.html",
        {
            "home": place,
            "doors": doors,
            "token": token,
            "position_check": settings.telemanagement_position_check,
            **labels.ALL,
            "done": request.query_params.get("done"),
        },
    )


@login_required
async def new_feed(request: Request, user: User) -> Response:
    if request.method == "POST":
        await form_with_csrf(request)
        settings = node_of(request).settings
        await run(request, lambda s: feeds.regenerate(s, settings, user))
        return RedirectResponse("/me/visits?done=feed#feed", status_code=303)
    return RedirectResponse("/me/visits#feed", status_code=303)


async def calendar(request: Request) -> Response:
    settings = node_of(request).settings
    token: str = request.path_params["token"]
    try:
        body = await run(request, lambda s: feeds.calendar(s, settings, token))
    except DomainError as exc:
        raise HTTPException(http_status(exc), exc.message) from None
    return Response(
        body, media_type="text/calendar; charset=utf-8", headers={"Cache-Control": "private, max-age=300"}
    )


def routes() -> list[Route]:
    return [
        Route("/me/visits", my_day, name="my_visits"),
        Route("/me/visits/feed", new_feed, methods=["GET", "POST"]),
        Route("/me/visits/{visit_id:int}/clock", clock, methods=["GET", "POST"]),
        Route("/me/visits/{visit_id:int}/note", note, methods=["GET", "POST"]),
        Route("/me/remote-visits/{remote_id:int}/clock", clock_remote, methods=["GET", "POST"]),
        Route("/home/{token}", home, name="home_code"),
        Route("/calendar/{token}.ics", calendar, name="calendar_feed"),
    ]
