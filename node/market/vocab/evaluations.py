"""Evaluations on the wire: schema.org ``Review`` objects (see :mod:`node.market.vocab` for the
format)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from node.core.text import text_to_html
from node.market import schedule as sched
from node.market.evaluations.reputation import COMMENT_MAX, CRITERIA, Role
from node.market.vocab.common import (
    CONTEXT,
    VocabError,
    as_document,
    optional_ref,
    put_audience,
    read_audience,
    read_instant,
    read_text,
    require_type,
    required_ref,
    unwrap,
)


@dataclass(frozen=True)
class EvaluationDoc:
    """An evaluation of ``evaluated`` (in ``role``) by ``attributed_to`` for ``agreement``."""

    id: str
    attributed_to: str
    agreement: str
    evaluated: str
    role: Role
    overall: int
    criteria: Mapping[str, int] = field(default_factory=dict)
    comment: str = ""
    published: datetime | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    performer: str | None = None  # the member of a provider group who carried the service out


# --- evaluations ----------------------------------------------------------------------------------


def _rating(value: int, aspect: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "Rating"}
    if aspect is not None:
        data["reviewAspect"] = aspect
    data.update({"ratingValue": value, "worstRating": 1, "bestRating": 5})
    return data


def evaluation_to_json(doc: EvaluationDoc) -> dict[str, Any]:
    """The ``Review`` object of an evaluation, with :data:`CONTEXT`."""
    data: dict[str, Any] = {
        "@context": CONTEXT,
        "type": "Review",
        "id": doc.id,
        "attributedTo": doc.attributed_to,
        "context": doc.agreement,
        "itemReviewed": doc.evaluated,
        "evaluatedRole": doc.role,
        "reviewRating": _rating(doc.overall),
        "criteria": [_rating(value, name) for name, value in doc.criteria.items()],
    }
    if doc.performer:
        data["performer"] = doc.performer
    if doc.comment:
        data["content"] = text_to_html(doc.comment)
    if doc.published is not None:
        data["published"] = sched.format_instant(doc.published)
    put_audience(data, doc.to, doc.cc)
    return data


def _score(value: object, name: str) -> int:
    if isinstance(value, Mapping):
        value = value.get("ratingValue")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise VocabError(f"field {name!r} must be a score from 1 to 5")
    return value


def evaluation_from_json(data: object) -> EvaluationDoc:
    """Read an evaluation ``Review`` (or a ``Create`` embedding one). Criteria that do not belong to
    the evaluated role are ignored."""
    doc = unwrap(as_document(data, "an evaluation"), "Review")
    require_type(doc, "Review")
    role = doc.get("evaluatedRole")
    allowed = CRITERIA.get(role) if isinstance(role, str) else None
    if allowed is None:
        raise VocabError("field 'evaluatedRole' must be 'provider' or 'requester'")
    if doc.get("reviewRating") is None:
        raise VocabError("missing required field 'reviewRating'")
    raw_criteria = doc.get("criteria") or []
    if not isinstance(raw_criteria, list):
        raw_criteria = [raw_criteria]
    criteria: dict[str, int] = {}
    for item in raw_criteria:
        if not isinstance(item, Mapping):
            raise VocabError("field 'criteria' must hold Rating objects")
        aspect = item.get("reviewAspect")
        if isinstance(aspect, str) and aspect in allowed:
            criteria[aspect] = _score(item, f"criteria.{aspect}")
    return EvaluationDoc(
        id=required_ref(doc, "id"),
        attributed_to=required_ref(doc, "attributedTo"),
        agreement=required_ref(doc, "context"),
        evaluated=required_ref(doc, "itemReviewed"),
        role=cast(Role, role),
        overall=_score(doc["reviewRating"], "reviewRating"),
        criteria=criteria,
        comment=read_text(doc.get("content"), COMMENT_MAX),
        published=read_instant(doc, "published"),
        to=read_audience(doc, "to"),
        cc=read_audience(doc, "cc"),
        performer=optional_ref(doc, "performer"),
    )
