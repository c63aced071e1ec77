"""The names of the bound parameters of the text conditions, shared by every backend, and the shape of a
row check."""

from collections.abc import Callable

__all__ = ["TITLE_WORDS", "WORDS", "Checker"]

# (row id, its stored title terms, its stored text terms) -> (the text matches, the title matches)
Checker = Callable[[int, str, str], tuple[bool, bool]]

WORDS = "text_words"  # the query matched against the whole indexed text
TITLE_WORDS = "title_words"  # the query matched against the title alone
