"""Agreements and evaluations stored directly, for the evaluation tests of the services, the API,
the pages and federation: a completed agreement between two people of one node, evaluations submitted
through the service."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.activitypub import addressing
from node.activitypub.actors import local
from node.core import db
from node.core.timeutil import utcnow
from node.market.evaluations import service as evaluations
from node.market.evaluations.service import EvaluationInput
from node.market.models import Agreement, Evaluation, Standing
from node.settings import Settings
from tests.support.accounts import make_user


def make_agreement(
    engine: Engine,
    settings: Settings,
    *,
    provider: str,
    requester: str,
    state: str = "completed",
    completed_at: datetime | None = None,
    ap_id: str | None = None,
    provider_id: int | None = None,
    requester_id: int | None = None,
) -> Agreement:
    """Store an agreement (held here unless ``ap_id`` is another node's)."""
    ap_id = ap_id or settings.url(f"/agreements/{uuid.uuid4()}")
    origin = "" if local.is_local(settings, ap_id) else addressing.domain_of(ap_id)
    if completed_at is None and state == "completed":
        completed_at = utcnow() - timedelta(days=1)
    row = Agreement(
        ap_id=ap_id,
        origin=origin,
        proposal_ap_id=settings.url(f"/proposals/{uuid.uuid4()}"),
        provider_uri=provider,
        requester_uri=requester,
        local_provider_id=provider_id,
        local_requester_id=requester_id,
        category="housework",
        state=state,
        completed_at=completed_at,
    )
    with db.session_scope(engine) as session:
        session.add(row)
    return row


def uri(settings: Settings, user: User) -> str:
    return local.person(settings, user).uri


def submit(
    engine: Engine,
    settings: Settings,
    user: User,
    agreement: Agreement,
    overall: int | None = 5,
    *,
    criteria: dict[str, int | None] | None = None,
    comment: str = "",
    now: datetime | None = None,
) -> Evaluation:
    with db.session_scope(engine) as session:
        return evaluations.submit(
            settings,
            user,
            agreement,
            EvaluationInput(overall=overall, criteria=criteria or {}, comment=comment),
            now=now,
            session=session,
        )


def stored(engine: Engine) -> list[Evaluation]:
    with Session(engine) as session:
        return list(session.exec(select(Evaluation).order_by(col(Evaluation.id))).all())


def completed_pair(engine: Engine, settings: Settings) -> tuple[User, User, Agreement]:
    """Alice asked for a service that Bob, on this node too, delivered; the agreement is completed."""
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    agreement = make_agreement(
        engine,
        settings,
        provider=uri(settings, bob),
        requester=uri(settings, alice),
        provider_id=bob.id,
        requester_id=alice.id,
    )
    return alice, bob, agreement


def standings_agree(engine: Engine) -> dict[str, tuple[int, int]]:
    """Check that the table ``standings`` holds what the evaluations add up to for every person they name
    (the reputation :func:`reputations_of` computes from them); its rows as ``{uri: (count, hundredths)}``."""
    with Session(engine) as session:
        rows = session.exec(select(Evaluation)).all()
        people = {uri for row in rows for uri in (row.evaluated_uri, row.performer_uri) if uri}
        reputations = evaluations.reputations_of(people, session=session)
        kept = {row.uri: (row.count, row.hundredths) for row in session.exec(select(Standing)).all()}
    expected = {u: (r.count, int(r.mean * 100)) for u, r in reputations.items() if r.mean is not None}
    assert kept == expected
    return kept


def scored(
    evaluated: str, overall: int, *, state: str = "published", performer: str | None = None
) -> Evaluation:
    """An evaluation of ``evaluated`` by someone of another node, to store directly (then restate the
    standings of those it counts for, as the services do)."""
    return Evaluation(
        ap_id=f"https://c.example/evaluations/{uuid.uuid4()}",
        agreement_ap_id=f"https://c.example/agreements/{uuid.uuid4()}",
        evaluator_uri="https://c.example/users/client",
        evaluated_uri=evaluated,
        evaluated_role="provider",
        performer_uri=performer,
        overall=overall,
        state=state,
        published_at=utcnow() if state == "published" else None,
    )
