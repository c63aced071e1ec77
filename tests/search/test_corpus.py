"""A fixed French corpus (``tests/data/search/corpus.tsv``) and queries with their expected results, the
same on SQLite and PostgreSQL: accents, plurals, synonyms, prefixes, names of places, and typos left
unmatched on purpose. Stored once per backend (a module's database), compared as sets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from node.core import db
from node.core.timeutil import utcnow
from node.search.engine import search as engine_search
from node.search.filters import parse_search
from node.settings import load_settings
from tests.support.search import store_corpus
from tests.support.settings import TEST_SECRET

QUERIES: list[tuple[str, set[str]]] = [
    ("ménage ", {"m01", "m02", "m03", "m08", "m27", "m31", "m32", "m40"}),
    ("menage", {"m01", "m02", "m03", "m08", "m27", "m31", "m32", "m40"}),
    ("MÉNAGE ", {"m01", "m02", "m03", "m08", "m27", "m31", "m32", "m40"}),
    ("ménages ", {"m01", "m02", "m03", "m08", "m27", "m31", "m32", "m40"}),
    ("entretien ", {"m01", "m02", "m03", "m08", "m27", "m31", "m32", "m40"}),
    ("nettoyage ", {"m01", "m02", "m03", "m08", "m27", "m31", "m32", "m40"}),
    ("repassage ", {"m04", "m05", "m31"}),
    ("linge ", {"m04", "m05", "m31"}),
    ("repasser ", {"m05", "m40"}),  # another stem than repassage
    ("jardinage ", {"m06", "m07", "m08", "m34"}),
    ("tonte ", {"m06", "m07", "m08", "m34"}),
    ("haie ", {"m07"}),
    ("haies ", {"m07"}),
    ("bricolage ", {"m09", "m10", "m33"}),
    ("bricoleur ", {"m09", "m10", "m33"}),
    ("petites réparations ", {"m09", "m10", "m33"}),
    ("baby-sitting ", {"m11", "m12", "m13"}),
    ("babysitting ", {"m11", "m12", "m13"}),
    ("soutien scolaire ", {"m14", "m15", "m35"}),
    ("aide aux devoirs ", {"m14", "m15", "m35"}),
    ("cours particuliers ", {"m14", "m15", "m35"}),
    ("informatique ", {"m16", "m17", "m36"}),
    ("ordinateur ", {"m16", "m17", "m36"}),
    ("ordi", {"m17"}),  # a prefix
    ("courses ", {"m18", "m19", "m20", "m38"}),
    ("commissions ", {"m18", "m19", "m20", "m38"}),
    ("auxiliaire de vie ", {"m22"}),
    ("personnes âgées ", {"m22", "m23", "m24"}),
    ("personne agee ", {"m22", "m23", "m24"}),
    ("chien ", {"m25", "m26"}),
    ("chat ", {"m25", "m26"}),
    ("animaux de compagnie ", {"m25", "m26"}),
    ("déménagement ", {"m32"}),
    ("Lyon ", {"m07", "m17", "m25", "m31", "m32"}),
    ("Vincennes ", {"m05", "m11", "m20", "m29", "m33", "m34"}),
    ("Val-de-Marne ", {"m05", "m11", "m20", "m29", "m33", "m34"}),  # the département's name
    ("paris ", {"m03", "m10", "m14", "m21", "m27", "m36", "m39"}),
    ("menaje ", set()),  # typos are not corrected
    ("jardinnage ", set()),
    ("bricolaj ", set()),
    ("enfant ", {"m11", "m12", "m13", "m35", "m37"}),
    ("école ", {"m11", "m37"}),
    ("ecole", {"m11", "m37"}),
    ("hospitalisation ", {"m26", "m39"}),
    ("impots ", {"m29"}),
    ("tablette ", {"m36"}),
    ("végétarien", {"m38"}),
    ("anglais ", {"m35"}),
    ("coiffure ", {"m30"}),
    ("courrier ", {"m27", "m28"}),
    ("housework ", {"m01", "m02", "m03", "m31", "m32", "m40"}),  # the English label
    ("gardening ", {"m06", "m07", "m08", "m34"}),
    ("cleaning ", {"m01", "m02", "m03", "m31", "m32", "m40"}),
    ("grocery ", {"m18", "m19"}),
    ("tutoring ", {"m14", "m15", "m35"}),
    ("ménage lyon ", {"m31", "m32"}),
    ("repassage chemises ", {"m04", "m05"}),
    ("garde bébé ", {"m13"}),
    ("aide ordinateur ", {"m17"}),
    ("plats végétariens ", {"m38"}),
    ("promenade chien ", {"m25", "m26"}),
    ("dépan", {"m16"}),
    ("surveill", {"m27"}),
    ("déclaration impôts ", {"m29"}),
]


@pytest.fixture(scope="module")
def corpus(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, dict[int, str]]]:
    """The corpus, stored once per backend for every query of this module."""
    settings = load_settings(
        env={},
        data_dir=tmp_path_factory.mktemp("corpus"),
        database_url=module_database_url,
        secret_key=TEST_SECRET,
        base_url="http://testserver",
    )
    engine = db.make_engine(module_database_url)
    with Session(engine) as session:
        keys = store_corpus(session, settings)
    yield engine, keys
    engine.dispose()


def found(session: Session, keys: dict[int, str], q: str) -> set[str]:
    filters, errors = parse_search({"q": q})
    assert errors == {}
    results = engine_search(filters, session=session, now=utcnow())
    assert results.total == len(results.hits) < 20  # every query of the corpus fits on one page
    return {keys[h.proposal.id or 0] for h in results.hits}


def test_every_query_finds_what_it_should(corpus: tuple[Engine, dict[int, str]]) -> None:
    engine, keys = corpus
    assert len(QUERIES) >= 40
    with Session(engine) as session:
        wrong = {q: found(session, keys, q) for q, expected in QUERIES if found(session, keys, q) != expected}
    assert wrong == {}
