"""Every line of the synonyms file (``node/search/data/synonyms.txt``), one test each: a proposal titled
with each term of the line, and a search for any term finds all of them (and only them)."""

from __future__ import annotations

from importlib import resources

import pytest
from sqlmodel import Session

from node.core.timeutil import utcnow
from node.search.engine import search
from node.search.filters import parse_search
from node.search.synonyms import parse
from node.settings import Settings
from tests.support.search import indexed

LINES = [
    line
    for line in resources.files("node.search").joinpath("data/synonyms.txt").read_text("utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


def test_the_file_reads_and_bad_lines_are_refused() -> None:
    assert len(parse("\n".join(LINES))) == len(LINES) >= 10
    with pytest.raises(ValueError, match="line 1"):
        parse("ménage")
    with pytest.raises(ValueError, match="line 2"):
        parse("# comment\nle | ménage")


@pytest.mark.parametrize("line", LINES, ids=[line.split("|")[0].strip() for line in LINES])
def test_each_term_finds_every_term_of_its_line(session: Session, settings: Settings, line: str) -> None:
    terms = [t.strip() for t in line.split("|")]
    for term in terms:
        indexed(session, settings, f"Service : {term}")
    indexed(session, settings, "Service sans rapport")
    for term in terms:
        filters, errors = parse_search({"q": term + " "})
        assert errors == {}
        found = search(filters, session=session, now=utcnow())
        assert sorted(h.proposal.title for h in found.hits) == sorted(f"Service : {t}" for t in terms), term
