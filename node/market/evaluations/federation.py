"""Evaluations received from other nodes: ``Create`` of a ``Review`` (see
:mod:`node.market.evaluations.service`).

An evaluation is stored only when all of this holds, else the activity fails for good
(:class:`PermanentFailure`) and nothing is stored:

- the signer is the evaluator (``attributedTo``), and the review's id has the signer's origin;
- the agreement (``context``) is completed and its two parties are the evaluator and the person
  evaluated, in the role the review states. The agreement is read from our database when this node
  holds it, else fetched from its origin (signed by our node actor): an origin that denies it
  (404, 401...), or serves it in another state or with other parties, gets the evaluation refused.

Visibility follows the addressing. A review addressed to the public collection is published: any
node stores it and counts it in reputations. Otherwise it is the hidden copy a party's node receives
at submission: only the node of the person evaluated stores it, hidden until both evaluations are in
or the window closes (then :func:`node.market.evaluations.service.reveal` publishes both); other nodes
ignore it. A second evaluation of the same agreement by the same person is ignored, as are replays.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.addressing import same_origin
from node.activitypub.inbox.context import Outcome, PermanentFailure, ProcessingContext
from node.activitypub.vocab import Activity
from node.core.timeutil import utcnow
from node.market import vocab
from node.market.agreements import documents as agreement_documents
from node.market.agreements.sync import find_agreement
from node.market.evaluations import service as evaluations
from node.market.evaluations import standings
from node.market.lifecycles import EVALUATION_LIFECYCLE, AgreementState, EvaluationState, evaluation_open
from node.market.models import Agreement, Evaluation

log = logging.getLogger("asasap.federation")


@dataclass(frozen=True)
class AgreementFacts:
    """What an evaluation is checked against: the agreement's state and its two parties."""

    id: str
    state: str
    provider: str
    requester: str
    performer: str | None = None


def agreement_facts(document: Mapping[str, Any], agreement_id: str) -> AgreementFacts:
    """The state and parties of an agreement as its origin serves it (the full document to a party's
    node, its public part to others: :mod:`node.market.agreements.documents`). Raises
    :class:`PermanentFailure` when the document is not that agreement or does not name its parties."""
    try:
        snapshot = agreement_documents.read_agreement(document)
    except vocab.VocabError as exc:
        raise PermanentFailure(f"{agreement_id}: unreadable agreement: {exc}") from None
    if snapshot.id != agreement_id:
        raise PermanentFailure(f"{agreement_id}: its origin served another object")
    if snapshot.provider is None or snapshot.receiver is None:
        raise PermanentFailure(f"{agreement_id}: its origin does not name its parties")
    return AgreementFacts(
        id=agreement_id,
        state=snapshot.state.value,
        provider=snapshot.provider,
        requester=snapshot.receiver,
        performer=snapshot.performer,
    )


def _facts_of_row(row: Agreement) -> AgreementFacts:
    return AgreementFacts(
        id=row.ap_id,
        state=row.state,
        provider=row.provider_uri,
        requester=row.requester_uri,
        performer=row.performer_uri,
    )


def _is_public(activity: Mapping[str, Any], review: Mapping[str, Any]) -> bool:
    for source in (activity, review):
        for name in ("to", "cc"):
            value = source.get(name)
            if any(
                addressing.is_public(target) for target in (value if isinstance(value, list) else [value])
            ):
                return True
    return False


def _checked_agreement(
    ctx: ProcessingContext, doc: vocab.EvaluationDoc
) -> tuple[AgreementFacts, Agreement | None]:
    """The agreement of ``doc`` as its holder states it, and our row of it if we have one."""
    row = find_agreement(doc.agreement, session=ctx.session)
    if local.is_local(ctx.settings, doc.agreement):
        if row is None or row.origin != "":
            raise PermanentFailure(f"{doc.agreement}: no such agreement here")
        facts = _facts_of_row(row)
    else:
        facts = agreement_facts(ctx.document(doc.agreement), doc.agreement)
    parties = {facts.provider: "provider", facts.requester: "requester"}
    if facts.state != AgreementState.COMPLETED.value:
        raise PermanentFailure(f"{doc.agreement} is {facts.state}, not completed")
    if doc.attributed_to not in parties or doc.evaluated not in parties or doc.attributed_to == doc.evaluated:
        raise PermanentFailure(
            f"{doc.attributed_to} and {doc.evaluated} are not the parties of {doc.agreement}"
        )
    if parties[doc.evaluated] != doc.role:
        raise PermanentFailure(f"{doc.evaluated} is not the {doc.role} of {doc.agreement}")
    return facts, row


def on_review(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """Store an evaluation sent by its author's node, once checked (see the module docstring)."""
    review = activity.object
    # Only an embedded review is ours to read: the inbox keeps objects of the signer's origin embedded.
    if review is None:
        return Outcome.IGNORED
    try:
        doc = vocab.evaluation_from_json(review)
    except vocab.VocabError as exc:
        raise PermanentFailure(f"unreadable evaluation: {exc}") from None
    if doc.attributed_to != ctx.actor_uri or not same_origin(doc.id, ctx.actor_uri):
        raise PermanentFailure(
            f"evaluation {doc.id} attributed to {doc.attributed_to}, signed by {ctx.actor_uri}"
        )
    public = _is_public(activity.raw, review)
    session = ctx.session
    existing = evaluations.by_ap_id(doc.id, session=session)
    if existing is not None:
        return _again(ctx, existing, doc, public)
    if evaluations.evaluation_by(doc.agreement, doc.attributed_to, session=session) is not None:
        log.info("ignored a second evaluation of %s by %s", doc.agreement, doc.attributed_to)
        return Outcome.IGNORED
    if not public and not local.is_local(ctx.settings, doc.evaluated):
        log.info("ignored hidden evaluation %s: the person evaluated is not on this node", doc.id)
        return Outcome.IGNORED
    facts, agreement = _checked_agreement(ctx, doc)
    performer = agreement.performer_uri if agreement is not None else facts.performer
    if doc.performer is not None and doc.performer != performer:
        # Only the member the agreement names (the holder's word, or ours) counts; a stranger is dropped.
        log.info("evaluation %s names %s, not the agreement's performer", doc.id, doc.performer)
    now = utcnow()
    written = min(doc.published or now, now)
    if agreement is not None and agreement.completed_at is not None:
        if not evaluation_open(agreement.completed_at, written):
            raise PermanentFailure(f"evaluation {doc.id} came after the evaluation window of {doc.agreement}")
    state = EVALUATION_LIFECYCLE.check(EvaluationState.PENDING, EvaluationState.SUBMITTED)
    if public:
        state = EVALUATION_LIFECYCLE.check(state, EvaluationState.PUBLISHED)
    row = Evaluation(
        ap_id=doc.id,
        origin=addressing.domain_of(doc.id),
        agreement_id=agreement.id if agreement is not None else None,
        agreement_ap_id=doc.agreement,
        evaluator_uri=doc.attributed_to,
        evaluated_uri=doc.evaluated,
        evaluated_role=doc.role,
        performer_uri=doc.performer if doc.performer == performer and doc.role == "provider" else None,
        overall=doc.overall,
        criteria=json.dumps(dict(doc.criteria)),
        comment=doc.comment,
        state=state.value,
        submitted_at=written,
        published_at=now if public else None,
    )
    session.add(row)
    session.flush()
    if public:
        standings.restate(evaluations.counted_for([row]), session=session)
    if agreement is not None:
        if not public:
            evaluations.notify_received(agreement, doc.role, doc.attributed_to, session=session)
        revealed = evaluations.reveal(
            ctx.settings, doc.agreement, now=now, agreement=agreement, session=session
        )
        if public and not revealed:
            evaluations.notify_published(agreement, session=session)
    return Outcome.DONE


def _again(ctx: ProcessingContext, existing: Evaluation, doc: vocab.EvaluationDoc, public: bool) -> Outcome:
    """An evaluation we already hold: its publication reveals our hidden copy; anything else is a replay."""
    if existing.evaluator_uri != doc.attributed_to or existing.agreement_ap_id != doc.agreement:
        raise PermanentFailure(f"evaluation {doc.id} changed its author or agreement")
    if not public or existing.state != EvaluationState.SUBMITTED.value:
        return Outcome.IGNORED
    existing.state = EVALUATION_LIFECYCLE.check(EvaluationState.SUBMITTED, EvaluationState.PUBLISHED).value
    existing.published_at = utcnow()
    ctx.session.add(existing)
    standings.restate(evaluations.counted_for([existing]), session=ctx.session)
    agreement = find_agreement(existing.agreement_ap_id, session=ctx.session)
    revealed = evaluations.reveal(
        ctx.settings,
        existing.agreement_ap_id,
        now=existing.published_at,
        agreement=agreement,
        session=ctx.session,
    )
    if agreement is not None and not revealed:
        evaluations.notify_published(agreement, session=ctx.session)
    return Outcome.DONE
