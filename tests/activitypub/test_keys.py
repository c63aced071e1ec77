"""An actor's key is made once, even when two transactions need it first at once (the web serving the
actor to a node that fetches it, the worker signing a delivery): otherwise the key served and the key
that signs differ, and the other node refuses the signature."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.activitypub import keys
from node.core import db
from tests.support.databases import backends
from tests.support.settings import TEST_SECRET


# PostgreSQL only: SQLite lets one writer at a time, so the race cannot happen there.
@pytest.mark.parametrize("database_url", [b for b in backends() if b == "postgresql"], indirect=True)
def test_two_transactions_needing_a_new_key_at_once_share_one(engine: Engine) -> None:
    owner = "user:9001"
    found: list[str] = []
    with db.session_scope(engine) as first:
        made = keys.ensure_key(owner, TEST_SECRET, session=first).public_pem

        def second() -> None:  # waits for the first transaction's lock, then reads its key
            with db.session_scope(engine) as s:
                found.append(keys.ensure_key(owner, TEST_SECRET, session=s).public_pem)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive(), "the second transaction did not wait for the first"
    thread.join(timeout=30)
    assert found == [made]
    with Session(engine) as s:
        current = s.exec(
            select(keys.ActorKey).where(keys.ActorKey.owner == owner, col(keys.ActorKey.retired_at).is_(None))
        )
        assert len(current.all()) == 1
