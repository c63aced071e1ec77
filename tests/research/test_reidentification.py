"""Attacks on whole exports: generated populations with small groups go through the real computation
and protection, and a test tries to recover one person's activity, price or evaluation from what is
shown: by differencing a total and its shown parts, by quartiles of few values, and by comparing the
figures before and after someone leaves them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from node.research.cells import TOTAL, Cell, RawCell, protect
from node.research.indicators import compute
from node.research.records import LOCAL, AgreementRecord, EvaluationRecord, ProposalRecord, Records

NOV = datetime(2026, 11, 2, tzinfo=UTC)
CATEGORIES = ["menage", "repassage", "jardinage", "courses"]
STATES = ["completed", "completed", "cancelled", "disputed", "accepted"]


def person(i: int) -> str:
    return f"https://n.example/users/p{i}"


proposal = st.tuples(st.integers(0, 11), st.sampled_from(["offer", "request"]), st.sampled_from(CATEGORIES))
agreement = st.tuples(
    st.integers(0, 11), st.integers(12, 19), st.sampled_from(STATES), st.integers(10, 40), st.booleans()
)
evaluation = st.tuples(st.integers(0, 11), st.integers(12, 19), st.integers(1, 5), st.booleans())


def records(
    proposals: list[tuple[int, str, str]],
    agreements: list[tuple[int, int, str, int, bool]],
    evaluations: list[tuple[int, int, int, bool]],
) -> Records:
    return Records(
        proposals=[
            ProposalRecord(LOCAL, person(a), purpose, category, NOV + timedelta(hours=i))
            for i, (a, purpose, category) in enumerate(proposals)
        ],
        agreements=[
            AgreementRecord(
                LOCAL,
                person(p),
                person(r),
                NOV + timedelta(hours=i),
                NOV,
                state,
                late_cancellation=late,
                currency="EUR",
                per_hour=Decimal(price),
            )
            for i, (p, r, state, price, late) in enumerate(agreements)
        ],
        evaluations=[
            EvaluationRecord(
                LOCAL, person(a), person(b), "provider" if by_requester else "requester", score, NOV
            )
            for a, b, score, by_requester in evaluations
        ],
    )


def check(raw: list[RawCell], published: list[Cell], k: int) -> None:
    by_key = {c.key: c for c in raw}
    shown = {c.key for c in published if c.shown}
    for key in shown:
        source = by_key[key]
        assert source.items == 0 or len(source.people) >= k, f"{key} shown from {len(source.people)} people"
        if source.quantile:
            assert source.items >= k, f"{key} is a quartile of {source.items} values"
    groups: dict[str, list[RawCell]] = {}
    for cell in raw:
        if cell.group:
            groups.setdefault(cell.group, []).append(cell)
    for cells in groups.values():
        total = next(c for c in cells if c.is_total)
        if total.key not in shown:
            continue
        hidden = [c for c in cells if not c.is_total and c.key not in shown]
        people = set().union(*(c.people for c in hidden)) if hidden else set()
        # Total minus the shown parts is the sum of the hidden ones: it must come from at least k people.
        assert not people or len(people) >= k, f"{total.key} minus its parts gives {len(people)} people"


@settings(max_examples=80, deadline=None)
@given(
    st.lists(proposal, max_size=25),
    st.lists(agreement, max_size=20),
    st.lists(evaluation, max_size=20),
    st.integers(3, 6),
)
def test_no_export_of_a_small_population_singles_anyone_out(
    proposals: list[tuple[int, str, str]],
    agreements: list[tuple[int, int, str, int, bool]],
    evaluations: list[tuple[int, int, int, bool]],
    k: int,
) -> None:
    raw = compute(records(proposals, agreements, evaluations), ["2026-11"], cooperative=False)
    check(raw, protect(raw, k), k)


def test_a_lone_high_price_is_never_a_shown_quartile() -> None:
    """Four agreements at 20 €/h and one at 95 €/h: with k = 5 the quartiles are shown (five values from
    ten people) but none of them is 95; with four agreements they are withheld altogether."""
    agreements = [(i, 12 + i, "completed", 20, False) for i in range(4)] + [(4, 16, "completed", 95, False)]
    raw = compute(records([], agreements, []), ["2026-11"], cooperative=False)
    shown = {
        c.key.breakdown: c.value for c in protect(raw, 5) if c.shown and c.key.indicator == "price_eur_hour"
    }
    assert shown and Decimal(95) not in shown.values()
    raw = compute(records([], agreements[1:], []), ["2026-11"], cooperative=False)
    assert not any(c.shown for c in protect(raw, 5) if c.key.indicator == "price_eur_hour")


def test_one_bad_evaluation_cannot_be_recovered_from_the_total() -> None:
    """Six evaluations of 5 and one of 1 (two people): the 1 is withheld, and so is the 5, since the
    total minus the shown scores would give it away."""
    evaluations = [(i, 12 + (i % 6), 5, True) for i in range(6)] + [(11, 19, 1, True)]
    raw = compute(records([], [], evaluations), ["2026-11"], cooperative=False)
    shown = {
        c.key.breakdown: c
        for c in protect(raw, 5)
        if c.key.indicator == "evaluations" and c.key.scope == LOCAL
    }
    assert not shown["provider:1"].shown and not shown["provider:5"].shown
    assert shown[f"provider:{TOTAL}"].value == 7
