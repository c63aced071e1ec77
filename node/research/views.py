"""What the research pages show: per indicator, a bar chart of its headline figure month by month
(server-rendered SVG, withheld months drawn as such) and the data table beside it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from node.research.catalogue import CATALOGUE, Indicator
from node.research.cells import TOTAL, Cell
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
