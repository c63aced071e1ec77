"""Evaluations: each party of a completed agreement rates the other, double-blind, and what the
ratings add up to (a person's reputation, with its provenance).

Submitting (:func:`submit`) stores the evaluation as ``submitted``: nobody but its author sees it. It
is sent at once, as a ``Create`` of the ``Review`` addressed to the evaluated person only, so that
their node can reveal both evaluations when the second one arrives; that node keeps it hidden too.
Both evaluations of an agreement are revealed (``published``) when both are in, or when the 14-day
window after completion closes (:func:`reveal_due_evaluations`, run by a periodic job). Revealing
an evaluation written here publishes it with a public ``Create`` (to the author's followers, the
nodes following this node and the relays), so that every node can count it in the reputation it
shows. Evaluations received from other nodes are checked and stored by
:mod:`node.market.evaluations.federation`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BindParameter, bindparam, func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from node.accounts.models import AccountStatus, User
from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.outbox.publish import publish
from node.activitypub.social import audience
from node.core.errors import N_, Conflict, NotFound, PermissionDenied
from node.core.text import plain_text
from node.core.timeutil import UTCDateTime, utcnow
from node.market import notifications, vocab
from node.market.agreements import sync as agreement_sync
from node.market.evaluations import standings
from node.market.evaluations.reputation import (
    COMMENT_MAX,
    CRITERIA,
    Reputation,
    Role,
    Score,
    aggregate,
    check_scores,
)
from node.market.lifecycles import (
    EVALUATION_LIFECYCLE,
    EVALUATION_WINDOW,
    AgreementState,
    EvaluationState,
    evaluation_open,
    reveal_due,
)
from node.market.models import Agreement, Evaluation
from node.settings import Settings

log = logging.getLogger("asasap.market")

__all__ = [
    "EvaluationInput",
    "agreement_for_party",
    "agreement_ref",
    "count_published_of",
    "counted_for",
    "criteria_of",
    "evaluation_document",
    "find_agreement",
    "notify_published",
    "notify_received",
    "other_party",
    "party_role",
    "published_of",
    "reputation_of",
    "reputations_of",
    "reveal",
    "reveal_date",
    "reveal_due_evaluations",
    "submit",
    "visible_to",
]

MSG_NOT_PARTY = N_("Only the two parties of an agreement can evaluate it.")
MSG_NOT_COMPLETED = N_("An agreement can be evaluated once it is completed.")
MSG_WINDOW_CLOSED = N_("The time to evaluate this agreement is over.")
MSG_ALREADY = N_("You already evaluated this agreement.")
MSG_NO_AGREEMENT = N_("No such agreement.")
MSG_NOT_YOURS = N_("Only the two parties can see this agreement.")

_REF = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


@dataclass(frozen=True)
class EvaluationInput:
    """What a party types: an overall score, scores per criterion (None: not rated) and a comment."""

    overall: int | None
    criteria: Mapping[str, int | None] = field(default_factory=dict)
    comment: str = ""


# --- agreements as the evaluations see them ----------------------------------------------------------


def find_agreement(settings: Settings, ref: str, *, session: Session) -> Agreement | None:
    """The agreement named in a URL: by its local row id (digits), else by the last segment of its
    ActivityPub id, held here (``/agreements/<ref>``) or mirrored from another node."""
    ref = ref.strip()
    if ref.isdigit() and len(ref) < 12:
        return session.get(Agreement, int(ref))
    if not _REF.match(ref):
        return None
    held = session.exec(select(Agreement).where(col(Agreement.ap_id) == settings.url(f"/agreements/{ref}")))
    found = held.first()
    if found is not None:
        return found
    candidates = session.exec(
        select(Agreement).where(col(Agreement.ap_id).endswith("/" + ref, autoescape=True)).limit(2)
    ).all()
    return candidates[0] if len(candidates) == 1 else None


def agreement_ref(agreement: Agreement) -> str:
    """What names ``agreement`` in our URLs: the last segment of its id, or its row id when that
    segment would not find it again."""
    last = agreement.ap_id.rstrip("/").rsplit("/", 1)[-1]
    if _REF.match(last) and not last.isdigit():
        return last
    assert agreement.id is not None
    return str(agreement.id)


def party_role(agreement: Agreement, actor_uri: str) -> Role | None:
    """The role of ``actor_uri`` in ``agreement``, None when not a party."""
    if actor_uri == agreement.provider_uri:
        return "provider"
    if actor_uri == agreement.requester_uri:
        return "requester"
    return None


def other_party(agreement: Agreement, actor_uri: str) -> tuple[str, Role]:
    """The other party of ``actor_uri`` (a party) and that party's role."""
    if actor_uri == agreement.provider_uri:
        return agreement.requester_uri, "requester"
    return agreement.provider_uri, "provider"


def agreement_for_party(settings: Settings, ref: str, user: User, *, session: Session) -> Agreement:
    """The agreement ``ref`` if ``user`` is one of its parties (404 unknown, 403 otherwise)."""
    agreement = find_agreement(settings, ref, session=session)
    if agreement is None:
        raise NotFound(MSG_NO_AGREEMENT)
    if party_role(agreement, local.person(settings, user).uri) is None:
        raise PermissionDenied(MSG_NOT_YOURS)
    return agreement


def reveal_date(agreement: Agreement) -> datetime | None:
    """When the evaluations of a completed agreement are revealed at the latest."""
    return None if agreement.completed_at is None else agreement.completed_at + EVALUATION_WINDOW


# --- submitting --------------------------------------------------------------------------------------


def _clean_comment(text: str) -> str:
    # One character more than allowed survives cleaning, so that too long a comment is refused
    # rather than cut.
    return plain_text(text, COMMENT_MAX + 1, multiline=True)


def submit(
    settings: Settings,
    evaluator: User,
    agreement: Agreement,
    data: EvaluationInput,
    *,
    session: Session,
    now: datetime | None = None,
    on_behalf_of: LocalActor | None = None,
) -> Evaluation:
    """Record ``evaluator``'s evaluation of the other party of ``agreement`` (with ``on_behalf_of``: the
    evaluation by that group of ours, written by its coordinator), send it (hidden) to the other party's
    node, and reveal both evaluations if the other one is already in. An evaluation of a group that
    provided the service names the member who carried it out (``performer``): it counts for them too.

    Refused: not a party (403), agreement not completed or window closed or already evaluated (409),
    scores or comment breaking the rules (422, fields ``overall``, ``criteria.<name>``, ``comment``).
    """
    now = now or utcnow()
    actor = on_behalf_of or local.person(settings, evaluator)
    if party_role(agreement, actor.uri) is None:
        raise PermissionDenied(MSG_NOT_PARTY)
    if agreement.state != AgreementState.COMPLETED.value or agreement.completed_at is None:
        raise Conflict(MSG_NOT_COMPLETED)
    if not evaluation_open(agreement.completed_at, now):
        raise Conflict(MSG_WINDOW_CLOSED)
    if evaluation_by(agreement.ap_id, actor.uri, session=session) is not None:
        raise Conflict(MSG_ALREADY)
    evaluated, role = other_party(agreement, actor.uri)
    comment = _clean_comment(data.comment)
    rated = {name: score for name, score in data.criteria.items() if score is not None}
    check_scores(role, data.overall, rated, comment)
    assert data.overall is not None
    state = EVALUATION_LIFECYCLE.check(EvaluationState.PENDING, EvaluationState.SUBMITTED)
    row = Evaluation(
        ap_id=settings.url(f"/evaluations/{uuid.uuid4()}"),
        origin="",
        agreement_id=agreement.id,
        agreement_ap_id=agreement.ap_id,
        evaluator_uri=actor.uri,
        evaluated_uri=evaluated,
        evaluated_role=role,
        performer_uri=agreement.performer_uri if role == "provider" else None,
        overall=data.overall,
        criteria=json.dumps({name: rated[name] for name in CRITERIA[role] if name in rated}),
        comment=comment,
        state=state.value,
        submitted_at=now,
    )
    session.add(row)
    session.flush()
    if not local.is_local(settings, evaluated):
        publish(
            settings,
            actor=actor,
            activity=_create(settings, row, public=False, now=now),
            recipients=[evaluated],
            session=session,
        )
    notify_received(agreement, role, actor.uri, session=session)
    reveal(settings, agreement.ap_id, now=now, agreement=agreement, session=session)
    return row


def evaluation_url(agreement: Agreement) -> str:
    """The local page of the evaluations of ``agreement``."""
    return f"/agreements/{agreement_ref(agreement)}/evaluate"


# --- revealing ---------------------------------------------------------------------------------------


def published_here(ap_id: str, *, session: Session) -> Evaluation | None:
    """A published evaluation written on this node, by its id (hidden ones are not there yet)."""
    row = session.exec(select(Evaluation).where(col(Evaluation.ap_id) == ap_id)).first()
    if row is None or row.origin != "" or row.state != EvaluationState.PUBLISHED.value:
        return None
    return row


def hide(row: Evaluation, *, session: Session) -> Evaluation:
    """A moderator takes an evaluation down after a report: it leaves the pages, the reputations and the
    public documents of this node. Already hidden: nothing changes."""
    if row.state != EvaluationState.HIDDEN.value:
        row.state = EVALUATION_LIFECYCLE.check(EvaluationState(row.state), EvaluationState.HIDDEN).value
        session.add(row)
        standings.restate(counted_for([row]), session=session)
    return row


def counted_for(rows: Iterable[Evaluation]) -> list[str]:
    """The people evaluations count for: the person evaluated, and the member who carried out a group's
    service (their standings are restated when one is published or hidden)."""
    return [uri for row in rows for uri in (row.evaluated_uri, row.performer_uri) if uri]


def by_ap_id(ap_id: str, *, session: Session) -> Evaluation | None:
    """The evaluation ``ap_id`` stored here, whatever its state."""
    return session.exec(select(Evaluation).where(col(Evaluation.ap_id) == ap_id)).first()


def evaluation_by(agreement_ap_id: str, evaluator_uri: str, *, session: Session) -> Evaluation | None:
    """The evaluation of the agreement ``agreement_ap_id`` written by ``evaluator_uri``, if any."""
    return session.exec(
        select(Evaluation).where(
            col(Evaluation.agreement_ap_id) == agreement_ap_id, col(Evaluation.evaluator_uri) == evaluator_uri
        )
    ).first()


def reveal(
    settings: Settings,
    agreement_ap_id: str,
    *,
    session: Session,
    now: datetime | None = None,
    agreement: Agreement | None = None,
) -> int:
    """Publish the hidden evaluations of an agreement if it is time (both in, or the window closed);
    how many were revealed. Those written here are published to the public audience."""
    now = now or utcnow()
    agreement = agreement or agreement_sync.find_agreement(agreement_ap_id, session=session)
    hidden = session.exec(
        select(Evaluation)
        .where(
            col(Evaluation.agreement_ap_id) == agreement_ap_id,
            col(Evaluation.state) == EvaluationState.SUBMITTED.value,
        )
        .order_by(col(Evaluation.id))
        .with_for_update()
    ).all()
    if not hidden:
        return 0
    evaluators = set(
        session.exec(
            select(Evaluation.evaluator_uri).where(
                col(Evaluation.agreement_ap_id) == agreement_ap_id,
                col(Evaluation.state).in_([EvaluationState.SUBMITTED.value, EvaluationState.PUBLISHED.value]),
            )
        ).all()
    )
    completed_at = agreement.completed_at if agreement is not None else None
    start = completed_at or min(row.submitted_at for row in hidden)
    if not reveal_due(len(evaluators) >= 1, len(evaluators) >= 2, start, now):
        return 0
    for row in hidden:
        row.state = EVALUATION_LIFECYCLE.check(EvaluationState(row.state), EvaluationState.PUBLISHED).value
        row.published_at = now
        session.add(row)
        if row.origin == "":
            _publish_publicly(settings, row, now, session=session)
    standings.restate(counted_for(hidden), session=session)
    if agreement is not None:
        notify_published(agreement, session=session)
    log.info("revealed %d evaluation(s) of %s", len(hidden), agreement_ap_id)
    return len(hidden)


def notify_received(agreement: Agreement, role: str, evaluator_uri: str, *, session: Session) -> None:
    """Tell the party evaluated in ``role``, if on this node, that they were evaluated (not how)."""
    user_id = agreement.local_provider_id if role == "provider" else agreement.local_requester_id
    if user_id is not None:
        notifications.notify(
            user_id,
            notifications.Kind.EVALUATION_RECEIVED,
            object_uri=agreement.ap_id,
            actor_uri=evaluator_uri,
            data={"href": evaluation_url(agreement)},
            session=session,
        )


def notify_published(agreement: Agreement, *, session: Session) -> None:
    """Tell the parties of ``agreement`` who are on this node that its evaluations are published."""
    for user_id in dict.fromkeys((agreement.local_provider_id, agreement.local_requester_id)):
        if user_id is None:
            continue
        notifications.notify(
            user_id,
            notifications.Kind.EVALUATION_PUBLISHED,
            object_uri=agreement.ap_id,
            data={"href": evaluation_url(agreement)},
            session=session,
        )


def _publish_publicly(settings: Settings, row: Evaluation, now: datetime, *, session: Session) -> None:
    group = local.local_group_name(settings, row.evaluator_uri)
    if group is not None:  # a group's evaluation, published by the group
        audience.publish_public(
            settings,
            actor=local.group(settings, group),
            activity=_create(settings, row, public=True, now=now),
            session=session,
        )
        return
    username = local.local_username(settings, row.evaluator_uri)
    author = session.exec(select(User).where(col(User.username) == username)).first() if username else None
    if author is None or author.status == AccountStatus.DELETED.value:
        log.info("evaluation %s revealed without publication: its author is gone", row.ap_id)
        return
    actor = local.person(settings, author)
    audience.publish_public(
        settings, actor=actor, activity=_create(settings, row, public=True, now=now), session=session
    )


def reveal_due_evaluations(settings: Settings, now: datetime | None = None, *, session: Session) -> int:
    """Reveal every hidden evaluation whose agreement completed 14 days ago or more (the periodic job);
    how many were revealed."""
    now = now or utcnow()
    cutoff = now - EVALUATION_WINDOW
    started = func.coalesce(col(Agreement.completed_at), col(Evaluation.submitted_at), type_=UTCDateTime)
    due = session.exec(
        select(Evaluation.agreement_ap_id)
        .select_from(Evaluation)
        .outerjoin(Agreement, col(Agreement.ap_id) == col(Evaluation.agreement_ap_id))
        .where(col(Evaluation.state) == EvaluationState.SUBMITTED.value, started <= cutoff)
        .distinct()
        .limit(200)
    ).all()
    return sum(reveal(settings, ap_id, now=now, session=session) for ap_id in due)


# --- documents ---------------------------------------------------------------------------------------


def criteria_of(row: Evaluation) -> dict[str, int]:
    """The criteria scores of a stored evaluation (unreadable or foreign entries left out)."""
    try:
        raw = json.loads(row.criteria or "{}")
    except ValueError:
        return {}
    allowed = CRITERIA.get(row.evaluated_role, ())
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if k in allowed and isinstance(v, int) and not isinstance(v, bool)}


def evaluation_document(row: Evaluation, *, public: bool, followers: str | None = None) -> dict[str, object]:
    """The ``Review`` of a stored evaluation; ``public`` addresses it to everyone, else to the person
    evaluated only (the hidden copy sent at submission)."""
    to: tuple[str, ...] = (addressing.PUBLIC,) if public else (row.evaluated_uri,)
    cc: tuple[str, ...] = ()
    if public:
        cc = (followers, row.evaluated_uri) if followers else (row.evaluated_uri,)
    role: Role = "provider" if row.evaluated_role == "provider" else "requester"
    return vocab.evaluation_to_json(
        vocab.EvaluationDoc(
            id=row.ap_id,
            attributed_to=row.evaluator_uri,
            agreement=row.agreement_ap_id,
            evaluated=row.evaluated_uri,
            role=role,
            overall=row.overall,
            criteria=criteria_of(row),
            comment=row.comment,
            published=row.submitted_at,
            to=to,
            cc=cc,
            performer=row.performer_uri,
        )
    )


def _create(settings: Settings, row: Evaluation, *, public: bool, now: datetime) -> dict[str, object]:
    followers = row.evaluator_uri + "/followers"
    review = evaluation_document(row, public=public, followers=followers)
    to = (addressing.PUBLIC,) if public else (row.evaluated_uri,)
    cc = (followers, row.evaluated_uri) if public else ()
    return vocab.activity_to_json(
        "Create",
        row.evaluator_uri,
        review,
        activity_id=local.new_activity_id(settings),
        to=to,
        cc=cc,
        published=now,
    )


# --- reading -----------------------------------------------------------------------------------------


def visible_to(agreement: Agreement, viewer_uri: str, *, session: Session) -> list[Evaluation]:
    """The evaluations of ``agreement`` that ``viewer_uri`` may read: the published ones and their own."""
    rows = session.exec(
        select(Evaluation)
        .where(col(Evaluation.agreement_ap_id) == agreement.ap_id)
        .order_by(col(Evaluation.submitted_at), col(Evaluation.id))
    ).all()
    return [r for r in rows if r.state == EvaluationState.PUBLISHED.value or r.evaluator_uri == viewer_uri]


def _of(actor_uri: str) -> Any:
    """Evaluations that count for ``actor_uri``: of them, or of a group's service they carried out."""
    return (col(Evaluation.evaluated_uri) == actor_uri) | (col(Evaluation.performer_uri) == actor_uri)


def count_published_of(actor_uri: str, *, session: Session) -> int:
    """How many published evaluations of ``actor_uri`` this node holds."""
    return int(
        session.exec(
            select(func.count())
            .select_from(Evaluation)
            .where(_of(actor_uri), col(Evaluation.state) == EvaluationState.PUBLISHED.value)
        ).one()
    )


def published_of(
    actor_uri: str, *, session: Session, offset: int = 0, limit: int = 20
) -> Sequence[Evaluation]:
    """Published evaluations of ``actor_uri``, newest first."""
    return session.exec(
        select(Evaluation)
        .where(_of(actor_uri), col(Evaluation.state) == EvaluationState.PUBLISHED.value)
        .order_by(col(Evaluation.published_at).desc(), col(Evaluation.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()


def _score(row: Evaluation) -> Score:
    role = cast(Role, row.evaluated_role) if row.evaluated_role in CRITERIA else None
    return Score(
        overall=row.overall,
        evaluator_domain=addressing.domain_of(row.evaluator_uri),
        state=row.state,
        criteria=criteria_of(row),
        role=role,
    )


def reputation_of(actor_uri: str, *, session: Session) -> Reputation:
    """The reputation of ``actor_uri`` from the published evaluations this node holds."""
    return reputations_of([actor_uri], session=session)[actor_uri]


@functools.cache
def _published_statement() -> SelectOfScalar[Evaluation]:
    """The published evaluations of or carried out by ``uris``: every listing reads its authors' (built
    once)."""
    uris: BindParameter[str] = bindparam("uris", expanding=True)
    return select(Evaluation).where(
        col(Evaluation.evaluated_uri).in_(uris) | col(Evaluation.performer_uri).in_(uris),
        col(Evaluation.state) == EvaluationState.PUBLISHED.value,
    )


def reputations_of(actor_uris: Iterable[str], *, session: Session) -> dict[str, Reputation]:
    """The reputation of several people at once (beside a list of bids), in one query."""
    uris = list(dict.fromkeys(actor_uris))
    scores: dict[str, list[Score]] = {uri: [] for uri in uris}
    for start in range(0, len(uris), 500):
        chunk = uris[start : start + 500]
        rows = session.exec(_published_statement(), params={"uris": chunk}).all()
        for row in rows:
            # A group's evaluation counts for the group and for the member who carried the service out.
            for uri in dict.fromkeys((row.evaluated_uri, row.performer_uri)):
                if uri in scores:
                    scores[uri].append(_score(row))
    return {uri: aggregate(found) for uri, found in scores.items()}
