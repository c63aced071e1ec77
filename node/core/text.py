"""Cleaning of text that people type and that other nodes send: descriptions (a small HTML subset)
and plain text (titles, messages, comments, reasons).

Everything shown on a page or stored from the network goes through one of these functions, on input
and on receipt: a remote node is never trusted to have sanitised its own content.

- :func:`clean_description` keeps ``p``, ``br``, ``strong``, ``em``, ``ul``, ``ol``, ``li`` and ``a``
  (``href`` only, ``http``/``https``/``mailto`` only, ``rel="nofollow noopener"`` always set; bare web
  addresses become links). Any other tag is removed and its text kept, except the elements whose text
  is code or noise (``script``, ``style``, ``svg``...), which are removed with their content. Attributes
  other than ``href`` (event handlers, ``style``...) are dropped.
- :func:`plain_text` removes every tag, decodes entities, drops control and bidirectional-override
  characters and normalises white space. Its result is text, not HTML: templates escape it.
- :func:`html_to_text` and :func:`text_to_html` convert between the two, keeping paragraphs.

Safety rests on bleach (an html5lib parser and an allowlist); the regular expression that removes
script-like elements beforehand only spares readers the leftover text of those elements.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import partial
from typing import Any, cast

import bleach
from bleach.linkifier import LinkifyFilter

__all__ = [
    "ALLOWED_PROTOCOLS",
    "ALLOWED_TAGS",
    "DESCRIPTION_MAX",
    "LINK_REL",
    "clean_description",
    "html_to_text",
    "plain_text",
    "text_to_html",
]

ALLOWED_TAGS = frozenset({"p", "br", "strong", "em", "ul", "ol", "li", "a"})
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener"
# Characters of cleaned HTML kept in a description.
DESCRIPTION_MAX = 5000
# Input beyond this many times the cap is not even parsed.
_INPUT_FACTOR = 4

# Elements whose content is not prose: removed whole, before bleach sees the rest. An element left
# open runs to the end of the input, as an HTML parser would read it.
_DROP_WITH_CONTENT = re.compile(
    r"<(script|style|template|iframe|object|embed|noscript|noembed|noframes|svg|math|textarea|select"
    r"|title|xmp|plaintext)\b[^>]*>.*?(?:</\1\s*>|$)",
    re.IGNORECASE | re.DOTALL,
)
_BREAKS = re.compile(r"<br\s*/?>|</(?:p|li|ul|ol|div|h[1-6]|blockquote|pre)\s*>", re.IGNORECASE)
_PARAGRAPH_ENDS = re.compile(r"</(?:p|ul|ol|div|h[1-6]|blockquote|pre)\s*>", re.IGNORECASE)
# Bidirectional embedding/override/isolate controls: used to disguise text, never needed in a form.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _link_attributes(
    attrs: dict[tuple[str | None, str], str], new: bool = False
) -> dict[tuple[str | None, str], str] | None:
    """Every kept link gets our ``rel``; a link whose ``href`` was refused becomes plain text."""
    if (None, "href") not in attrs:
        return None
    attrs[(None, "rel")] = LINK_REL
    return attrs


_CLEANER = bleach.sanitizer.Cleaner(
    tags=ALLOWED_TAGS,
    attributes={"a": ["href"]},
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    # bleach documents that a callback returning None unwraps the link; its type stubs omit None.
    filters=[partial(LinkifyFilter, callbacks=[cast(Any, _link_attributes)], parse_email=False)],
)
_STRIP_ALL = bleach.sanitizer.Cleaner(tags=set(), attributes={}, strip=True, strip_comments=True)


def _clean_once(markup: str) -> str:
    return _CLEANER.clean(_DROP_WITH_CONTENT.sub("", markup)).strip()


def _cut_point(markup: str, limit: int) -> int:
    """A cut at or before ``limit`` that does not split a tag or an entity."""
    cut = markup[:limit]
    for opener, closer in (("<", ">"), ("&", ";")):
        start = cut.rfind(opener)
        if start > cut.rfind(closer):
            cut = cut[:start]
    return len(cut)


def clean_description(markup: str, max_len: int = DESCRIPTION_MAX) -> str:
    """Safe HTML from untrusted HTML: the allowlist above, at most ``max_len`` characters.

    A description that is too long is cut between tags and cleaned again, which closes what the cut
    left open; the result never exceeds ``max_len``.
    """
    cleaned = _clean_once(_visible_only(markup[: max_len * _INPUT_FACTOR]))
    source, limit = cleaned, max_len
    while len(cleaned) > max_len and limit > 0:
        cleaned = _clean_once(source[: _cut_point(source, limit)])
        limit -= max(len(cleaned) - max_len, 1)
    return cleaned


def _visible(ch: str) -> bool:
    if ch in "\n\t":
        return True
    return ch not in _BIDI_CONTROLS and unicodedata.category(ch) != "Cc"


def _visible_only(text: str) -> str:
    """``text`` without control characters (line breaks and tabs kept) and bidirectional overrides."""
    return "".join(ch for ch in text.replace("\r\n", "\n").replace("\r", "\n") if _visible(ch))


def plain_text(text: str, max_len: int, *, multiline: bool = False) -> str:
    """Text without markup, entities decoded, white space normalised, at most ``max_len`` characters.

    Single-line (the default) folds every run of white space into one space. ``multiline`` keeps line
    breaks, folds the rest of the white space and keeps at most one blank line in a row.
    """
    stripped = _STRIP_ALL.clean(_DROP_WITH_CONTENT.sub("", _visible_only(text[: max_len * _INPUT_FACTOR])))
    # Entities may decode to control characters too: filter again.
    decoded = _visible_only(unicodedata.normalize("NFC", html.unescape(stripped)))
    if multiline:
        lines = [_SPACES.sub(" ", line).strip() for line in decoded.split("\n")]
        result = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    else:
        result = " ".join(decoded.split())
    return result[:max_len].rstrip()


def html_to_text(markup: str, max_len: int) -> str:
    """Plain text of an HTML fragment with its paragraphs and line breaks kept (e.g. a received
    message), at most ``max_len`` characters."""
    with_breaks = _PARAGRAPH_ENDS.sub("\n\n", markup[: max_len * _INPUT_FACTOR])
    with_breaks = _BREAKS.sub("\n", with_breaks)
    return plain_text(with_breaks, max_len, multiline=True)


def text_to_html(text: str) -> str:
    """HTML for plain text: escaped, a ``<p>`` per paragraph, ``<br>`` for single line breaks."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line, quote=False) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
