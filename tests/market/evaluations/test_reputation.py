"""Evaluation scores and reputation aggregation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from node.core.errors import ValidationFailed
from node.market.evaluations.reputation import (
    MSG_COMMENT_TOO_LONG,
    MSG_SCORE_RANGE,
    MSG_UNKNOWN_CRITERION,
    MSG_UNKNOWN_ROLE,
    Score,
    aggregate,
    check_scores,
    format_mean,
)
from node.market.lifecycles import EvaluationState


def test_check_scores_accepts_valid_evaluations() -> None:
    check_scores("provider", 5, {"punctuality": 4, "quality": 5, "respect": 5}, "Très bien")
    check_scores("requester", 1, {"payment": 1})
    check_scores("provider", 3, {}, "x" * 1000)


@pytest.mark.parametrize(
    ("role", "overall", "criteria", "comment", "fields"),
    [
        ("provider", 0, {}, "", {"overall": MSG_SCORE_RANGE}),
        ("provider", 6, {}, "", {"overall": MSG_SCORE_RANGE}),
        ("provider", True, {}, "", {"overall": MSG_SCORE_RANGE}),
        ("provider", "5", {}, "", {"overall": MSG_SCORE_RANGE}),
        ("provider", 4, {"quality": 9}, "", {"criteria.quality": MSG_SCORE_RANGE}),
        ("provider", 4, {"payment": 3}, "", {"criteria.payment": MSG_UNKNOWN_CRITERION}),
        ("requester", 4, {"punctuality": 3}, "", {"criteria.punctuality": MSG_UNKNOWN_CRITERION}),
        ("boss", 4, {}, "", {"role": MSG_UNKNOWN_ROLE}),
        ("provider", 4, {}, "x" * 1001, {"comment": MSG_COMMENT_TOO_LONG}),
    ],
)
def test_check_scores_refuses_by_field(
    role: str, overall: object, criteria: dict[str, object], comment: str, fields: dict[str, str]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_scores(role, overall, criteria, comment)
    assert caught.value.fields == fields


def _score(overall: int, domain: str = "a.example", **kwargs: object) -> Score:
    return Score(overall=overall, evaluator_domain=domain, **kwargs)  # type: ignore[arg-type]


def test_aggregate_counts_only_published_evaluations() -> None:
    scores = [
        _score(5, "montreuil.example", criteria={"punctuality": 5, "quality": 4}),
        _score(4, "bagnolet.example", criteria={"punctuality": 3}),
        _score(4, "Montreuil.example"),
        _score(1, "troll.example", state=EvaluationState.SUBMITTED),  # still hidden
        _score(1, "troll.example", state="pending"),
        _score(2, "coop.example", state="published"),
    ]
    rep = aggregate(scores)
    assert rep.count == 4
    assert rep.mean == Decimal("3.75")
    assert rep.distribution == {1: 0, 2: 1, 3: 0, 4: 2, 5: 1}
    assert rep.by_node == {"montreuil.example": 2, "bagnolet.example": 1, "coop.example": 1}
    assert list(rep.by_node) == ["montreuil.example", "bagnolet.example", "coop.example"]
    assert rep.criteria == {"punctuality": Decimal("4.00"), "quality": Decimal("4.00")}


def test_aggregate_rounds_half_up_and_is_order_independent() -> None:
    scores = [_score(5), _score(4), _score(4)]
    rep = aggregate(scores)
    assert rep.mean == Decimal("4.33")
    assert aggregate(reversed(scores)) == rep
    assert aggregate([_score(4), _score(5), _score(5), _score(5), _score(5), _score(5)]).mean == Decimal(
        "4.83"
    )
    assert aggregate([_score(1), _score(2)] * 4).mean == Decimal("1.50")


def test_aggregate_filters_by_role_and_ignores_out_of_range() -> None:
    scores = [
        _score(5, role="provider"),
        _score(2, role="requester", criteria={"clarity": 2, "welcome": 7}),
        _score(9, role="provider"),
    ]
    assert aggregate(scores, role="provider").count == 1
    requester = aggregate(scores, role="requester")
    assert requester.mean == Decimal("2.00") and requester.criteria == {"clarity": Decimal("2.00")}
    assert aggregate(scores).count == 2


def test_empty_reputation() -> None:
    rep = aggregate([])
    assert rep.mean is None and rep.count == 0 and rep.by_node == {} and rep.criteria == {}
    assert rep.distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}


def test_format_mean() -> None:
    assert format_mean(Decimal("4.33"), "fr") == "4,3"
    assert format_mean(Decimal("4.25"), "en") == "4.3"
    assert format_mean(Decimal("5.00"), "en") == "5.0"
    assert format_mean(None, "fr") == "–"
