"""The reduced fonts the billing PDFs draw French text with: exactly the chosen Unicode blocks of DejaVu
Sans, renamed as its licence asks, and made again byte for byte from the vendored files."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from node.telemanagement import fonts


@pytest.mark.parametrize(("full", "reduced", "style"), fonts.FACES)
def test_a_reduced_font_is_the_blocks_of_the_full_one_renamed(full: str, reduced: str, style: str) -> None:
    with TTFont(fonts.FONTS / full) as whole, TTFont(fonts.FONTS / reduced) as small:
        _check(whole, small, style)


def _check(whole: TTFont, small: TTFont, style: str) -> None:
    kept = set(small.getBestCmap())
    assert kept == fonts.block_code_points() & set(whole.getBestCmap())
    assert {0x00A0, 0x202F, 0x20AC, 0x0152, 0x0153, 0x2019, 0x00AB, 0x00BB} <= kept
    assert len(small.getGlyphOrder()) < len(whole.getGlyphOrder()) / 3
    assert {point: small.getBestCmap()[point] for point in kept} == {
        point: whole.getBestCmap()[point] for point in kept
    }  # the same glyphs, under the same names
    names = small["name"]
    assert str(names.getDebugName(1)) == "ASASAP Sans"
    assert str(names.getDebugName(6)) == "ASASAPSans" + ("-Bold" if style == "B" else "")
    for record in names.names:
        if record.nameID in (1, 3, 4, 6, 16):
            assert "Vera" not in str(record) and "Bitstream" not in str(record)
    assert "Bitstream" in str(names.getDebugName(0))  # the copyright notice kept


@pytest.mark.parametrize(("full", "reduced", "style"), fonts.FACES)
def test_the_reduction_is_reproducible(full: str, reduced: str, style: str, tmp_path: Path) -> None:
    fonts.reduce(fonts.FONTS / full, tmp_path / reduced)
    assert (tmp_path / reduced).read_bytes() == (fonts.FONTS / reduced).read_bytes()


def test_coverage_is_read_from_the_reduced_fonts() -> None:
    assert fonts.covers(["Facture n° 12 : 1\u202f234,50\u00a0€ – Œuvre « Ça »", "Αθήνα", "Москва", ""])
    assert not fonts.covers(["Nino ნინო"])
    assert not fonts.covers(["مريم"])
    assert not fonts.covers(["\U0001f600"])
    missing = {ord(c) for c in "ნم"}
    assert not missing & fonts.reduced_cmap()
