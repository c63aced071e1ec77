"""Proposals for search tests, stored with the same column mapping as the services' (so indexed as
theirs are), local or as received from another node, in any commune of the gazetteer."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session

from node.core import db
from node.core.timeutil import utcnow
from node.market.models import Proposal
from node.market.money import Price
from node.market.proposals.columns import commune_columns, content_columns
from node.market.schedule import Schedule
from node.places.gazetteer import default_gazetteer
from node.search import engine
from node.search.filters import parse_search
from node.settings import Settings, load_settings
from tests.support.nodes import NodeProcess
from tests.support.settings import TEST_SECRET


def indexed(
    session: Session,
    settings: Settings,
    title: str,
    *,
    description: str = "",
    purpose: str = "offer",
    category: str | None = None,
    insee: str = "93048",
    origin: str = "",
    author_name: str = "",
    published: datetime | None = None,
    starts: datetime | None = None,
    price: Decimal | None = None,
    author_uri: str | None = None,
    schedule: Schedule | None = None,
) -> Proposal:
    """One open proposal, stored and indexed (committed); ``starts`` overrides the first occurrence of
    ``schedule``."""
    commune = default_gazetteer().by_insee(insee)
    assert commune is not None, insee
    values = content_columns(
        title=title,
        description=description,
        category=category,
        place=commune_columns(commune),
        schedule=schedule,
        quantity=None,
        price=Price(price, "EUR", "per_hour") if price is not None else None,
        currency="EUR" if price is not None else None,
        basis="per_hour" if price is not None else None,
        bidding_deadline=None,
        expires_at=utcnow() + timedelta(days=60),
        author_name=author_name,
    )
    base = f"https://{origin}" if origin else settings.url("").rstrip("/")
    row = Proposal(
        ap_id=f"{base}/proposals/{uuid.uuid4()}",
        origin=origin,
        author_uri=author_uri or f"{base}/users/someone",
        purpose=purpose,
        published_at=published or utcnow(),
        **values,
    )
    if starts is not None:
        row.starts_at = starts
    session.add(row)
    session.commit()
    return row


CORPUS = Path(__file__).resolve().parents[1] / "data" / "search" / "corpus.tsv"


def store_corpus(session: Session, settings: Settings) -> dict[int, str]:
    """The written French corpus (``tests/data/search/corpus.tsv``), stored and indexed, the first line
    newest: each row's id with its key (``m01``…)."""
    keys: dict[int, str] = {}
    now = utcnow()
    for number, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines()):
        if not line or line.startswith("#"):
            continue
        key, purpose, category, insee, title, description = line.split("\t")
        row = indexed(
            session,
            settings,
            title,
            description=f"<p>{description}</p>",
            purpose=purpose,
            category=category,
            insee=insee,
            published=now - timedelta(hours=number),
        )
        assert row.id is not None
        keys[row.id] = key
    return keys


def seeded_node(
    directory: Path, seed_directory: Path, database_url: str, seed: Callable[[Session, Settings], None]
) -> Iterator[NodeProcess]:
    """A real ``asasap serve`` on ``database_url`` whose proposals ``seed`` wrote before it started (with
    the node's own settings, so ids and URLs are its own); stopped when the generator is closed."""
    process = NodeProcess(directory, database_url)
    process.init()
    settings = load_settings(
        env={},
        data_dir=seed_directory,
        database_url=database_url,
        secret_key=TEST_SECRET,
        base_url=process.base_url,
    )
    engine = db.make_engine(database_url)
    with Session(engine) as session:
        seed(session, settings)
    engine.dispose()
    process.start()
    try:
        yield process
    finally:
        process.stop()


def every_page(session: Session, params: dict[str, str]) -> tuple[list[int], list[engine.Results]]:
    """The ids of every page of a search, following its next pages (each read in a transaction of its
    own), and each page's results."""
    ids: list[int] = []
    pages: list[engine.Results] = []
    page = 1
    while True:
        filters, errors = parse_search({**params, "page": str(page)})
        assert errors == {}
        found = engine.search(filters, session=session, now=utcnow())
        ids += [hit.proposal.id or 0 for hit in found.hits]
        session.rollback()
        pages.append(found)
        if not found.has_next:
            return ids, pages
        page += 1


def housework_corpus(
    session: Session,
    settings: Settings,
    count: int,
    *,
    insee: Callable[[int], str] = lambda i: "93048",
    price: Callable[[int], Decimal | None] = lambda i: None,
) -> None:
    """``count`` proposals, "ménage" in a title one time in three and in a description another time in
    three, published in an order that is not the order they were stored in (so the date index, not the
    ids, gives the order); the ``i``-th in the commune ``insee(i)`` at the price ``price(i)``."""
    now = utcnow()
    for i in range(count):
        if i % 3 == 0:
            title, description = "Ménage de l'appartement", "<p>Vitres comprises</p>"
        elif i % 3 == 1:
            title, description = "Repassage des chemises", "<p>Et un peu de ménage si besoin</p>"
        else:
            title, description = "Tonte de pelouse", "<p>Le jardin seulement</p>"
        indexed(
            session,
            settings,
            title,
            description=description,
            purpose="request" if i % 4 == 0 else "offer",
            insee=insee(i),
            published=now - timedelta(hours=(i * 7) % count),
            price=price(i),
        )
