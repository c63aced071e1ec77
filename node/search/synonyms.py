"""The sector's synonyms (``data/synonyms.txt``): "ménage" also finds "entretien" and "nettoyage".

Each line is a set of terms of one or more words; terms are compared by their stems, so "ménages" and
"Ménage" are the term "ménage". A term of several words must match all its words.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from node.core.textsearch import stems, words

__all__ = ["SynonymSet", "load", "parse", "sets"]


@dataclass(frozen=True)
class SynonymSet:
    """One line: each term as its folded words and their stems."""

    terms: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]

    def stem_keys(self) -> tuple[tuple[str, ...], ...]:
        return tuple(s for _, s in self.terms)


def parse(text: str) -> list[SynonymSet]:
    """The sets of a synonyms file; a line with fewer than two terms is an error."""
    found: list[SynonymSet] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        terms = [t.strip() for t in line.split("|") if t.strip()]
        if len(terms) < 2:
            raise ValueError(f"line {number}: a synonym set needs at least two terms")
        entries = tuple((tuple(words(t)), tuple(stems(t))) for t in terms)
        if any(not s for _, s in entries):
            raise ValueError(f"line {number}: a term is only stop words")
        found.append(SynonymSet(entries))
    return found


@cache
def load() -> tuple[SynonymSet, ...]:
    """The shipped sets."""
    text = resources.files("node.search").joinpath("data/synonyms.txt").read_text(encoding="utf-8")
    return tuple(parse(text))


def sets() -> tuple[SynonymSet, ...]:
    return load()
