"""Fresh migrated databases for tests, on SQLite and, when ``ASASAP_TEST_DATABASE_URL`` points at a
server (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``), on PostgreSQL too.

Migrations run once per backend into a template; each database is a copy of it (a file copy on SQLite,
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL). Names are random, so several test processes
(pytest-xdist workers) share one PostgreSQL server safely.

On PostgreSQL a database a test is done with is emptied and kept for the next test rather than dropped:
creating and dropping a database costs a checkpoint-sized write each (about 0.4 s, several seconds on a
busy disk), emptying one about a hundredth of that. It is kept only if its schema is still the
template's (same migration, columns, indexes, triggers and functions): a test that changed the schema
gets its database dropped. Test databases commit without waiting for the disk
(``synchronous_commit = off``): a crash of the server, never of a node process, could lose the last
commits, which no test does.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from node.core import db

PG_ENV = "ASASAP_TEST_DATABASE_URL"


def backends() -> list[str]:
    """The backends every database test runs on."""
    return ["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"]


# What a test may not change for its database to be reused: the migration, the columns, the indexes, the
# triggers (and whether they are on), the functions.
_SCHEMA_FINGERPRINT = """
SELECT md5(
  coalesce((SELECT string_agg(version_num, ',') FROM alembic_version), '') || '|' ||
  (SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ','
          ORDER BY table_name, column_name)
     FROM information_schema.columns WHERE table_schema = 'public') || '|' ||
  (SELECT coalesce(string_agg(indexname, ',' ORDER BY indexname), '') FROM pg_indexes
    WHERE schemaname = 'public') || '|' ||
  (SELECT coalesce(string_agg(tgrelid::regclass::text || '.' || tgname || ':' || tgenabled::text, ','
          ORDER BY tgrelid::regclass::text, tgname), '')
     FROM pg_trigger WHERE NOT tgisinternal) || '|' ||
  (SELECT coalesce(string_agg(md5(p.prosrc) || p.proname, ',' ORDER BY p.proname), '') FROM pg_proc p
     JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'))
"""
_END_OTHER_CONNECTIONS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
"""
_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
_RESTART_SEQUENCES = """
SELECT count(setval(s.seqrelid, s.seqstart, false)) FROM pg_sequence s
  JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public'
"""


def _contents(table: str) -> str:
    """A query for the fingerprint of a table's rows (for tables the migrations fill)."""
    return f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM \"{table}\" t"


def _pg_admin_url_for(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _pg_admin_url() -> str:
    return _pg_admin_url_for(os.environ[PG_ENV])


class DatabaseFactory:
    """Creates fresh migrated databases for one backend from a template migrated once."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.workdir = workdir
        self.template: str | None = None
        self._schema: str | None = None  # the template's schema fingerprint (PostgreSQL)
        self._spares: list[str] = []  # emptied databases ready for the next test (PostgreSQL)
        self._seeded: list[str] = []  # tables the migrations fill, kept as they are (PostgreSQL)

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
            self._admin_execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            engine = db.make_engine(self._url_for(name))
            db.migrate(engine)
            with engine.connect() as connection:
                tables = connection.execute(text(_TABLES)).scalars().all()
                self._seeded = [
                    table
                    for table in tables
                    if connection.execute(text(f'SELECT EXISTS (SELECT 1 FROM "{table}")')).scalar_one()
                ]
                self._schema = self._fingerprint(connection)
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
        if self._spares:
            return self._url_for(self._spares.pop())
        name = f"asasap_t_{uuid.uuid4().hex[:12]}"
        self._admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self._admin_execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
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
        elif parsed.database and parsed.database.startswith("asasap_t_") and self._empty(url):
            self._spares.append(parsed.database)
        else:
            self._admin_execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')

    def _empty(self, url: str) -> bool:
        """Empty a test's database for the next test, if its schema (and the rows the migrations wrote)
        are still the template's: end the connections left to it, delete every other row (triggers and
        foreign keys off for it: everything goes), restart the sequences. False (the caller drops it) on
        any difference or error."""
        engine = create_engine(_pg_admin_url_for(url), poolclass=NullPool)
        try:
            with engine.begin() as connection:
                connection.execute(text(_END_OTHER_CONNECTIONS))
                if self._fingerprint(connection) != self._schema:
                    return False
                connection.execute(text("SET LOCAL session_replication_role = replica"))
                connection.execute(text("SET LOCAL lock_timeout = '5s'"))
                tables = [t for t in connection.execute(text(_TABLES)).scalars() if t not in self._seeded]
                connection.exec_driver_sql("; ".join(f'DELETE FROM "{table}"' for table in tables))
                connection.execute(text(_RESTART_SEQUENCES))
            return True
        except SQLAlchemyError:
            return False
        finally:
            engine.dispose()

    def _fingerprint(self, connection: Connection) -> str:
        """The schema, and the rows of the tables the migrations fill."""
        parts = [connection.execute(text(_SCHEMA_FINGERPRINT)).scalar_one()]
        parts += [connection.execute(text(_contents(table))).scalar_one() for table in self._seeded]
        return "|".join(parts)

    def close(self) -> None:
        if self.backend == "postgresql" and self.template:
            for name in self._spares:
                self._admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._admin_execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
