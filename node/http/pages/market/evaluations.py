"""Evaluation pages: the form a party fills in after a completed agreement, the reputation block of
profiles, and the ActivityStreams side of evaluations (an actor's ``evaluations`` collection and each
published evaluation at its id)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts import actors as accounts_actors
from node.accounts import people
from node.accounts.models import User
from node.activitypub import addressing
from node.activitypub.actors import documents as actors
from node.activitypub.actors import local
from node.core.errors import N_, Conflict, NotFound, ValidationFailed, http_status
from node.core.timeutil import utcnow
from node.http.errors import json_error
from node.http.federation import actors as activitypub_routes
from node.http.runtime import form_with_csrf, login_required, node_of, render, run, text
from node.market.evaluations import service as evaluations
from node.market.evaluations.reputation import COMMENT_MAX, CRITERIA, CRITERIA_LABELS, Reputation, format_mean
from node.market.evaluations.service import EvaluationInput
from node.market.lifecycles import AgreementState, EvaluationState, evaluation_open
from node.market.models import Agreement, Evaluation
from node.settings import Settings

SCORE_LABELS: tuple[tuple[int, str], ...] = (
    (1, N_("Very poor")),
    (2, N_("Poor")),
    (3, N_("Fair")),
    (4, N_("Good")),
    (5, N_("Excellent")),
)
MAX_COMMENT_INPUT = 4 * COMMENT_MAX
COMMENTS_SHOWN = 10  # written comments shown under a reputation, newest first


# --- reputation ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReputationView:
    """A reputation as the ``evaluations/_reputation.html`` partial shows it."""

    reputation: Reputation

    @property
    def count(self) -> int:
        return self.reputation.count

    @property
    def nodes(self) -> int:
        return len(self.reputation.by_node)

    @property
    def stars(self) -> str:
        """The mean as five stars (rounded half-up to whole stars), for the eye only."""
        if self.reputation.mean is None:
            return ""
        full = int(self.reputation.mean.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return "★" * full + "☆" * (5 - full)

    def mean_text(self, lang: str) -> str:
        return format_mean(self.reputation.mean, lang)

    def criteria(self, lang: str) -> list[tuple[str, str]]:
        """``(label message id, mean)`` per criterion rated."""
        return [
            (CRITERIA_LABELS.get(name, name), format_mean(v, lang))
            for name, v in self.reputation.criteria.items()
        ]

    @property
    def distribution(self) -> list[tuple[int, int]]:
        """``(score, count)`` from 5 down to 1."""
        return sorted(self.reputation.distribution.items(), reverse=True)

    @property
    def by_node(self) -> list[tuple[str, int]]:
        return list(self.reputation.by_node.items())


def reputation_view(reputation: Reputation) -> ReputationView:
    return ReputationView(reputation)


def profile_context(session: Session, settings: Settings, person: User) -> dict[str, Any]:
    """What the profile page needs to show ``person``'s reputation (the ``reputation`` variable)."""
    uri = local.person(settings, person).uri
    return reputation_context(session, uri)


def reputation_context(session: Session, uri: str) -> dict[str, Any]:
    """The ``reputation`` of the actor ``uri`` and the latest written ``comments`` about them."""
    return {
        "reputation": ReputationView(evaluations.reputation_of(uri, session=session)),
        "comments": [
            row for row in evaluations.published_of(uri, session=session, limit=COMMENTS_SHOWN) if row.comment
        ],
    }


# --- the evaluation form -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    uri: str
    name: str
    handle: str


def _party(session: Session, settings: Settings, uri: str) -> Party:
    person = people.person(settings, uri, session=session)
    return Party(uri, person.label, person.handle)


def _evaluation_context(
    session: Session, settings: Settings, ref: str, user: User, now: datetime
) -> dict[str, Any]:
    agreement = evaluations.agreement_for_party(settings, ref, user, session=session)
    return evaluation_view(session, settings, agreement, local.person(settings, user).uri, now)


def evaluation_view(
    session: Session, settings: Settings, agreement: Agreement, me: str, now: datetime
) -> dict[str, Any]:
    """What the evaluation form shows to the party ``me`` (a person, or a group its coordinator acts
    for) of ``agreement``."""
    other_uri, other_role = evaluations.other_party(agreement, me)
    visible = evaluations.visible_to(agreement, me, session=session)
    mine = next((row for row in visible if row.evaluator_uri == me), None)
    theirs = next((row for row in visible if row.evaluator_uri == other_uri), None)
    completed = agreement.state == AgreementState.COMPLETED.value and agreement.completed_at is not None
    window_open = (
        completed and agreement.completed_at is not None and evaluation_open(agreement.completed_at, now)
    )
    return {
        "agreement": agreement,
        "ref": evaluations.agreement_ref(agreement),
        "other": _party(session, settings, other_uri),
        "other_role": other_role,
        "criteria": [(name, CRITERIA_LABELS[name]) for name in CRITERIA[other_role]],
        "mine": _shown(mine),
        "theirs": _shown(theirs),
        "completed": completed,
        "window_open": window_open,
        "can_evaluate": bool(window_open and mine is None),
        "reveal_date": evaluations.reveal_date(agreement),
    }


@dataclass(frozen=True)
class ShownEvaluation:
    overall: int
    criteria: list[tuple[str, int]]
    comment: str
    published: bool
    submitted_at: datetime


def _shown(row: Evaluation | None) -> ShownEvaluation | None:
    if row is None:
        return None
    scores = evaluations.criteria_of(row)
    return ShownEvaluation(
        overall=row.overall,
        criteria=[
            (CRITERIA_LABELS[name], scores[name]) for name in CRITERIA[row.evaluated_role] if name in scores
        ],
        comment=row.comment,
        published=row.state == EvaluationState.PUBLISHED.value,
        submitted_at=row.submitted_at,
    )


def _score(form: FormData, name: str) -> int | None:
    """A score field: None when left empty; anything else than 1–5 is kept out of range (0) so that the
    rules refuse it rather than drop it."""
    value = text(form, name, 10)
    if not value:
        return None
    return int(value) if value in ("1", "2", "3", "4", "5") else 0


def form_input(form: FormData, role: str) -> EvaluationInput:
    """The evaluation typed in ``form``, of a party in ``role``."""
    criteria = {name: _score(form, f"criteria.{name}") for name in CRITERIA.get(role, ())}
    return EvaluationInput(
        overall=_score(form, "overall"), criteria=criteria, comment=text(form, "comment", MAX_COMMENT_INPUT)
    )


async def _page(
    request: Request,
    user: User,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    settings = node_of(request).settings
    context = await run(request, _evaluation_context, settings, request.path_params["ref"], user, utcnow())
    return await render_form(
        request, context, values=values, errors=errors, message=message, status_code=status_code
    )


async def render_form(
    request: Request,
    context: dict[str, Any],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    """The evaluation form (``context`` from :func:`evaluation_view`, with ``form_action`` and
    ``back_url`` when a group evaluates), its values and its errors."""
    context.update(
        values=values or {},
        errors=errors or {},
        message=message,
        done=request.query_params.get("done"),
        comment_max=COMMENT_MAX,
        score_labels=SCORE_LABELS,
    )
    return await render(request, "evaluations/form.html", context, status_code=status_code)


@login_required
async def evaluate(request: Request, user: User) -> Response:
    """``/agreements/{ref}/evaluate``: the form (GET), the evaluation (POST)."""
    if request.method == "GET":
        return await _page(request, user)
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    ref = request.path_params["ref"]

    def save(session: Session) -> str:
        agreement = evaluations.agreement_for_party(settings, ref, user, session=session)
        _, role = evaluations.other_party(agreement, local.person(settings, user).uri)
        evaluations.submit(settings, user, agreement, form_input(form, role), session=session)
        return f"/agreements/{evaluations.agreement_ref(agreement)}/evaluate?done=1"

    return await post_evaluation(request, form, save, lambda **again: _page(request, user, **again))


async def post_evaluation(
    request: Request,
    form: FormData,
    save: Callable[[Session], str],
    page: Callable[..., Awaitable[Response]],
) -> Response:
    """Run ``save`` (it records the evaluation and says where to go then); when the rules refuse it,
    ``page`` again (``values``, ``errors``, ``message``, ``status_code``) with what was typed."""
    try:
        target = await run(request, save)
    except (ValidationFailed, Conflict) as exc:
        values = {k: v for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}
        errors = exc.fields if isinstance(exc, ValidationFailed) else {}
        return await page(
            values=values,
            errors=errors,
            message=None if errors else exc.message,
            status_code=http_status(exc),
        )
    return RedirectResponse(target, status_code=303)


# --- ActivityStreams ---------------------------------------------------------------------------------


def _collection(
    session: Session, settings: Settings, username: str, page: int | None
) -> dict[str, Any] | None:
    user = accounts_actors.active_person(username, session=session)
    if user is None:
        return None
    return evaluations_of(local.person(settings, user).uri, page, session=session)


def evaluations_of(uri: str, page: int | None, *, session: Session) -> dict[str, Any]:
    """The ``evaluations`` collection of the actor ``uri`` (a person's or a group's), or one of its pages."""
    collection_id = uri + "/evaluations"
    total = evaluations.count_published_of(uri, session=session)
    if page is None:
        return actors.collection_document(collection_id, total)
    offset = (page - 1) * actors.PAGE_SIZE
    rows = (
        []
        if offset >= total
        else evaluations.published_of(uri, offset=offset, limit=actors.PAGE_SIZE, session=session)
    )
    items = [evaluations.evaluation_document(row, public=True) for row in rows]
    return actors.collection_page_document(collection_id, page, total, items)


async def evaluations_collection(request: Request) -> Response:
    """``GET /users/{username}/evaluations``: the published evaluations of a person, paged."""
    refused = await activitypub_routes.signature_refusal(request)
    if refused is not None:
        return refused
    try:
        page = actors.parse_page(request.query_params.get("page"))
    except ValueError as exc:
        return json_error(400, "bad_request", str(exc))
    settings = node_of(request).settings
    document = await run(request, _collection, settings, request.path_params["username"], page)
    if document is None:
        return json_error(404, "not_found", "No such actor.")
    return activitypub_routes.activity_json(document)


async def evaluation_object(request: Request) -> Response:
    """``GET /evaluations/{uuid}``: a published evaluation written here (hidden ones do not exist yet)."""
    settings = node_of(request).settings
    ap_id = settings.url(f"/evaluations/{request.path_params['uuid']}")
    as_json = activitypub_routes.wants_activity_json(request.headers.get("accept", ""))
    if as_json and (refused := await activitypub_routes.signature_refusal(request)) is not None:
        refused.headers["Vary"] = "Accept"
        return refused
    row = await run(request, lambda session: evaluations.published_here(ap_id, session=session))
    if row is None:
        if as_json:
            return json_error(404, "not_found", "No such evaluation.", headers={"Vary": "Accept"})
        raise NotFound(N_("No such evaluation."))
    if not as_json:
        target = row.evaluated_uri if local.is_local(settings, row.evaluated_uri) else row.evaluator_uri
        return RedirectResponse(
            target[len(addressing.origin(target)) :], status_code=303, headers={"Vary": "Accept"}
        )
    document = evaluations.evaluation_document(row, public=True, followers=row.evaluator_uri + "/followers")
    return activitypub_routes.activity_json(document, vary=True)


def routes() -> list[Route]:
    return [
        Route("/agreements/{ref}/evaluate", evaluate, methods=["GET", "POST"], name="evaluate"),
        Route("/users/{username}/evaluations", evaluations_collection, name="person_evaluations"),
        Route("/evaluations/{uuid}", evaluation_object, name="evaluation"),
    ]
