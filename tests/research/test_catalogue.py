"""The data dictionary in docs/research.md is the one the catalogue generates, and every indicator the
computation gives has its entry."""

from __future__ import annotations

from pathlib import Path

from node.research.catalogue import BY_NAME, markdown
from node.research.indicators import compute
from node.research.records import Records

DOC = Path(__file__).resolve().parents[2] / "docs" / "research.md"


def test_the_documented_dictionary_is_the_generated_one() -> None:
    assert markdown(5) in DOC.read_text(encoding="utf-8")


def test_every_computed_indicator_is_in_the_catalogue() -> None:
    cells = compute(Records(), ["2026-11"], cooperative=True)
    assert {c.key.indicator for c in cells} == set(BY_NAME)
