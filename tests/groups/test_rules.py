"""Contributions to pooled costs: a flat rate, or marginal brackets on a member's turnover in the month."""

from __future__ import annotations

from decimal import Decimal

import pytest

from node.core.errors import ValidationFailed
from node.groups import rules

D = Decimal


def test_a_flat_rate_is_one_bracket_from_zero() -> None:
    schedule = rules.schedule_of(D("12.5"), [])
    assert rules.contribution(D("100"), D("0"), schedule) == D("12.50")
    assert rules.contribution(D("33.33"), D("5000"), schedule) == D("4.17")


def test_brackets_are_marginal_on_the_month_turnover() -> None:
    schedule = rules.parse_brackets("0: 10\n1000: 8")
    # 900 then 300: the second agreement straddles 1000 (100 at 10 %, 200 at 8 %).
    assert rules.contribution(D("900"), D("0"), schedule) == D("90.00")
    assert rules.contribution(D("300"), D("900"), schedule) == D("26.00")
    assert rules.contribution(D("300"), D("2000"), schedule) == D("24.00")


@pytest.mark.parametrize("text", ["10: 5", "0: 10\n0: 8", "0: 10\n500: 120", "0 10", "x: 1", "0: 5;-3: 1"])
def test_bad_brackets_are_refused(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        rules.parse_brackets(text)
    assert "contribution_brackets" in caught.value.fields


@pytest.mark.parametrize("text", ["-1", "100.5", "abc", "NaN"])
def test_a_rate_is_a_percentage(text: str) -> None:
    with pytest.raises(ValidationFailed):
        rules.parse_rate(text)


def test_brackets_round_trip_through_json() -> None:
    brackets = rules.parse_brackets("0: 10,5; 1 000: 8")
    assert rules.brackets_from_json(rules.brackets_to_json(brackets)) == brackets
    assert rules.brackets_text(brackets) == "0: 10.5\n1000: 8"
