from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from node.app import create_app
from node.core import db
from node.settings import load_settings
from tests.support.settings import TEST_SECRET


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
