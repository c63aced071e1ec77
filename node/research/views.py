"""What the research pages show: per indicator, a bar chart of its headline figure month by month
(server-rendered SVG, withheld months drawn as such) and the data table beside it; and, when this node
has collected other nodes' figures (``asasap research collect --save``), market and cooperative nodes
side by side, with the intervals of their shares."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from node.research.catalogue import CATALOGUE, Indicator
from node.research.cells import TOTAL, Cell
from node.research.collect import SETTINGS
from node.research.figures import Figures

HEADLINE = {
    "proposals": f"request:{TOTAL}",
    "demand_answers": "answered",
    "first_answer_hours": "median",
    "bids_per_demand": "median",
    "agreement_hours": "median",
    "agreement_pricing": TOTAL,
    "price_eur_hour": "median",
    "token_rate": "median",
    "agreement_outcomes": "completed",
    "evaluations": f"provider:{TOTAL}",
    "repeat_agreements": "repeat",
    "cross_node_agreements": "cross_node",
    "token_circulation": "hours",
    "group_work": "assignments",
    "care_hours": "done",
    "visit_anomalies": "per_100_visits",
    "punctuality": "on_time",
}
CHART_HEIGHT = 120


@dataclass(frozen=True)
class Bar:
    month: str
    value: Decimal | None
    height: int  # pixels, 0 when withheld or nothing
    suppressed: bool


@dataclass(frozen=True)
class Row:
    breakdown: str
    cells: list[Cell]


@dataclass(frozen=True)
class Chart:
    indicator: Indicator
    headline: str
    bars: list[Bar]
    rows: list[Row]


def charts(figures: Figures, scope: str = "local") -> list[Chart]:
    """One chart per indicator that has cells in ``scope``."""
    found = []
    for indicator in CATALOGUE:
        cells = [c for c in figures.cells if c.key.indicator == indicator.name and c.key.scope == scope]
        if not cells:
            continue
        by = {(c.key.month, c.key.breakdown): c for c in cells}
        headline = HEADLINE[indicator.name]
        values = [by[m, headline].value for m in figures.months if (m, headline) in by]
        top = max((v for v in values if v is not None), default=Decimal(0))
        bars = []
        for month in figures.months:
            cell = by.get((month, headline))
            value = cell.value if cell is not None else None
            height = int(CHART_HEIGHT * value / top) if value is not None and top > 0 else 0
            bars.append(Bar(month, value, height, cell is not None and not cell.shown))
        breakdowns = list(dict.fromkeys(c.key.breakdown for c in cells))
        rows = [Row(b, [by[m, b] for m in figures.months if (m, b) in by]) for b in breakdowns]
        found.append(Chart(indicator, headline, bars, rows))
    return found


@dataclass(frozen=True)
class Side:
    """One setting's pooled figure in a comparison (None where nothing is known)."""

    mode: str
    value: str | None
    share: float | None
    low: float | None
    high: float | None
    nodes: int | None
    people: int | None
    withheld: int | None


@dataclass(frozen=True)
class Compared:
    indicator: Indicator
    breakdown: str
    sides: list[Side]


@dataclass(frozen=True)
class Comparison:
    """The last ``collect --save``: when, from which nodes, and each indicator's headline side by side."""

    collected_at: str
    nodes: list[dict[str, str]]
    rows: list[Compared]
    modes: list[str]  # the settings some figure is known for


def _float(value: object) -> float | None:
    try:
        return None if value is None else float(str(value))
    except ValueError:
        return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def comparison(saved: dict[str, Any] | None) -> Comparison | None:
    """The headline rows of a saved comparison (:func:`.collect.load`), in the catalogue's order."""
    if not saved:
        return None
    by = {(r.get("indicator"), r.get("breakdown")): r for r in saved["rows"] if isinstance(r, dict)}
    rows = []
    for indicator in CATALOGUE:
        row = by.get((indicator.name, HEADLINE[indicator.name]))
        if row is None:
            continue
        sides = [
            Side(
                mode,
                None if row.get(f"{mode}_value") is None else str(row[f"{mode}_value"]),
                _float(row.get(f"{mode}_share"))
                if row.get(f"{mode}_share") is not None
                else (
                    _float(row.get(f"{mode}_value")) if HEADLINE[indicator.name] == "busiest_share" else None
                ),
                _float(row.get(f"{mode}_ci_low")),
                _float(row.get(f"{mode}_ci_high")),
                _int(row.get(f"{mode}_nodes")),
                _int(row.get(f"{mode}_people")),
                _int(row.get(f"{mode}_withheld")),
            )
            for mode in SETTINGS
        ]
        rows.append(Compared(indicator, row["breakdown"], sides))
    nodes = [
        {"name": str(n.get("name") or n.get("node")), "node": str(n.get("node")), "mode": str(n.get("mode"))}
        for n in saved.get("nodes", [])
        if isinstance(n, dict)
    ]
    modes = [m for m in SETTINGS if any(n["mode"] == m for n in nodes)]
    return Comparison(str(saved.get("collectedAt") or ""), nodes, rows, modes)
