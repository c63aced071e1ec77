from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from node.app import create_app
from node.core import db
from node.settings import load_settings
from tests.support.databases import backends
from tests.support.settings import TEST_SECRET

# only PostgreSQL has a server whose connections can be lost (none when only SQLite is set up)
POSTGRESQL_ONLY = pytest.mark.parametrize(
    "database_url", [b for b in backends() if b == "postgresql"], indirect=True
)


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    engine.dispose()


def test_fresh_database_is_at_head(engine: Engine) -> None:
    assert db.current_revision(engine) == db.head_revision()
    db.check_migrated(engine)


def test_app_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    settings = load_settings(env={}, data_dir=tmp_path, secret_key=TEST_SECRET)
    with pytest.raises(db.NotMigrated, match="asasap migrate"):
        create_app(settings)


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    before, after = db.migrate(engine)
    assert before is None and after == db.head_revision()
    assert db.migrate(engine) == (after, after)
    engine.dispose()


def test_session_scope_rolls_back_on_error(engine: Engine) -> None:
    from node.accounts.models import User

    with pytest.raises(RuntimeError), db.session_scope(engine) as session:
        session.add(User(username="ghost", password_hash="x"))
        session.flush()
        raise RuntimeError("boom")
    with db.session_scope(engine) as session:
        assert session.exec(text("SELECT count(*) FROM users")).scalar() == 0  # type: ignore[call-overload]


def _end_backend(url: str, pid: int) -> None:
    """End the server process of connection ``pid``, as a restart of the server would."""
    other = db.make_engine(url)
    try:
        with other.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        other.dispose()


@POSTGRESQL_ONLY
def test_a_postgresql_connection_idle_a_while_is_pinged_and_replaced_when_dead(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session_scope(engine) as session:
        pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    _end_backend(engine.url.render_as_string(hide_password=False), pid)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    with db.session_scope(engine) as session:  # the ping finds it dead: another connection is lent
        assert session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid


@POSTGRESQL_ONLY
def test_a_postgresql_connection_used_a_moment_ago_is_lent_without_a_ping(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session_scope(engine) as session:
        pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    pings: list[object] = []
    original = engine.dialect.do_ping

    def counted(connection: Any) -> bool:
        pings.append(connection)
        return original(connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    with db.session_scope(engine) as session:
        assert session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar() == pid
    assert pings == []
