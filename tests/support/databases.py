"""Fresh migrated databases for tests, on SQLite and, when ``ASASAP_TEST_DATABASE_URL`` points at a
server (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``), on PostgreSQL too.

Migrations run once per backend into a template; each database is a copy of it (a file copy on SQLite,
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), dropped after use. Names are random, so several test
processes (pytest-xdist workers) share one PostgreSQL server safely.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from node.core import db

PG_ENV = "ASASAP_TEST_DATABASE_URL"


def backends() -> list[str]:
    """The backends every database test runs on."""
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

    def create_empty(self) -> str:
        """The URL of a new database with no table at all (for restoring or migrating into)."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.workdir / f'empty-{uuid.uuid4().hex}.db'}"
        name = f"asasap_e_{uuid.uuid4().hex[:12]}"
        self._admin_execute(f'CREATE DATABASE "{name}"')
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
