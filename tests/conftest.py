"""Shared fixtures: a fresh migrated database per test on SQLite, and on PostgreSQL too when
``ASASAP_TEST_DATABASE_URL`` points at a server (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``).

Migrations run once per backend into a template; each test gets a copy (a file copy on SQLite,
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL) and drops it afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from node.accounts import service
from node.accounts.models import Role, User
from node.app import create_app
from node.core import db
from node.settings import RegistrationPolicy, Settings, load_settings

PG_ENV = "ASASAP_TEST_DATABASE_URL"
TEST_SECRET = "test-secret-key-that-is-long-enough-for-hmac-0123456789"
PASSWORD = "une phrase de passe solide"


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"]


def _pg_admin_url() -> str:
    url = make_url(os.environ[PG_ENV])
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


class DatabaseFactory:
    """Creates fresh migrated databases for one backend from a template migrated once."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.workdir = workdir
        self.template: str | None = None

    def _prepare_template(self) -> None:
        if self.backend == "sqlite":
            path = self.workdir / "template.db"
            engine = db.make_engine(f"sqlite:///{path}")
            db.migrate(engine)
            engine.dispose()
            self.template = str(path)
        else:
            name = f"asasap_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            self._admin_execute(f'CREATE DATABASE "{name}"')
            engine = db.make_engine(self._url_for(name))
            db.migrate(engine)
            engine.dispose()
            self.template = name

    def _url_for(self, name: str) -> str:
        return make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)

    def _admin_execute(self, statement: str) -> None:
        engine = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    def create(self) -> str:
        """The URL of a new migrated database."""
        if self.template is None:
            self._prepare_template()
        assert self.template is not None
        if self.backend == "sqlite":
            path = self.workdir / f"test-{uuid.uuid4().hex}.db"
            shutil.copyfile(self.template, path)
            return f"sqlite:///{path}"
        name = f"asasap_t_{uuid.uuid4().hex[:12]}"
        self._admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return self._url_for(name)

    def drop(self, url: str) -> None:
        parsed = make_url(url)
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        else:
            self._admin_execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')

    def close(self) -> None:
        if self.backend == "postgresql" and self.template:
            self._admin_execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_factories(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, DatabaseFactory]]:
    workdir = tmp_path_factory.mktemp("databases")
    factories = {backend: DatabaseFactory(backend, workdir) for backend in _backends()}
    yield factories
    for factory in factories.values():
        factory.close()


@pytest.fixture(params=_backends())
def database_url(
    request: pytest.FixtureRequest, database_factories: dict[str, DatabaseFactory]
) -> Iterator[str]:
    """A fresh, migrated, empty database for this test, on each backend."""
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


def make_user(engine: Engine, username: str, role: Role = Role.MEMBER, password: str = PASSWORD) -> User:
    """Create and commit an active account."""
    with db.session_scope(engine) as s:
        return service.create_user(username=username, password=password, role=role, session=s)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many PostgreSQL, browser and real-process tests ran, so CI shows they were not skipped."""
    reports = [
        r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, []) if r.when == "call"
    ]
    postgres = sum(1 for r in reports if "[postgresql" in r.nodeid)
    browser = sum(1 for r in reports if "browser" in r.keywords)
    process = sum(1 for r in reports if "process" in r.keywords)
    skipped = len(terminalreporter.stats.get("skipped", []))
    terminalreporter.write_line(
        f"ran {len(reports)} tests: {postgres} on PostgreSQL, {browser} in Chromium, "
        f"{process} with real node processes; {skipped} skipped"
    )
