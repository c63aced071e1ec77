"""The living style page (``/style``, administrators only): every component macro of
``components.html`` rendered with sample data, so that a change of style is seen in one place and
tested in a browser."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from node.accounts.models import User
from node.accounts.people import Person
from node.core.errors import N_
from node.core.timeutil import utcnow
from node.http.pages.market import evaluations as evaluation_pages
from node.http.pages.market import proposals as proposal_pages
from node.http.runtime import language_of, login_required, node_of, render
from node.market.evaluations.reputation import Reputation
from node.market.models import Proposal

# One sample of each family of states (see the .badge.state-* rules of site.css).
STATES = (
    ("open", N_("Open")),
    ("active", N_("Waiting for your choice")),
    ("accepted", N_("Accepted")),
    ("withdrawn", N_("Withdrawn")),
    ("disputed", N_("Disputed")),
)


def _sample_card(request: Request, lang: str) -> dict[str, Any]:
    settings = node_of(request).settings
    now = utcnow()
    row = Proposal(
        id=0,
        ap_id=settings.url("/proposals/style-sample"),
        author_uri=settings.url("/users/amina"),
        purpose="offer",
        title="Repassage en soirée",
        category="housework",
        commune_name="Montreuil",
        postal_code="93100",
        quantity_hours=Decimal(2),
        price_amount=Decimal("18.50"),
        price_currency="EUR",
        price_basis="per_hour",
        published_at=now - timedelta(hours=3),
        bidding_deadline=now + timedelta(days=2),
    )
    item = proposal_pages.card(settings, row, lang)
    item["url"] = "#s-card"
    item["author"] = Person(row.author_uri, "Amina", "amina", f"amina@{settings.domain}", "#s-card")
    item["rating"] = _sample_rating()
    return item


def _sample_rating() -> evaluation_pages.ReputationView:
    return evaluation_pages.ReputationView(
        Reputation(mean=Decimal("4.5"), count=12, distribution={5: 7, 4: 4, 3: 1}, by_node={}, criteria={})
    )


@login_required
async def style_page(request: Request, user: User) -> Response:
    """``GET /style``."""
    if not user.is_admin:
        raise HTTPException(403, N_("This page is for administrators."))
    lang = language_of(request, user)
    return await render(
        request,
        "style.html",
        {"states": STATES, "sample_card": _sample_card(request, lang), "sample_rating": _sample_rating()},
    )


def routes() -> list[Route]:
    return [Route("/style", style_page, name="style")]
