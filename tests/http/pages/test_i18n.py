"""Translation catalogs: in step with the sources, complete in French, and picked from Accept-Language.

When the first tests fail, run ``scripts/messages.sh`` to add the new ids to both catalogs and drop the
stale ones, then translate the new ids in the French catalog (the English msgstr stays empty).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from node.core.i18n import LANGUAGES, Catalogs, negotiate
from node.http.pages.assets import TRANSLATIONS_DIR

ROOT = Path(__file__).resolve().parents[3]
TRANSLATIONS = TRANSLATIONS_DIR

# The same extraction as babel.cfg and ``pybabel extract -k N_``.
METHOD_MAP = [("node/**.py", "python"), ("node/http/pages/templates/**.html", "jinja2")]
OPTIONS_MAP = {
    "node/http/pages/templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trim_blocks": "true",
        "lstrip_blocks": "true",
    }
}
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}

PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")

# (context, singular, plural): what identifies a message in a catalog.
Key = tuple[str | None, str, str | None]


def describe(key: Key) -> str:
    context, singular, plural = key
    text = f"msgid {singular!r}"
    if plural is not None:
        text += f" / msgid_plural {plural!r}"
    if context is not None:
        text = f"msgctxt {context!r} " + text
    return text


def listing(keys: Iterable[Key]) -> str:
    return "\n".join(
        f"  {describe(key)}" for key in sorted(keys, key=lambda k: (k[1], k[2] or "", k[0] or ""))
    )


def message_key(message_id: str | Sequence[str], context: str | None) -> Key:
    if not isinstance(message_id, str):
        return (context, message_id[0], message_id[1] if len(message_id) > 1 else None)
    return (context, message_id, None)


@cache
def extracted() -> dict[Key, list[str]]:
    """Every message id in the sources, with where it occurs."""
    found: dict[Key, list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map=METHOD_MAP, options_map=OPTIONS_MAP, keywords=KEYWORDS
    ):
        key = message_key(message, context)
        found.setdefault(key, []).append(f"{filename}:{lineno}")
    return found


@cache
def catalog(language: str) -> Catalog:
    path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    assert path.exists(), f"missing catalog {path.relative_to(ROOT)}: run scripts/messages.sh"
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def entries(language: str) -> dict[Key, Message]:
    return {message_key(m.id, m.context): m for m in catalog(language) if m.id}


def translations_of(message: Message) -> list[str]:
    string = message.string
    if isinstance(string, tuple | list):
        return [str(form) for form in string]
    return [string or ""]


def placeholders(text: str) -> set[str]:
    return {match.group(0) for match in PLACEHOLDER.finditer(text)}


def test_the_sources_have_messages() -> None:
    ids = extracted()
    assert len(ids) > 100, f"only {len(ids)} ids extracted: is the method map still right?"
    assert message_key("Log in", None) in ids


def test_every_id_is_translated_in_french() -> None:
    fr = entries("fr")
    missing = {key for key in extracted() if key not in fr}
    untranslated = {
        key
        for key in extracted()
        if key in fr and (fr[key].fuzzy or not all(form.strip() for form in translations_of(fr[key])))
    }
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} id(s) not in the catalog (run scripts/messages.sh first):\n{listing(missing)}"
        )
    if untranslated:
        problems.append(
            f"{len(untranslated)} id(s) with an empty or fuzzy translation (fuzzy ones are not used):\n"
            f"{listing(untranslated)}"
        )
    assert not problems, (
        "Translate these ids in node/http/pages/translations/fr/LC_MESSAGES/messages.po:\n"
        + "\n".join(problems)
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_has_exactly_the_extracted_ids(language: str) -> None:
    in_catalog = set(entries(language))
    in_sources = set(extracted())
    missing = in_sources - in_catalog
    stale = in_catalog - in_sources
    problems = []
    if missing:
        problems.append(f"{len(missing)} id(s) missing from the catalog:\n{listing(missing)}")
    if stale:
        problems.append(f"{len(stale)} stale id(s) no longer in the sources:\n{listing(stale)}")
    assert not problems, (
        f"node/http/pages/translations/{language}/LC_MESSAGES/messages.po is out of step with the sources; "
        "run scripts/messages.sh.\n" + "\n".join(problems)
    )


def test_english_catalog_keeps_the_ids() -> None:
    translated = {key for key, message in entries("en").items() if any(translations_of(message))}
    assert not translated, (
        "English is the source language: leave msgstr empty in the English catalog and change the id in "
        f"the code instead:\n{listing(translated)}"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_headers(language: str) -> None:
    cat = catalog(language)
    assert cat.locale is not None and str(cat.locale) == language
    assert cat.charset.lower() == "utf-8"
    assert cat.num_plurals == 2
    assert cat.plural_expr == ("(n > 1)" if language == "fr" else "(n != 1)")
    assert not cat.fuzzy, "the catalog header is marked fuzzy"


def test_french_translations_keep_the_placeholders() -> None:
    wrong: list[str] = []
    for key, message in entries("fr").items():
        expected = placeholders(key[1]) | placeholders(key[2] or "")
        for form in translations_of(message):
            if not form:
                continue
            if placeholders(form) != expected:
                wrong.append(
                    f"  {describe(key)}: {form!r} has {sorted(placeholders(form))}, "
                    f"expected {sorted(expected)}"
                )
            # Jinja's newstyle gettext always %-formats, so a lone % would break the page.
            elif "%" in PLACEHOLDER.sub("", form).replace("%%", ""):
                wrong.append(f"  {describe(key)}: {form!r} has a lone %; templates %-format every message")
    assert not wrong, "French translations with wrong placeholders:\n" + "\n".join(wrong)


def test_loaded_catalogs_translate() -> None:
    catalogs = Catalogs.load(TRANSLATIONS_DIR)
    assert catalogs.gettext("Log in", "fr") == "Se connecter"
    assert catalogs.gettext("Log in", "en") == "Log in"
    assert catalogs.gettext("Password", "fr") == "Mot de passe"
    assert catalogs.gettext("An id nobody wrote.", "fr") == "An id nobody wrote."
    assert catalogs.gettext("Log in", "de") == "Log in"


def test_loaded_catalogs_use_french_plural_rules() -> None:
    catalogs = Catalogs.load(TRANSLATIONS_DIR)
    singular, plural = "%(count)s active member", "%(count)s active members"
    assert catalogs.ngettext(singular, plural, 0, "fr") == "%(count)s membre actif"
    assert catalogs.ngettext(singular, plural, 1, "fr") == "%(count)s membre actif"
    assert catalogs.ngettext(singular, plural, 2, "fr") == "%(count)s membres actifs"
    assert catalogs.ngettext(singular, plural, 0, "en") == plural
    assert catalogs.ngettext(singular, plural, 1, "en") == singular
    assert catalogs.ngettext(singular, plural, 2, "en") == plural


@pytest.mark.parametrize(
    ("header", "default", "expected"),
    [
        (None, "fr", "fr"),
        (None, "en", "en"),
        ("", "fr", "fr"),
        ("fr", "en", "fr"),
        ("en", "fr", "en"),
        ("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "en", "fr"),
        ("en-GB,en;q=0.9,fr;q=0.8", "fr", "en"),
        ("en-GB", "fr", "en"),
        ("EN-us", "fr", "en"),
        ("fr-CA", "en", "fr"),
        ("en;q=0.2, fr;q=0.8", "en", "fr"),
        ("fr;q=0.3, en-GB", "fr", "en"),
        ("de-DE,de;q=0.9", "fr", "fr"),
        ("de-DE,de;q=0.9", "en", "en"),
        ("de, es;q=0.9, en;q=0.5", "fr", "en"),
        ("it, fr ; q=0.4", "en", "fr"),
        ("fr;q=0, en;q=0.1", "fr", "en"),
        ("en;q=0", "fr", "fr"),
        ("*", "fr", "fr"),
        ("*;q=0.5, en", "fr", "en"),
        ("zh-Hant-TW", "en", "en"),
    ],
)
def test_negotiate(header: str | None, default: str, expected: str) -> None:
    assert negotiate(header, default) == expected


@pytest.mark.parametrize(
    "header",
    [
        ",,,;;;",
        ";",
        "q=",
        ";q=1",
        "en;q=",
        "en;q=abc",
        "en;q=0.5;level=1",
        "fr;q=nan, en;q=inf",
        "fr;q=-1",
        "en;q=1e999",
        "\x00\xff\u202e",
        "français, anglais",
        "-" * 5000,
        ",".join(["xx"] * 1000) + ",en",
        "en-GB;;q=0.8;;",
        "   ",
    ],
)
def test_negotiate_garbage_does_not_raise(header: str) -> None:
    assert negotiate(header, "fr") in LANGUAGES
    assert negotiate(header, "en") in LANGUAGES
