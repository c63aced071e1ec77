"""The names of the bound parameters of the text conditions, shared by every backend."""

__all__ = ["TITLE_WORDS", "WORDS"]

WORDS = "text_words"  # the query matched against the whole indexed text
TITLE_WORDS = "title_words"  # the query matched against the title alone
