"""Figures as CSV and JSON, each with the data dictionary of :mod:`.catalogue`."""

from __future__ import annotations

import csv
import io
from typing import Any

from node.research.catalogue import BY_NAME, dictionary
from node.research.cells import Cell
from node.research.figures import Figures

COLUMNS = ["month", "scope", "indicator", "breakdown", "value", "share", "items", "people", "suppressed"]
DICTIONARY_COLUMNS = [
    "name",
    "title",
    "definition_fr",
    "definition",
    "unit",
    "population",
    "breakdown",
    "suppression",
    "perturbation",
    "scopes",
]


def _text(value: object) -> str:
    return "" if value is None else str(value)


def cell_json(cell: Cell) -> dict[str, Any]:
    k = cell.key
    return {
        "month": k.month,
        "scope": k.scope,
        "indicator": k.indicator,
        "breakdown": k.breakdown,
        "value": None if cell.value is None else str(cell.value),
        "share": None if cell.share is None else str(cell.share),
        "items": cell.items,
        "people": cell.people,
        "suppressed": cell.suppressed or None,
    }


def to_json(figures: Figures) -> dict[str, Any]:
    """The figures and their dictionary as one JSON object (values as decimal strings: exact)."""
    return {
        **figures.header(),
        "dictionary": dictionary(figures.k),
        "figures": [cell_json(c) for c in figures.cells],
    }


def table_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """Rows as CSV with ``columns`` (None as an empty field)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: _text(row.get(name)) for name in columns})
    return buffer.getvalue()


def figures_csv(figures: Figures) -> str:
    """One line per cell; a withheld cell has empty values and the reason in ``suppressed``."""
    return table_csv(COLUMNS, [cell_json(c) for c in figures.cells])


def dictionary_csv(k: int) -> str:
    rows = [{**entry, "scopes": " ".join(entry["scopes"])} for entry in dictionary(k)]  # type: ignore[arg-type]
    return table_csv(DICTIONARY_COLUMNS, rows)


def title_of(indicator: str) -> str:
    return BY_NAME[indicator].title if indicator in BY_NAME else indicator
