"""The fonts the billing PDFs embed: DejaVu Sans (regular, bold, about 6,000 glyphs each) and a reduced
copy of each, "ASASAP Sans", holding only the Unicode blocks a French invoice needs (:data:`BLOCKS`).

fpdf2 parses the whole font file for every document it draws (fontTools), which for the full DejaVu is
most of a document's cost; the reduced copy parses about four times faster. A document whose every
character is in the reduced font's cmap (:func:`covers`) is drawn with it, any other with the full
font, so no character ever prints as a missing glyph.

The reduced files are made by ``scripts/vendor.sh`` (``python -m node.telemanagement.fonts``), from the
vendored DejaVu files, and committed. The Bitstream Vera licence lets modified fonts be distributed
if they are renamed to names containing neither "Bitstream" nor "Vera": they are renamed "ASASAP Sans"
throughout their name table, their copyright notices kept."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

FONTS = Path(__file__).parent / "data" / "dejavu"
# (full DejaVu file, reduced file, style as fpdf2 names it)
FACES = (
    ("DejaVuSans.ttf", "ASASAPSans.ttf", ""),
    ("DejaVuSans-Bold.ttf", "ASASAPSans-Bold.ttf", "B"),
)
REDUCED_FAMILY = "ASASAP Sans"
# The Unicode blocks the reduced fonts keep (first and last code point, inclusive).
BLOCKS = (
    (0x0000, 0x007F),  # Basic Latin
    (0x0080, 0x00FF),  # Latin-1 Supplement (U+00A0 no-break space)
    (0x0100, 0x017F),  # Latin Extended-A (Œ, œ)
    (0x0180, 0x024F),  # Latin Extended-B
    (0x02B0, 0x02FF),  # Spacing Modifier Letters (ʼ)
    (0x0300, 0x036F),  # Combining Diacritical Marks
    (0x0370, 0x03FF),  # Greek and Coptic
    (0x0400, 0x04FF),  # Cyrillic
    (0x1E00, 0x1EFF),  # Latin Extended Additional
    (0x2000, 0x206F),  # General Punctuation (U+202F narrow no-break space, dashes, quotes, …)
    (0x20A0, 0x20CF),  # Currency Symbols (€)
    (0x2100, 0x214F),  # Letterlike Symbols (№, ™)
    (0x2150, 0x218F),  # Number Forms (½)
)


def block_code_points() -> set[int]:
    return {point for first, last in BLOCKS for point in range(first, last + 1)}


@cache
def reduced_cmap() -> frozenset[int]:
    """The code points every reduced face maps to a glyph, read once per process."""
    points: frozenset[int] | None = None
    for _, reduced, _ in FACES:
        with TTFont(FONTS / reduced, lazy=True) as font:
            cmap = frozenset(font.getBestCmap())
        points = cmap if points is None else points & cmap
    assert points is not None
    return points


def covers(texts: Iterable[str]) -> bool:
    """Whether the reduced fonts have a glyph for every character of ``texts``."""
    points = reduced_cmap()
    return all(ord(char) in points for text in texts for char in text)


def reduce(source: Path, target: Path) -> None:
    """Write ``target``: ``source`` cut down to :data:`BLOCKS` and renamed ``REDUCED_FAMILY``.
    The same source gives the same bytes (the timestamps are the source's)."""
    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.name_legacy = True
    options.notdef_outline = True
    options.glyph_names = True
    options.layout_features = ["*"]
    options.recalc_timestamp = False
    options.drop_tables += ["FFTM"]  # FontForge's timestamps, which the subsetter cannot cut
    with TTFont(source, recalcTimestamp=False) as font:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(block_code_points() & set(font.getBestCmap())))
        subsetter.subset(font)
        _rename(font)
        font.save(target)


def _rename(font: TTFont) -> None:
    names = font["name"]
    style = str(names.getDebugName(2))
    postscript = REDUCED_FAMILY.replace(" ", "") + ("" if style == "Book" else f"-{style}")
    full = REDUCED_FAMILY + ("" if style == "Book" else f" {style}")
    replaced = {1: REDUCED_FAMILY, 3: f"{postscript} (reduced from DejaVu Sans)", 4: full, 6: postscript}
    for record in names.names:
        if record.nameID in replaced:
            record.string = replaced[record.nameID]
        elif record.nameID in (16, 17, 18, 21, 22):
            record.string = str(record).replace("DejaVu Sans", REDUCED_FAMILY)


def main() -> None:
    """Write the reduced faces beside the full ones (``scripts/vendor.sh``)."""
    for full, reduced, _ in FACES:
        reduce(FONTS / full, FONTS / reduced)
        with TTFont(FONTS / reduced) as font:
            print(f"{reduced}: {len(font.getGlyphOrder())} glyphs")


if __name__ == "__main__":
    main()
