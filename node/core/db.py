"""Database engine, sessions and migrations (SQLite in WAL mode by default, PostgreSQL with psycopg 3).

Alembic migrations live in ``node/migrations`` so that they ship with the package; the server refuses to
start on a database that is not at the head revision.
"""

from __future__ import annotations

import functools
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import InvalidatePoolError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session

from node.core.errors import NotFound

T = TypeVar("T")
MIGRATIONS_DIR = Path(__file__).parents[1] / "migrations"


class NotMigrated(RuntimeError):
    """The database is missing or behind the code's migrations."""


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        # pysqlite's own transaction handling defers BEGIN; emit it ourselves so that
        # SELECT ... then UPDATE in one transaction is really isolated.
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20)
    event.listen(engine, "checkin", _note_idle)
    event.listen(engine, "checkout", functools.partial(_ping_when_idle, engine.dialect))
    return engine


PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection idle for longer is pinged before it is lent (a server restarted, or a
connection closed by a proxy or an idle timeout, is found then and the pool refilled). Pinging every
connection lent, as SQLAlchemy's ``pool_pre_ping`` does, cost a round trip to the server in every
transaction: a third of the fixed cost of a read in the web process (bench/api_overhead.py)."""
_IDLE_SINCE = "asasap_idle_since"


def _note_idle(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_when_idle(dialect: Dialect, connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """``pool_pre_ping`` for connections idle over :data:`PING_AFTER_IDLE_SECONDS`: a connection found
    dead invalidates the pool (every connection as old is replaced) and another is lent."""
    idle_since = record.info.pop(_IDLE_SINCE, None)
    if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_SECONDS:
        return  # just opened, or in use a moment ago
    try:
        dialect.do_ping(connection)
    except dialect.loaded_dbapi.Error as exc:
        if dialect.is_disconnect(exc, connection, None):
            raise InvalidatePoolError() from exc
        raise


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    # Straight to the driver: through SQLAlchemy's execution (context, events, result) the BEGIN alone
    # cost about a fifth of the Python of a short write transaction (bench/timebank.py).
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    ``write=True`` takes SQLite's write lock at the start of the transaction (``BEGIN IMMEDIATE``), so
    a read-then-write transaction waits for other writers instead of failing; PostgreSQL ignores it.
    """
    bind = _immediate(engine) if write else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _immediate(engine: Engine) -> Engine:
    """``engine`` with ``sqlite_immediate``, made once per engine (making it costs as much as a short
    statement, on the path of every write)."""
    found: Engine | None = engine.__dict__.get("_asasap_immediate")
    if found is None:
        found = engine.execution_options(sqlite_immediate=True)
        engine.__dict__["_asasap_immediate"] = found
    return found


def insert_or_update(
    session: Session, table: Table, values: Mapping[str, Any], keys: Sequence[str], changes: Mapping[str, Any]
) -> Insert:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET changes`` in the session's dialect (one atomic
    statement on SQLite and PostgreSQL)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement: Insert = (
        dialect.insert(table).values(**values).on_conflict_do_update(index_elements=list(keys), set_=changes)
    )
    return statement


BUSY_RETRIES = 8  # attempts of a transaction that SQLite refused with "database is locked"


def retry_when_busy(engine: Engine, transaction: Callable[[], T], *, attempts: int = BUSY_RETRIES) -> T:
    """Run ``transaction`` (which opens and commits its own session), again after a short, growing
    wait when SQLite answers "database is locked" (``SQLITE_BUSY``: another process held the write lock
    past the busy timeout, or a read transaction's snapshot went stale when it tried to write). The
    failed attempt was rolled back entirely, so running it again is safe. PostgreSQL is not retried."""
    if engine.dialect.name != "sqlite":
        return transaction()
    for attempt in range(attempts):
        try:
            return transaction()
        except OperationalError as exc:
            if "database is locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` without needing an ``alembic.ini``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the database to ``revision`` (the head unless a test of a migration asks for an earlier
    one); returns (before, after)."""
    before = current_revision(engine)
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        # SQLite rebuilds a table to change its constraints (create, copy, drop, rename), which foreign
        # keys would refuse; they are off for the migration (outside its transaction, where the PRAGMA
        # takes effect) and checked before it commits: https://sqlite.org/lang_altertable.html
        driver = connection.connection.driver_connection if sqlite else None
        if driver is not None:
            driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("the migration broke a foreign key: rolled back")
        finally:
            if driver is not None:
                driver.execute("PRAGMA foreign_keys=ON")
    return before, current_revision(engine)


def check_migrated(engine: Engine) -> None:
    """Raise :class:`NotMigrated` with a message saying what to run when the schema is not current."""
    head = head_revision()
    try:
        current = current_revision(engine)
    except Exception as exc:  # any driver error means the database cannot be read
        raise NotMigrated(
            f"cannot read the database {engine.url.render_as_string(hide_password=True)}: {exc}"
        ) from exc
    if current != head:
        state = "is empty" if current is None else f"is at revision {current}"
        raise NotMigrated(
            f"the database {engine.url.render_as_string(hide_password=True)} {state}, "
            f"the code needs revision {head}: run `asasap migrate`"
        )


Row = TypeVar("Row")


def one(session: Session, model: type[Row], key: Any, missing: str, *, lock: bool = False) -> Row:
    """The row of ``model`` with primary key ``key`` (locked for update with ``lock``), or
    :class:`~node.core.errors.NotFound` with the message ``missing``."""
    found = session.get(model, key, with_for_update=lock or None)
    if found is None:
        raise NotFound(missing)
    return found
