"""What someone types, read as a full-text query that every backend runs the same way.

The text is folded and cut into words, stop words are dropped (at most :data:`MAX_WORDS` words, each at
most 40 characters, so a query stays cheap). Each word, or run of words equal to a synonym's term, is a
*group*: a result must match every group, and a group matches when one of its alternatives does (a
synonym set gives one alternative per term, all of whose words must match). The last word is a prefix
(search as you type) unless the text ends with a space, the word is a single letter or part of a
synonym. Nothing of
the backends' query syntax survives folding (quotes, ``*``, ``-``, parentheses become spaces; ``OR`` and
``NEAR`` are plain words), so no input can change the query's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from node.core.textsearch import stem, words
from node.search.synonyms import SynonymSet, sets

__all__ = ["MAX_LENGTH", "MAX_WORDS", "Group", "Term", "TextQuery", "parse"]

MAX_LENGTH = 200
MAX_WORDS = 8
MIN_PREFIX = 2  # a one-letter prefix would read most of the index


@dataclass(frozen=True)
class Term:
    word: str  # folded, as typed (PostgreSQL stems it itself)
    stem: str  # its French stem (what SQLite's index holds)
    prefix: bool = False


Alternative = tuple[Term, ...]


@dataclass(frozen=True)
class Group:
    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True)
class TextQuery:
    groups: tuple[Group, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.groups)


def _synonym_at(stems: list[str], start: int) -> tuple[int, SynonymSet] | None:
    """The longest synonym term beginning at ``start``: (its length in words, its set)."""
    best: tuple[int, SynonymSet] | None = None
    for synonym_set in sets():
        for key in synonym_set.stem_keys():
            n = len(key)
            if tuple(stems[start : start + n]) == key and (best is None or n > best[0]):
                best = (n, synonym_set)
    return best


@lru_cache(maxsize=1024)
def parse(text: str) -> TextQuery:
    """The query of ``text`` (empty when nothing searchable is left; kept for the next time it is asked,
    a search parsing its words several times)."""
    text = text[:MAX_LENGTH]
    typed = words(text)[:MAX_WORDS]
    stems = [stem(w) for w in typed]
    prefix_last = bool(text) and not text[-1].isspace()
    groups: list[Group] = []
    i = 0
    while i < len(typed):
        synonym = _synonym_at(stems, i)
        if synonym is not None:
            n, synonym_set = synonym
            alternatives = tuple(
                tuple(Term(w, s) for w, s in zip(ws, ss, strict=True)) for ws, ss in synonym_set.terms
            )
            groups.append(Group(alternatives))
            i += n
            continue
        last = i == len(typed) - 1
        prefix = last and prefix_last and len(typed[i]) >= MIN_PREFIX
        groups.append(Group(((Term(typed[i], stems[i], prefix=prefix),),)))
        i += 1
    return TextQuery(tuple(groups))
