"""Each indicator's definition on a hand-built dataset whose answers are known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from node.research.cells import TOTAL, Key, RawCell
from node.research.indicators import compute
from node.research.records import (
    FEDERATED,
    LOCAL,
    AgreementRecord,
    AssignmentRecord,
    EvaluationRecord,
    ProposalRecord,
    Records,
    TransferRecord,
)

NOV = datetime(2026, 11, 2, 9, tzinfo=UTC)
OCT = datetime(2026, 10, 5, 9, tzinfo=UTC)


def p(i: int) -> str:
    return f"https://a.example/users/p{i}"


def q(i: int) -> str:
    return f"https://b.example/users/q{i}"


def cells_of(records: Records, *, cooperative: bool = False) -> dict[Key, RawCell]:
    return {c.key: c for c in compute(records, ["2026-11"], cooperative=cooperative)}


def value(cells: dict[Key, RawCell], indicator: str, breakdown: str, scope: str = LOCAL) -> Decimal | None:
    return cells[Key("2026-11", scope, indicator, breakdown)].value


def test_proposals_answers_and_bids() -> None:
    demands = [
        # Answered after 1, 2, 3, 4 and 10 hours, by 1 to 5 bidders; one unanswered.
        ProposalRecord(
            LOCAL,
            p(i),
            "request",
            "menage",
            NOV,
            tuple((q(j), NOV + timedelta(hours=h + j)) for j in range(i + 1)),
        )
        for i, h in enumerate([1, 2, 3, 4, 10])
    ]
    demands.append(ProposalRecord(LOCAL, p(9), "request", "jardinage", NOV))
    offers = [
        ProposalRecord(LOCAL, p(20), "offer", "menage", NOV),
        ProposalRecord(FEDERATED, q(20), "offer", "menage", NOV),
    ]
    october = [ProposalRecord(LOCAL, p(30), "offer", "menage", OCT)]
    cells = cells_of(Records(proposals=demands + offers + october))
    assert value(cells, "proposals", "request:menage") == 5
    assert value(cells, "proposals", "request:jardinage") == 1
    assert value(cells, "proposals", f"request:{TOTAL}") == 6
    assert value(cells, "proposals", f"offer:{TOTAL}") == 1  # october's is not november's
    assert value(cells, "proposals", "offer:menage", FEDERATED) == 1  # kept apart from the local ones
    assert value(cells, "demand_answers", "answered") == 5
    assert value(cells, "demand_answers", "unanswered") == 1
    # First answers after 1, 2, 3, 4, 10 hours (the first bidder answers at h + 0).
    assert value(cells, "first_answer_hours", "median") == 3
    assert value(cells, "first_answer_hours", "q1") == 2
    assert value(cells, "first_answer_hours", "q3") == 4
    # Bids per demand: 1, 2, 3, 4, 5 and 0.
    assert value(cells, "bids_per_demand", "median") == Decimal("2.5")
    assert value(cells, "bids_per_demand", "mean") == Decimal("2.5")
    assert cells[Key("2026-11", LOCAL, "first_answer_hours", "median")].people == frozenset(
        [p(i) for i in range(5)] + [q(0)]
    )


def agreement(i: int, **changes: object) -> AgreementRecord:
    values: dict[object, object] = dict(
        scope=LOCAL,
        provider=p(i),
        requester=p(100 + i),
        created_at=NOV + timedelta(hours=i),
        proposal_published_at=NOV - timedelta(hours=2 * (i + 1)),
        state="completed",
        currency="EUR",
        per_hour=Decimal(15 + i),
    )
    values.update(changes)
    return AgreementRecord(**values)  # type: ignore[arg-type]


def test_agreements_prices_outcomes_repeats_and_cross_node() -> None:
    found = [
        agreement(0),
        agreement(1),
        agreement(2, state="cancelled", late_cancellation=True),
        agreement(3, state="cancelled"),
        agreement(4, state="disputed", disputed=True),
        agreement(5, state="accepted", currency="HOUR", per_hour=Decimal(1)),
        agreement(6, currency=None, per_hour=None, requester=q(6), cross_node=True),
        agreement(0, created_at=NOV + timedelta(days=3)),  # the same pair again
    ]
    before = [agreement(1, created_at=OCT)]  # p1 and p101 had agreed in October
    cells = cells_of(Records(agreements=found + before))
    assert value(cells, "agreement_outcomes", "completed") == 4
    assert value(cells, "agreement_outcomes", "cancelled_late") == 1
    assert value(cells, "agreement_outcomes", "cancelled") == 1
    assert value(cells, "agreement_outcomes", "disputed") == 1
    assert value(cells, "agreement_outcomes", "ongoing") == 1
    assert value(cells, "agreement_outcomes", TOTAL) == 8
    assert value(cells, "agreement_pricing", "euros") == 6
    assert value(cells, "agreement_pricing", "tokens") == 1
    assert value(cells, "agreement_pricing", "other") == 1
    # Euro prices 15, 16, 17, 18, 19, 15.
    assert value(cells, "price_eur_hour", "median") == Decimal("16.5")
    assert value(cells, "price_eur_hour", "q1") == Decimal("15.25")
    assert value(cells, "token_rate", "median") == 1
    assert value(cells, "repeat_agreements", "repeat") == 2  # p1 with p101 again, p0 with p100 again
    assert value(cells, "repeat_agreements", "first") == 6
    assert value(cells, "cross_node_agreements", "cross_node") == 1
    # Time to agreement: 2(i+1) + i hours for i = 0..6 (2, 5, ... 20), and 2 + 72 for the repeat.
    assert value(cells, "agreement_hours", "median") == Decimal("12.5")


def test_evaluations_by_role_and_score() -> None:
    found = [EvaluationRecord(LOCAL, p(100 + i), p(i), "provider", 5 if i < 4 else 3, NOV) for i in range(6)]
    found.append(EvaluationRecord(LOCAL, p(0), p(100), "requester", 4, NOV))
    cells = cells_of(Records(evaluations=found))
    assert value(cells, "evaluations", "provider:5") == 4
    assert value(cells, "evaluations", "provider:3") == 2
    assert value(cells, "evaluations", "provider:1") == 0
    assert value(cells, "evaluations", f"provider:{TOTAL}") == 6
    assert value(cells, "evaluations", "requester:4") == 1


def test_token_circulation_and_group_work() -> None:
    transfers = [TransferRecord(p(i), p(i + 1), Decimal("1.5"), NOV) for i in range(4)]
    transfers.append(TransferRecord(p(0), p(1), Decimal("2"), OCT))
    assignments = [
        AssignmentRecord("soins", p(1), NOV),
        AssignmentRecord("soins", p(1), NOV),
        AssignmentRecord("soins", p(2), NOV),
        AssignmentRecord("jardins", p(3), NOV),
    ]
    cells = cells_of(Records(transfers=transfers, assignments=assignments), cooperative=True)
    assert value(cells, "token_circulation", "transfers") == 4
    assert value(cells, "token_circulation", "hours") == 6
    assert value(cells, "group_work", "assignments") == 4
    assert value(cells, "group_work", "members") == 3
    assert value(cells, "group_work", "busiest_share") == Decimal("0.75")  # (2 + 1) of 4
    market = cells_of(Records(transfers=transfers), cooperative=False)
    assert Key("2026-11", LOCAL, "token_circulation", "hours") not in market
