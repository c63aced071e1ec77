"""Evaluation scores and what they add up to: a person's reputation, with its provenance.

An evaluation rates the other party of a completed agreement: an overall score from 1 to 5, a few
criteria from 1 to 5 that depend on the role of the person evaluated (:data:`CRITERIA`), and a
comment of at most 1,000 characters. :func:`check_scores` applies these rules to what someone types.

:func:`aggregate` turns the evaluations a person received into a :class:`Reputation`: mean, count,
distribution of the overall scores, criteria means, and how many evaluations came from each node.
Only published evaluations count (a submitted one is still hidden, see
:mod:`node.market.lifecycles`). Means are exact decimals rounded half-up to two places, so every node
computing from the same evaluations shows the same figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from node.core.errors import N_, ValidationFailed
from node.market.lifecycles import EvaluationState

__all__ = [
    "COMMENT_MAX",
    "CRITERIA",
    "CRITERIA_LABELS",
    "Reputation",
    "Role",
    "Score",
    "aggregate",
    "check_scores",
    "format_mean",
]

Role = Literal["provider", "requester"]

# The criteria on which each party is rated, by the role of the person rated.
CRITERIA: Mapping[str, tuple[str, ...]] = {
    "provider": ("punctuality", "quality", "respect"),
    "requester": ("clarity", "welcome", "payment"),
}
CRITERIA_LABELS: Mapping[str, str] = {
    "punctuality": N_("Punctuality"),
    "quality": N_("Quality of the work"),
    "respect": N_("Respect"),
    "clarity": N_("Clarity of the request"),
    "welcome": N_("Welcome"),
    "payment": N_("Payment as agreed"),
}
SCORE_MIN = 1
SCORE_MAX = 5
COMMENT_MAX = 1000
_HUNDREDTH = Decimal("0.01")

MSG_SCORE_RANGE = N_("Choose a score from 1 to 5.")
MSG_UNKNOWN_CRITERION = N_("Unknown criterion.")
MSG_UNKNOWN_ROLE = N_("Unknown role.")
MSG_COMMENT_TOO_LONG = N_("At most 1,000 characters.")
MSG_SOME_FIELDS = N_("Some fields need attention.")


def _is_score(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and SCORE_MIN <= value <= SCORE_MAX


def check_scores(role: str, overall: object, criteria: Mapping[str, object], comment: str = "") -> None:
    """Refuse (:class:`ValidationFailed`) an evaluation whose scores or comment break the rules.

    Fields: ``overall``, ``criteria.<name>`` for each criterion, ``role``, ``comment``. Criteria may be
    left out; those given must belong to the role.
    """
    errors: dict[str, str] = {}
    allowed = CRITERIA.get(role)
    if allowed is None:
        errors["role"] = MSG_UNKNOWN_ROLE
    if not _is_score(overall):
        errors["overall"] = MSG_SCORE_RANGE
    for name, value in criteria.items():
        if allowed is not None and name not in allowed:
            errors[f"criteria.{name}"] = MSG_UNKNOWN_CRITERION
        elif not _is_score(value):
            errors[f"criteria.{name}"] = MSG_SCORE_RANGE
    if len(comment) > COMMENT_MAX:
        errors["comment"] = MSG_COMMENT_TOO_LONG
    if errors:
        message = next(iter(errors.values())) if len(errors) == 1 else MSG_SOME_FIELDS
        raise ValidationFailed(message, fields=errors)


@dataclass(frozen=True)
class Score:
    """What aggregation needs of one evaluation received."""

    overall: int
    evaluator_domain: str
    state: EvaluationState | str = EvaluationState.PUBLISHED
    criteria: Mapping[str, int] = field(default_factory=dict)
    role: Role | None = None


@dataclass(frozen=True)
class Reputation:
    """A person's reputation: ``mean`` is None when nothing counts yet."""

    mean: Decimal | None
    count: int
    distribution: Mapping[int, int]
    by_node: Mapping[str, int]
    criteria: Mapping[str, Decimal]


def _mean(values: list[int]) -> Decimal:
    return (Decimal(sum(values)) / Decimal(len(values))).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


def aggregate(scores: Iterable[Score], *, role: Role | None = None) -> Reputation:
    """The reputation made of the published ``scores`` (of the given ``role`` only, if one is given).

    Scores outside 1–5 are ignored, as are criteria with such values; domains are compared without
    case. The distribution always lists 1 to 5; ``by_node`` lists domains by decreasing count.
    """
    overall: list[int] = []
    criteria: dict[str, list[int]] = {}
    nodes: Counter[str] = Counter()
    for score in scores:
        if str(score.state) != EvaluationState.PUBLISHED.value or not _is_score(score.overall):
            continue
        if role is not None and score.role != role:
            continue
        overall.append(score.overall)
        nodes[score.evaluator_domain.lower()] += 1
        for name, value in score.criteria.items():
            if _is_score(value):
                criteria.setdefault(name, []).append(value)
    counts = Counter(overall)
    return Reputation(
        mean=_mean(overall) if overall else None,
        count=len(overall),
        distribution={n: counts.get(n, 0) for n in range(SCORE_MIN, SCORE_MAX + 1)},
        by_node=dict(sorted(nodes.items(), key=lambda item: (-item[1], item[0]))),
        criteria={name: _mean(values) for name, values in sorted(criteria.items())},
    )


def format_mean(value: Decimal | None, lang: str) -> str:
    """A mean for display with one decimal: ``4,3`` (fr) or ``4.3`` (en); an en dash when None."""
    if value is None:
        return "–"
    text = f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}"
    return text if lang.lower().startswith("en") else text.replace(".", ",")
