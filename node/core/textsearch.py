"""French text analysis for full-text search: the same words on every database.

A text is folded (lower case, accents and ligatures removed, every non-letter a space), cut into words,
French stop words are dropped and each word is reduced to its French Snowball stem (PyStemmer, the
algorithm PostgreSQL's ``french_stem`` dictionary also uses). The SQLite index stores these stems; the
PostgreSQL index runs the same steps in the database (``unaccent`` then ``french_stem``), and the stop
words are PostgreSQL's own list (``data/french.stop``, from Snowball), so that both find the same rows.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources

import Stemmer

__all__ = ["MAX_WORD", "fold", "is_stop_word", "stem", "stems", "terms", "words"]

MAX_WORD = 40  # longer "words" are noise (a pasted URL, a hash): cut, as PostgreSQL's parser would not be
_NOT_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Lower-cased, without accents, with single spaces between words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    bare = bare.replace("œ", "oe").replace("æ", "ae")
    return " ".join(_NOT_WORD.sub(" ", bare).split())


@cache
def _stop_words() -> frozenset[str]:
    text = resources.files("node.core").joinpath("data/french.stop").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("french")


def is_stop_word(word: str) -> bool:
    """Whether a folded word is one the index leaves out ("de", "la", "et"...)."""
    return word in _stop_words()


def words(text: str) -> list[str]:
    """The folded words of ``text`` that are not stop words (each cut to :data:`MAX_WORD`)."""
    return [w[:MAX_WORD] for w in fold(text).split() if not is_stop_word(w)]


def stem(word: str) -> str:
    """The French stem of one folded word."""
    return str(_stemmer().stemWord(word))


def stems(text: str) -> list[str]:
    """The stems of the words of ``text``, in order."""
    return [str(s) for s in _stemmer().stemWords(words(text))]


def terms(text: str) -> str:
    """What the SQLite index stores for ``text``: its stems separated by spaces."""
    return " ".join(stems(text))
