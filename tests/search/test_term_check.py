"""A small box's rows are checked against the words from their stored terms
(:meth:`~node.search.backends.TextBackend.checker`) rather than through the text index: on SQLite the
check must find exactly what FTS5's MATCH finds, for the whole text and for the title alone, on the
written corpus and on names whose letters the index folds further (``ł``, ``ø``), which go to the index."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session, select

from node.market.models import Proposal
from node.search import query as text_query
from node.search.backends import backend_for
from node.search.backends.sqlite import _title_expression, expression, term_check
from node.settings import Settings
from tests.support.search import housework_corpus, indexed, store_corpus

FOLDED_FURTHER = [
    ("Cours de piano à Łódź", "Une élève polonaise cherche des cours."),
    ("Vélo électrique Ørsted", "Réparation de vélo, près de Ørestad."),
    ("Lodz et Orsted", "Les mêmes noms sans leurs lettres."),
]
QUERIES = [
    "ménage ",
    "repassage chemises ",
    "jardinage ",
    "petites réparations ",
    "baby-sitting ",
    "ordi",
    "dépan",
    "surveill",
    "aide aux devoirs ",
    "garde bébé ",
    "personnes âgées ",
    "Lyon ",
    "Val-de-Marne ",
    "cleaning ",
    "menaje ",
    "lodz ",
    "łódź ",
    "orsted ",
    "Ørsted ",
    "ørest",
    "velo ",
]


def _store(session: Session, settings: Settings) -> None:
    store_corpus(session, settings)
    for title, description in FOLDED_FURTHER:
        indexed(session, settings, title, description=f"<p>{description}</p>")
    housework_corpus(session, settings, 24)


def test_the_check_of_stored_terms_finds_what_the_index_finds(session: Session, settings: Settings) -> None:
    _store(session, settings)
    backend = backend_for(session)
    rows = session.exec(select(Proposal.id, Proposal.title_terms, Proposal.search_terms)).all()
    assert len(rows) > 60
    if session.get_bind().dialect.name != "sqlite":
        assert all(backend.checker(text_query.parse(q), session=session) is None for q in QUERIES)
        return
    index = text("SELECT rowid FROM proposals_fts WHERE proposals_fts MATCH :q")
    asked_the_index = 0
    for q in QUERIES:
        parsed = text_query.parse(q)
        checker = backend.checker(parsed, session=session)
        if checker is None:  # a query with letters the index folds further: the index is read
            assert not all(term.stem.isascii() for g in parsed.groups for a in g.alternatives for term in a)
            continue
        whole = set(session.connection().execute(index, {"q": expression(parsed)}).scalars())
        titles = set(session.connection().execute(index, {"q": _title_expression(parsed)}).scalars())
        check = term_check(parsed)
        assert check is not None
        for row_id, title_terms, text_terms in rows:
            assert row_id is not None
            assert checker(row_id, title_terms, text_terms) == (row_id in whole, row_id in titles), (
                q,
                row_id,
            )
            asked_the_index += check(title_terms, text_terms) is None
    assert asked_the_index > 0  # the names with ``ł`` and ``ø`` went to the index
