"""Each indicator of :mod:`.catalogue` computed from :class:`~.records.Records` into raw cells (pure
functions: the definitions are tested on hand-built data). :func:`compute` gives every cell of a range
of months; :mod:`.cells` then decides what may be published."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TypeVar

from node.research.care import care
from node.research.cells import TOTAL, Key, RawCell
from node.research.records import (
    FEDERATED,
    LOCAL,
    AgreementRecord,
    EvaluationRecord,
    ProposalRecord,
    Records,
    month_of,
)

T = TypeVar("T")
PLACES = Decimal("0.01")
OUTCOMES = ("completed", "cancelled_late", "cancelled", "disputed", "ongoing")


def _round(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(PLACES, rounding=ROUND_HALF_EVEN)


def _hours(start: datetime, end: datetime) -> Decimal:
    return _round(Decimal((end - start).total_seconds()) / Decimal(3600))


def _by_month_scope(
    items: Iterable[T], month: Callable[[T], str], scope: Callable[[T], str], wanted: set[str]
) -> dict[tuple[str, str], list[T]]:
    found: dict[tuple[str, str], list[T]] = defaultdict(list)
    for item in items:
        m = month(item)
        if m in wanted:
            found[m, scope(item)].append(item)
    return found


def _group(
    month: str,
    scope: str,
    indicator: str,
    prefix: str,
    parts: dict[str, Tally],
    order: Sequence[str] = (),
) -> list[RawCell]:
    """An additive group: one count cell per part and their total (``prefix`` + ``*``)."""
    name = f"{month}|{scope}|{indicator}|{prefix}"
    names = list(order) or sorted(parts)
    cells = []
    everyone: set[str] = set()
    records: set[str] = set()
    for part in names:
        tally = parts.get(part, Tally())
        everyone |= tally.people
        records |= tally.records
        key = Key(month, scope, indicator, prefix + part)
        cells.append(
            RawCell(
                key,
                Decimal(tally.count),
                tally.count,
                frozenset(tally.people),
                group=name,
                records=frozenset(tally.records),
            )
        )
    total = Key(month, scope, indicator, prefix + TOTAL)
    items = sum(c.items for c in cells)
    cells.append(
        RawCell(
            total,
            Decimal(items),
            items,
            frozenset(everyone),
            group=name,
            is_total=True,
            records=frozenset(records),
        )
    )
    return cells


@dataclass
class Tally:
    """The items of one part: how many, the people behind them and the records' identities."""

    count: int = 0
    people: set[str] = field(default_factory=set)
    records: set[str] = field(default_factory=set)


def _tally(items: Iterable[tuple[str, Iterable[str], str]]) -> dict[str, Tally]:
    found: dict[str, Tally] = defaultdict(Tally)
    for part, who, ref in items:
        tally = found[part]
        tally.count += 1
        tally.people.update(who)
        tally.records.add(ref)
    return dict(found)


def _quartiles(
    month: str,
    scope: str,
    indicator: str,
    values: Sequence[Decimal],
    people: set[str],
    linked: Key | None,
    records: Iterable[str],
    mean: bool = False,
) -> list[RawCell]:
    """``q1``, ``median``, ``q3`` (and ``mean``) of ``values``, marked as quantiles (they need k values)."""
    stats: dict[str, Decimal | None] = {"q1": None, "median": None, "q3": None}
    if len(values) >= 2:
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        stats = {"q1": _round(q1), "median": _round(median), "q3": _round(q3)}
    elif values:
        stats = {"q1": values[0], "median": values[0], "q3": values[0]}
    if mean:
        stats["mean"] = _round(statistics.fmean(values)) if values else None
    frozen, refs = frozenset(people), frozenset(records)
    # The mean moves by one unit over the number of values per unit of noise (one answer more or fewer).
    step = Decimal(1) / len(values) if values else None
    return [
        RawCell(
            Key(month, scope, indicator, name),
            value,
            len(values),
            frozen,
            linked=linked,
            quantile=True,
            records=refs,
            step=step if name == "mean" else None,
        )
        for name, value in stats.items()
    ]


def proposals(month: str, scope: str, found: list[ProposalRecord]) -> list[RawCell]:
    cells: list[RawCell] = []
    for purpose in ("offer", "request"):
        mine = [p for p in found if p.purpose == purpose]
        cells += _group(
            month, scope, "proposals", f"{purpose}:", _tally((p.category, [p.author], p.ref) for p in mine)
        )
    demands = [p for p in found if p.purpose == "request"]
    answered = [p for p in demands if p.answers]
    parts = _tally(
        ("answered", [p.author, p.answers[0][0]], p.ref) if p.answers else ("unanswered", [p.author], p.ref)
        for p in demands
    )
    cells += _group(month, scope, "demand_answers", "", parts, ("answered", "unanswered"))
    waited = [_hours(p.published_at, p.answers[0][1]) for p in answered]
    people = {p.author for p in answered} | {p.answers[0][0] for p in answered}
    cells += _quartiles(
        month,
        scope,
        "first_answer_hours",
        waited,
        people,
        Key(month, scope, "demand_answers", "answered"),
        (p.ref for p in answered),
    )
    counts = [Decimal(len(p.answers)) for p in demands]
    people = {p.author for p in demands} | {who for p in demands for who, _ in p.answers}
    total = Key(month, scope, "proposals", f"request:{TOTAL}")
    refs = (p.ref for p in demands)
    cells += _quartiles(month, scope, "bids_per_demand", counts, people, total, refs, mean=True)
    return cells


def _pricing(agreement: AgreementRecord) -> str:
    if agreement.per_hour is not None and agreement.currency == "EUR":
        return "euros"
    if agreement.per_hour is not None and agreement.currency == "HOUR":
        return "tokens"
    return "other"


def _outcome(agreement: AgreementRecord) -> str:
    if agreement.state == "cancelled":
        return "cancelled_late" if agreement.late_cancellation else "cancelled"
    if agreement.state == "disputed" or agreement.disputed:
        return "disputed"
    return "completed" if agreement.state == "completed" else "ongoing"


def _pair(agreement: AgreementRecord) -> frozenset[str]:
    return frozenset((agreement.provider, agreement.requester))


def agreements(
    month: str, scope: str, found: list[AgreementRecord], earlier_pairs: set[frozenset[str]]
) -> list[RawCell]:
    """The agreements' indicators; ``earlier_pairs`` are the pairs who agreed before (updated here)."""
    cells: list[RawCell] = []

    def parties(a: AgreementRecord) -> list[str]:
        return [a.provider, a.requester]

    cells += _group(
        month,
        scope,
        "agreement_pricing",
        "",
        _tally((_pricing(a), parties(a), a.ref) for a in found),
        ("euros", "tokens", "other"),
    )
    for indicator, part in (("price_eur_hour", "euros"), ("token_rate", "tokens")):
        priced = [a for a in found if _pricing(a) == part]
        values = [_round(a.per_hour) for a in priced if a.per_hour is not None]
        people = {who for a in priced for who in parties(a)}
        linked = Key(month, scope, "agreement_pricing", part)
        cells += _quartiles(month, scope, indicator, values, people, linked, (a.ref for a in priced))
    known = [a for a in found if a.proposal_published_at is not None]
    waited = [_hours(a.proposal_published_at, a.created_at) for a in known if a.proposal_published_at]
    people = {who for a in known for who in parties(a)}
    total = Key(month, scope, "agreement_outcomes", TOTAL)
    cells += _quartiles(
        month,
        scope,
        "agreement_hours",
        waited,
        people,
        total if len(known) == len(found) else None,
        (a.ref for a in known),
    )
    cells += _group(
        month,
        scope,
        "agreement_outcomes",
        "",
        _tally((_outcome(a), parties(a), a.ref) for a in found),
        OUTCOMES,
    )
    repeats = []
    for a in sorted(found, key=lambda a: a.created_at):
        repeats.append(("repeat" if _pair(a) in earlier_pairs else "first", parties(a), a.ref))
        earlier_pairs.add(_pair(a))
    cells += _group(month, scope, "repeat_agreements", "", _tally(repeats), ("repeat", "first"))
    cells += _group(
        month,
        scope,
        "cross_node_agreements",
        "",
        _tally(("cross_node" if a.cross_node else "same_node", parties(a), a.ref) for a in found),
        ("cross_node", "same_node"),
    )
    return cells


def evaluations(month: str, scope: str, found: list[EvaluationRecord]) -> list[RawCell]:
    cells: list[RawCell] = []
    for role in ("provider", "requester"):
        mine = _tally((str(e.overall), [e.evaluator, e.evaluated], e.ref) for e in found if e.role == role)
        cells += _group(month, scope, "evaluations", f"{role}:", mine, ("1", "2", "3", "4", "5"))
    return cells


def token_circulation(month: str, records: Records) -> list[RawCell]:
    found = [t for t in records.transfers if month_of(t.at) == month]
    people = frozenset({t.payer for t in found} | {t.payee for t in found})
    hours = _round(sum((t.hours for t in found), Decimal(0)))
    refs = frozenset(t.ref for t in found)
    step = hours / len(found) if found else Decimal(0)  # the hours of a typical transfer
    return [
        RawCell(
            Key(month, LOCAL, "token_circulation", "transfers"),
            Decimal(len(found)),
            len(found),
            people,
            records=refs,
        ),
        RawCell(
            Key(month, LOCAL, "token_circulation", "hours"),
            hours,
            len(found),
            people,
            records=refs,
            step=step,
        ),
    ]


def group_work(month: str, records: Records) -> list[RawCell]:
    found = [a for a in records.assignments if month_of(a.at) == month]
    per_group: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a in found:
        per_group[a.group][a.member] += 1
    members = frozenset(a.member for a in found)
    busiest = sum(max(counts.values()) for counts in per_group.values())
    share = (Decimal(busiest) / Decimal(len(found))).quantize(Decimal("0.0001")) if found else None
    key = "group_work"
    refs = frozenset(a.ref for a in found)
    step = Decimal(1) / len(found) if found else Decimal(0)  # one assignment's part
    return [
        RawCell(
            Key(month, LOCAL, key, "assignments"), Decimal(len(found)), len(found), members, records=refs
        ),
        RawCell(Key(month, LOCAL, key, "members"), Decimal(len(members)), len(found), members, records=refs),
        RawCell(Key(month, LOCAL, key, "busiest_share"), share, len(found), members, records=refs, step=step),
    ]


def compute(records: Records, wanted: Sequence[str], *, cooperative: bool) -> list[RawCell]:
    """Every raw cell of the months ``wanted`` (``YYYY-MM``, in order)."""
    months = set(wanted)
    props = _by_month_scope(records.proposals, lambda p: month_of(p.published_at), lambda p: p.scope, months)
    evals = _by_month_scope(records.evaluations, lambda e: month_of(e.revealed_at), lambda e: e.scope, months)
    pairs: dict[str, set[frozenset[str]]] = {
        LOCAL: set(),
        FEDERATED: set(),
    }
    agreed: dict[tuple[str, str], list[AgreementRecord]] = defaultdict(list)
    for a in sorted(records.agreements, key=lambda a: a.created_at):
        month = month_of(a.created_at)
        if month < wanted[0]:
            pairs[a.scope].add(_pair(a))
        elif month in months:
            agreed[month, a.scope].append(a)
    cells: list[RawCell] = []
    for month in wanted:
        for scope in (LOCAL, FEDERATED):
            cells += proposals(month, scope, props.get((month, scope), []))
            cells += agreements(month, scope, agreed.get((month, scope), []), pairs[scope])
            cells += evaluations(month, scope, evals.get((month, scope), []))
        if cooperative:
            cells += token_circulation(month, records)
        cells += group_work(month, records)
        cells += care(month, records.visits)
    return cells
