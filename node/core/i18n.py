"""Translations: English message ids in the code, French (the default) and English catalogs.

Catalogs are the ``.po`` files under ``node/http/pages/translations``; they are compiled in memory when
the app is built, so no binary file is kept in the repository. The language of a request is the person's
choice (account or cookie), else the best match of ``Accept-Language``, else the node's default.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = ("fr", "en")
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}

current_language: ContextVar[str] = ContextVar("current_language", default="fr")


@dataclass(frozen=True)
class Catalogs:
    """The compiled catalogs of every supported language."""

    by_language: Mapping[str, Translations]

    @classmethod
    def load(cls, directory: Path) -> Catalogs:
        """Compile the ``<language>/LC_MESSAGES/messages.po`` catalogs found in ``directory``."""
        loaded: dict[str, Translations] = {}
        for language in LANGUAGES:
            po_path = directory / language / "LC_MESSAGES" / "messages.po"
            if not po_path.exists():
                loaded[language] = Translations()
                continue
            with po_path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            loaded[language] = Translations(buffer)
        return cls(loaded)

    def gettext(self, message: str, language: str | None = None) -> str:
        translations = self.by_language.get(language or current_language.get())
        return translations.gettext(message) if translations else message

    def ngettext(self, singular: str, plural: str, n: int, language: str | None = None) -> str:
        translations = self.by_language.get(language or current_language.get())
        if translations is None:
            return singular if n == 1 else plural
        return translations.ngettext(singular, plural, n)


# The catalogs shipped with the node (the web layer loads the same directory when it builds the app).
SHIPPED_CATALOGS = Path(__file__).resolve().parents[1] / "http" / "pages" / "translations"


@lru_cache(maxsize=1)
def shipped() -> Catalogs:
    """The shipped catalogs, compiled on first use (never at import)."""
    return Catalogs.load(SHIPPED_CATALOGS)


def in_every_language(message: str) -> dict[str, str]:
    """``message`` in each supported language: what leaves the node for a server that cannot know its
    reader's language (the reason of a refusal, as an ActivityStreams ``contentMap``)."""
    catalogs = shipped()
    return {language: catalogs.gettext(message, language) for language in LANGUAGES}


def negotiate(accept_language: str | None, default: str) -> str:
    """The supported language that ``Accept-Language`` prefers, else ``default``."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for negative_quality, _position, tag in sorted(ranked):
        if negative_quality >= 0:
            break
        base = tag.split("-")[0]
        if base in LANGUAGES:
            return base
    return default


@lru_cache(maxsize=8)
def locale_for(language: str) -> Locale:
    """The Babel locale of ``language`` (French of France, else British English), parsed once."""
    try:
        return Locale.parse("fr_FR" if language == "fr" else "en_GB")
    except UnknownLocaleError:  # pragma: no cover - babel always knows these two
        return Locale("en")
