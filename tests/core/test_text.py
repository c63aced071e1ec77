"""Descriptions and plain text from untrusted input: an XSS corpus and the formatting rules."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from node.core.text import (
    ALLOWED_TAGS,
    DESCRIPTION_MAX,
    LINK_REL,
    clean_description,
    html_to_text,
    plain_text,
    text_to_html,
)


class _Markup(HTMLParser):
    """Collects the tags and attributes of a fragment as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((tag, name, value) for name, value in attrs)


def _markup(fragment: str) -> _Markup:
    parser = _Markup()
    parser.feed(fragment)
    parser.close()
    return parser


def _assert_safe(output: str) -> None:
    found = _markup(output)
    assert set(found.tags) <= ALLOWED_TAGS, found.tags
    for tag, name, value in found.attributes:
        assert (tag, name) in {("a", "href"), ("a", "rel")}, (tag, name)
        if name == "href":
            assert value is not None
            assert value.split(":", 1)[0].lower() in {"http", "https", "mailto"}, value
        if name == "rel":
            assert value == LINK_REL
    # What is left of an attack is text: every "<" that is not an allowed tag is escaped.
    assert "<script" not in output.lower()


XSS_CORPUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<script>alert(1)",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>script>alert(1)<</script>/script>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="java&#x09;script:alert(1)">click</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">click</a>',
    '<a href=" javascript:alert(1)">click</a>',
    '<a href="vbscript:msgbox(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
    '<img src="x" onerror="alert(1)">',
    "<img src=x onerror=alert(1)//",
    '<p onclick="alert(1)">text</p>',
    '<body onload="alert(1)">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<p style="width: expression(alert(1))">css</p>',
    '<div style="background:url(javascript:alert(1))">css</div>',
    "<style>body { background: url(javascript:alert(1)) }</style>",
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<form action="https://evil.example"><input name="password"></form>',
    '<a href="https://ok.example" onmouseover="alert(1)">link</a>',
    '<a href="https://ok.example" target="_blank" rel="opener">link</a>',
    "<!--<script>alert(1)</script>-->",
    '<p>unclosed <strong>bold <em>and <a href="https://ok.example">link',
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    '<IMG """><SCRIPT>alert(1)</SCRIPT>">',
    '<a href="https://ok.example/"><img src=x onerror=alert(1)></a>',
    '<base href="javascript:alert(1)//">',
    "<template><script>alert(1)</script></template>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
]


@pytest.mark.parametrize("attack", XSS_CORPUS)
def test_xss_corpus_comes_out_harmless(attack: str) -> None:
    cleaned = clean_description(attack)
    _assert_safe(cleaned)
    text = plain_text(attack, 500)
    if "&lt;" not in attack:  # markup typed as text on purpose stays text
        assert not re.search(r"<[a-zA-Z/!][^>]*>", text), text


def test_script_content_is_dropped_with_the_element() -> None:
    assert clean_description("<p>Hello</p><script>alert(1)</script>") == "<p>Hello</p>"
    assert "alert" not in clean_description("<svg><script>alert(1)</script></svg><p>x</p>")
    assert plain_text("Bonjour <script>alert(1)</script>!", 100) == "Bonjour !"


def test_allowed_markup_is_kept() -> None:
    html = (
        "<p>Repassage <strong>soigné</strong> et <em>rapide</em><br>le soir</p>"
        "<ul><li>chemises</li></ul><ol><li>a</li></ol>"
    )
    assert clean_description(html) == html


def test_links_keep_http_https_mailto_and_get_rel() -> None:
    cleaned = clean_description('<a href="https://example.org/x?a=1&amp;b=2" title="t">site</a>')
    assert cleaned == f'<a href="https://example.org/x?a=1&amp;b=2" rel="{LINK_REL}">site</a>'
    assert 'href="mailto:alice@example.org"' in clean_description('<a href="mailto:alice@example.org">m</a>')
    assert clean_description('<a href="javascript:alert(1)">click</a>') == "click"
    assert clean_description('<a href="ftp://example.org/">f</a>') == "f"


def test_bare_addresses_become_links_with_rel() -> None:
    cleaned = clean_description("<p>Voir https://example.org/offre</p>")
    assert (
        cleaned
        == f'<p>Voir <a href="https://example.org/offre" rel="{LINK_REL}">https://example.org/offre</a></p>'
    )


def test_other_tags_are_removed_text_kept() -> None:
    assert clean_description("<h1>Title</h1><div><b>bold</b> <u>u</u></div>") == "Title\nbold u"
    assert clean_description("<table><tr><td>cell</td></tr></table>") == "cell"


def test_broken_markup_is_closed() -> None:
    cleaned = clean_description("<p>unclosed <strong>bold")
    assert cleaned == "<p>unclosed <strong>bold</strong></p>"


def test_entities_stay_escaped_in_html() -> None:
    assert clean_description("Tom &amp; Jerry &lt;3") == "Tom &amp; Jerry &lt;3"
    assert clean_description("a < b") == "a &lt; b"


def test_description_length_is_capped_without_breaking_markup() -> None:
    long = "<p>" + "mot " * 5000 + "</p>"
    cleaned = clean_description(long, max_len=300)
    assert len(cleaned) <= 300
    assert cleaned.startswith("<p>") and cleaned.endswith("</p>")
    links = "".join(f'<a href="https://example.org/{i}">lien {i}</a> ' for i in range(200))
    capped = clean_description(links, max_len=500)
    assert len(capped) <= 500
    _assert_safe(capped)
    assert len(clean_description("x" * 100_000)) == DESCRIPTION_MAX


def test_plain_text_strips_tags_and_decodes_entities() -> None:
    assert plain_text("<b>Tom</b> &amp; <i>Jerry</i>", 100) == "Tom & Jerry"
    assert plain_text("&lt;b&gt;not a tag&lt;/b&gt;", 100) == "<b>not a tag</b>"
    assert plain_text("caf&eacute;", 100) == "café"


def test_plain_text_normalises_white_space_and_controls() -> None:
    assert plain_text("  deux\t\tespaces \n et\u00a0une ligne  ", 100) == "deux espaces et une ligne"
    assert plain_text("bell\x07 and nul\x00", 100) == "bell and nul"
    assert plain_text("evil\u202etxt.exe", 100) == "eviltxt.exe"
    assert plain_text("cafe\u0301", 100) == "café"  # NFC


def test_plain_text_multiline_keeps_paragraphs() -> None:
    text = "Bonjour,\r\n\r\n\r\n\r\nJe peux  venir\nmardi.  \n"
    assert plain_text(text, 100, multiline=True) == "Bonjour,\n\nJe peux venir\nmardi."


def test_plain_text_is_capped() -> None:
    assert plain_text("abcdef", 3) == "abc"
    assert plain_text("ab  cdef", 3) == "ab"
    assert len(plain_text("x" * 10_000, 1000)) == 1000


def test_text_to_html_and_back() -> None:
    text = "Bonjour <Alice> & co,\nà mardi.\n\nBob"
    html = text_to_html(text)
    assert html == "<p>Bonjour &lt;Alice&gt; &amp; co,<br>à mardi.</p><p>Bob</p>"
    assert html_to_text(html, 500) == text
    assert text_to_html("") == ""


def test_html_to_text_of_remote_markup() -> None:
    remote = '<p>Hello <span class="h-card"><a href="https://x.example/@bob">@bob</a></span></p><p>Line<br/>two</p>'
    assert html_to_text(remote, 500) == "Hello @bob\n\nLine\ntwo"
