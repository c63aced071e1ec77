"""The cell key method against differencing: two tables computed before and after one person leaves (or
one agreement is added) no longer give that person's contribution, while every published count stays
within the documented error of the true one."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.research import cellkey
from node.research.cellkey import MAX_CHANGE, CellKeys
from node.research.cells import Key, RawCell, protect
from node.research.indicators import compute
from node.research.records import LOCAL, AgreementRecord, EvaluationRecord, Records

NOV = datetime(2026, 11, 2, tzinfo=UTC)
LEAVER = "https://n.example/users/leaver"
BAD = Key("2026-11", LOCAL, "evaluations", "provider:1")
COMPLETED = Key("2026-11", LOCAL, "agreement_outcomes", "completed")


def person(i: int) -> str:
    return f"https://n.example/users/p{i}"


def evaluation(evaluator: str, evaluated: str, score: int, hour: int) -> EvaluationRecord:
    return EvaluationRecord(LOCAL, evaluator, evaluated, "provider", score, NOV + timedelta(hours=hour))


def agreement(provider: str, requester: str, hour: int) -> AgreementRecord:
    return AgreementRecord(LOCAL, provider, requester, NOV + timedelta(hours=hour), NOV, "completed")


def town(leaver_scores: int) -> Records:
    """Three bad evaluations (six people) and twelve good ones; the leaver gave ``leaver_scores`` more
    bad ones (0 or 1) and a good one. Eight agreements completed, three cancelled, and the leaver's."""
    evaluations = [evaluation(person(i), person(20 + i), 1, i) for i in range(3)]
    evaluations += [evaluation(person(i), person(20 + i % 4), 5, 10 + i) for i in range(12)]
    evaluations += [evaluation(LEAVER, person(30), 1, 40) for _ in range(leaver_scores)]
    evaluations.append(evaluation(LEAVER, person(31), 5, 41))
    agreements = [agreement(person(20 + i), person(i), i) for i in range(8)]
    agreements += [
        AgreementRecord(
            LOCAL, person(40 + i), person(50 + i), NOV + timedelta(hours=20 + i), NOV, "cancelled"
        )
        for i in range(3)
    ]
    agreements.append(agreement(person(30), LEAVER, 50))
    return Records(evaluations=evaluations, agreements=agreements)


def without_leaver(records: Records) -> Records:
    return Records(
        evaluations=[e for e in records.evaluations if LEAVER not in (e.evaluator, e.evaluated)],
        agreements=[a for a in records.agreements if LEAVER not in (a.provider, a.requester)],
    )


def published(records: Records, keys: CellKeys | None) -> dict[Key, Decimal | None]:
    raw = compute(records, ["2026-11"], cooperative=False)
    return {c.key: c.value for c in protect(raw, 5, keys) if c.shown}


def difference(before: Records, after: Records, cell: Key, keys: CellKeys | None) -> int:
    first, second = published(before, keys)[cell], published(after, keys)[cell]
    assert first is not None and second is not None
    return int(first - second)


def test_without_noise_differencing_gives_the_leavers_bad_evaluation_away() -> None:
    """The attack this method is for: exact counts, before and after the opt-out, minus each other."""
    for gave in (0, 1):
        before = town(gave)
        assert difference(before, without_leaver(before), BAD, None) == gave


def secrets(count: int) -> list[CellKeys]:
    return [CellKeys.of_secret(f"node secret {i}") for i in range(count)]


@pytest.mark.parametrize("cell", [BAD, COMPLETED])
def test_with_cell_keys_differencing_no_longer_tells_whether_the_leaver_contributed(cell: Key) -> None:
    """Over many nodes (secrets), the difference of the two tables is the leaver's true contribution in
    about a third of cases only, and a contribution of 1 and of 0 give differences distributed nearly
    alike (total variation about 1/3; an attacker's best guess is right about two times in three, no
    better than a coin much): no table pair says whether that person gave a bad evaluation."""
    if cell == COMPLETED:  # one agreement added, completed (it counts here) or cancelled (it does not)
        base = without_leaver(town(0))
        worlds = {}
        for gave, state in ((0, "cancelled"), (1, "completed")):
            added = AgreementRecord(LOCAL, person(30), person(31), NOV + timedelta(hours=60), NOV, state)
            worlds[gave] = (Records(base.proposals, [*base.agreements, added], base.evaluations), base)
    else:
        worlds = {gave: (town(gave), without_leaver(town(gave))) for gave in (0, 1)}
    found: dict[int, Counter[int]] = {0: Counter(), 1: Counter()}
    trials = 400
    for keys in secrets(trials):
        for gave, (before, after) in worlds.items():
            found[gave][difference(before, after, cell, keys)] += 1
    assert found[1][1] / trials < 0.5  # the true contribution is what differencing shows, rarely
    assert found[1][0] / trials > 0.1  # and often the leaver looks like they gave nothing
    values = set(found[0]) | set(found[1])
    variation = sum(abs(found[0][v] - found[1][v]) for v in values) / (2 * trials)
    assert variation < 0.5, f"the two worlds are told apart too well ({variation:.2f})"


def test_the_same_records_give_the_same_figures() -> None:
    """Asking again gives the same noise: averaging repeated tables recovers nothing."""
    keys = CellKeys.of_secret("node secret")
    assert published(town(1), keys) == published(town(1), CellKeys.of_secret("node secret"))
    assert published(town(1), keys) != published(town(1), CellKeys.of_secret("another secret"))


def test_the_perturbation_table_has_mean_zero_and_the_documented_spread() -> None:
    assert sum(p * w for p, w in cellkey.PERTURBATIONS) == pytest.approx(0)
    assert sum(w for _, w in cellkey.PERTURBATIONS) == pytest.approx(1)
    changes = Counter(cellkey.change((2 * k + 1) * cellkey.N // 2000) for k in range(1000))
    assert changes == {-2: 50, -1: 200, 0: 500, 1: 200, 2: 50}
    assert cellkey.description()["maxChange"] == MAX_CHANGE == 2


evaluations = st.lists(
    st.tuples(st.integers(0, 14), st.integers(15, 24), st.integers(1, 5)), min_size=0, max_size=40
)


@settings(max_examples=80, deadline=None)
@given(evaluations, st.integers(3, 6), st.text(min_size=1, max_size=8))
def test_every_published_count_stays_within_the_documented_error(
    rows: list[tuple[int, int, int]], k: int, secret: str
) -> None:
    records = Records(
        evaluations=[evaluation(person(a), person(b), s, i) for i, (a, b, s) in enumerate(rows)]
    )
    raw = compute(records, ["2026-11"], cooperative=False)
    exact = {c.key: c for c in protect(raw, k)}
    by_key: dict[Key, RawCell] = {c.key: c for c in raw}
    for cell in protect(raw, k, CellKeys.of_secret(secret)):
        assert cell.suppressed == exact[cell.key].suppressed  # suppression is decided on true counts
        if not cell.shown:
            continue
        true = by_key[cell.key]
        assert cell.people is not None and cell.people >= k or not true.people
        if true.is_count and true.value is not None:
            assert cell.value is not None
            assert abs(cell.value - true.value) <= MAX_CHANGE
            assert (cell.value == 0) == (true.value == 0)  # an empty count stays empty, no other becomes 0
        elif true.quantile and true.step is None:
            assert cell.value == true.value
