"""``/me/suggestions``, "Suggestions pour vous": the demands a person could answer and the offers that
answer their demands, each with why it was suggested; and their matching settings (radius, alerts).
GET shows them; POST saves the settings (422 with the field named when the radius is bad)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts.models import User
from node.core.errors import ValidationFailed
from node.core.timeutil import utcnow
from node.http.pages.market.proposals import with_ratings
from node.http.runtime import checkbox, form_with_csrf, language_of, login_required, node_of, render, run
from node.search.matching import suggestions
from node.search.matching.scoring import reasons

PATH = "/me/suggestions"


def _cards(
    session: Session, settings: Any, items: list[suggestions.Suggestion], lang: str
) -> list[dict[str, Any]]:
    cards = with_ratings(session, settings, [item.proposal for item in items], lang)
    for card, item in zip(cards, items, strict=True):
        card["reasons"] = reasons(item.ranked.match, lang)
        card["answers"] = item.for_proposal.title if item.for_proposal is not None else ""
    return cards


def _radius(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return 0  # refused by the service with its message


@login_required
async def page(request: Request, user: User) -> Response:
    settings = node_of(request).settings
    lang = language_of(request, user)
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = await form_with_csrf(request)
        values = {"radius_km": str(form.get("radius_km") or "")[:10]}
        radius, alerts = _radius(values["radius_km"]), checkbox(form, "alerts")

        def save(session: Session) -> None:
            suggestions.update_settings(user, radius_km=radius, alerts=alerts, session=session)

        try:
            await run(request, save)
            return RedirectResponse(PATH + "?saved=1", status_code=303)
        except ValidationFailed as exc:
            errors, status = dict(exc.fields), 422

    def load(session: Session) -> dict[str, Any]:
        found = suggestions.for_person(settings, user, utcnow(), session=session)
        radius, alerts, own = suggestions.settings_of(settings, user, session=session)
        return {
            "demands": _cards(session, settings, found.demands, lang),
            "offers": _cards(session, settings, found.offers, lang),
            "alerts": alerts,
            "default_radius": settings.match_radius_km,
            "values": values or {"radius_km": str(radius) if own else ""},
        }

    context = await run(request, load)
    context.update(
        errors=errors, saved=request.query_params.get("saved"), offers_services=user.offers_services
    )
    return await render(request, "suggestions.html", context, status_code=status)


def routes() -> list[Route]:
    return [Route(PATH, page, methods=["GET", "POST"], name="suggestions")]
