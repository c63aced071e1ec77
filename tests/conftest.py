"""Shared fixtures: a fresh migrated database per test on SQLite, and on PostgreSQL too when
``ASASAP_TEST_DATABASE_URL`` points at a server (see :mod:`tests.support.databases`), with the settings,
app and client of a node on it. What tests share besides fixtures lives in :mod:`tests.support`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from node.app import create_app
from node.core import db
from node.settings import RegistrationPolicy, Settings, load_settings
from tests.support.costs import cheap_costs
from tests.support.databases import DatabaseFactory, backends
from tests.support.settings import TEST_SECRET
from tests.support.summary import summary_line


@pytest.fixture(scope="session", autouse=True)
def _cheap_costs() -> Iterator[None]:
    """A cheap password hash and catalogs compiled once (see :mod:`tests.support.costs`)."""
    with cheap_costs():
        yield


@pytest.fixture(scope="session")
def database_factories(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, DatabaseFactory]]:
    workdir = tmp_path_factory.mktemp("databases")
    factories = {backend: DatabaseFactory(backend, workdir) for backend in backends()}
    yield factories
    for factory in factories.values():
        factory.close()


@pytest.fixture(params=backends())
def database_url(
    request: pytest.FixtureRequest, database_factories: dict[str, DatabaseFactory]
) -> Iterator[str]:
    """A fresh, migrated, empty database for this test, on each backend."""
    factory = database_factories[request.param]
    url = factory.create()
    yield url
    factory.drop(url)


@pytest.fixture(scope="module", params=backends())
def module_database_url(
    request: pytest.FixtureRequest, database_factories: dict[str, DatabaseFactory]
) -> Iterator[str]:
    """A fresh, migrated database on each backend, shared by the tests of one module: for a real node
    process started once for them."""
    factory = database_factories[request.param]
    url = factory.create()
    yield url
    factory.drop(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database; the test commits what it wants others to see."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        env={},
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=TEST_SECRET,
        base_url="http://testserver",
        node_name="Montreuil Services",
        territory="Montreuil (93)",
        registration=RegistrationPolicy.OPEN,
        embedded_worker=False,  # tests drive workers by hand
    )


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Starlette:
    return create_app(settings, engine=engine)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many PostgreSQL, browser and real-process tests ran, so CI shows they were not skipped."""
    terminalreporter.write_line(summary_line(terminalreporter.stats))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A browser test runs on one backend, not both: it checks what a person sees and does through a real
    node, while the storage beneath is tested on both backends by the in-process tests. Which backend is
    fixed by the test module's path (a stable hash: one node per module), so that about half of the
    browser modules run on SQLite, the embedded default, and half on PostgreSQL when a server is given."""
    if len(backends()) < 2:
        return
    kept, dropped = [], []
    for item in items:
        chosen = backends()[zlib.crc32(item.nodeid.split("::")[0].encode()) % 2]
        others = [b for b in backends() if b != chosen]
        if "browser" in item.keywords and any(item.name.endswith(f"[{b}]") for b in others):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
