"""Upgrading a node: a database made and filled by the previous release (its schema at the revision
of tests/data/upgrade/release-*.json, filled by scripts/upgrade_fixture.py) is migrated to today's head
on each backend, and everything in it still reads: every row through today's models, and the pages,
ActivityPub documents and API listings of its people and proposals. Migrations added later are covered
as they land: the test always goes to whatever head is. A migration that fills a new column from the
rows already there is checked on such rows, from the revision before it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Boolean, DateTime, Engine, Integer, MetaData, Numeric, func, insert, select, text
from sqlmodel import Session, SQLModel
from starlette.testclient import TestClient

from node.app import create_app
from node.core import db
from node.market.availability import slot
from node.market.evaluations.service import reputations_of
from node.market.models import Proposal, Standing
from node.market.schedule import TimeWindow, WeeklyRecurrence, to_json
from node.settings import RegistrationPolicy, load_settings
from tests.support.databases import DatabaseFactory, backends

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "data" / "upgrade").glob("release-*.json"))
SECRET = "upgrade-fixture-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # scripts/upgrade_fixture.py
BASE_URL = "http://127.0.0.1:8001"
AS = {"Accept": "application/activity+json"}


def _decode(value: Any, column_type: Any, sqlite: bool) -> Any:
    if isinstance(value, dict):
        if "$datetime" in value:
            moment = datetime.fromisoformat(value["$datetime"])
            return moment.replace(tzinfo=None) if sqlite else moment
        if "$decimal" in value:
            return Decimal(value["$decimal"])
        if "$bytes" in value:
            return base64.b64decode(value["$bytes"])
    if value is not None and isinstance(column_type, Boolean):
        return bool(value)
    if value is not None and isinstance(column_type, Integer) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and isinstance(column_type, (DateTime, Numeric)):
        return datetime.fromisoformat(value) if isinstance(column_type, DateTime) else Decimal(value)
    return value


def load(engine: Engine, fixture: dict[str, Any]) -> None:
    """The release's rows, into a database at the release's revision (its own columns, as reflected)."""
    schema = MetaData()
    schema.reflect(engine)
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as connection:
        for table in schema.sorted_tables:
            rows = fixture["tables"].get(table.name, [])
            if rows:
                connection.execute(
                    table.insert(),
                    [{k: _decode(v, table.c[k].type, sqlite) for k, v in row.items()} for row in rows],
                )
        if not sqlite:  # explicit ids leave the sequences behind
            for table in schema.sorted_tables:
                if (
                    "id" in table.c
                    and isinstance(table.c.id.type, Integer)
                    and fixture["tables"].get(table.name)
                ):
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )


@pytest.fixture(params=backends())
def empty_database(
    request: pytest.FixtureRequest, database_factories: dict[str, DatabaseFactory]
) -> Iterator[Engine]:
    factory = database_factories[request.param]
    url = factory.create_empty()
    engine = db.make_engine(url)
    yield engine
    engine.dispose()
    factory.drop(url)


@pytest.mark.parametrize("fixture_path", FIXTURES, ids=[path.stem for path in FIXTURES])
def test_a_filled_release_database_upgrades_to_head_and_reads(
    empty_database: Engine, fixture_path: Path, tmp_path: Path
) -> None:
    fixture = json.loads(fixture_path.read_text(encoding="utf-8"))
    engine = empty_database
    config = db.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, fixture["revision"])
    load(engine, fixture)
    assert db.current_revision(engine) == fixture["revision"]

    before, after = db.migrate(engine)
    assert (before, after) == (fixture["revision"], db.head_revision())
    db.check_migrated(engine)

    # Every row of the release, through today's models (every column's type reads back).
    with Session(engine) as session:
        for name, rows in fixture["tables"].items():
            assert session.execute(select(func.count()).select_from(text(name))).scalar_one() == len(rows), (
                name
            )
        for mapper in SQLModel._sa_registry.mappers:  # noqa: SLF001 - every table model there is
            session.exec(select(mapper.class_)).all()  # type: ignore[call-overload]

    # What the release's evaluations add up to per person (the standings the migration fills).
    with Session(engine) as session:
        evaluated = {row["evaluated_uri"] for row in fixture["tables"]["evaluations"]}
        reputations = reputations_of(evaluated, session=session)
        kept = {row.uri: (row.count, row.hundredths) for row in session.execute(select(Standing)).scalars()}
        expected = {u: (r.count, int(r.mean * 100)) for u, r in reputations.items() if r.mean is not None}
        assert kept == expected and kept

    # What people and other servers read from it.
    settings = load_settings(
        env={},
        data_dir=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        secret_key=SECRET,
        base_url=BASE_URL,
        registration=RegistrationPolicy.OPEN,
        embedded_worker=False,
    )
    people = [row["username"] for row in fixture["tables"]["users"]]
    proposals = [row["ap_id"].removeprefix(BASE_URL) for row in fixture["tables"]["proposals"]]
    assert len(people) >= 3 and len(proposals) >= 2 and fixture["tables"]["agreements"]
    with TestClient(create_app(settings, engine=engine), base_url=BASE_URL) as client:
        for path in ["/", "/proposals", "/api/v1/proposals", "/.well-known/nodeinfo", "/actor"]:
            assert client.get(path).status_code == 200, path
        for name in people:
            if any(
                row["username"] == name and row["status"] == "active" for row in fixture["tables"]["users"]
            ):
                assert client.get(f"/users/{name}", headers=AS).json()["preferredUsername"] == name
                assert client.get(f"/users/{name}/outbox", headers=AS).status_code == 200
        for path in proposals:
            assert client.get(path).status_code == 200, path
            assert client.get(path, headers=AS).json()["type"] == "Proposal"


def test_0039_gives_the_existing_proposals_the_mask_of_their_schedule(empty_database: Engine) -> None:
    """More than a batch of proposals, with a weekly slot, a time window, none, an unreadable one."""
    engine = empty_database
    assert db.migrate(engine, "0038") == (None, "0038")
    tuesday_evenings = WeeklyRecurrence((1,), time(18), time(20), date(2030, 1, 1), date(2030, 3, 1))
    saturday = TimeWindow(datetime(2030, 1, 5, 16, tzinfo=UTC), datetime(2030, 1, 5, 18, 30, tzinfo=UTC))
    texts = [json.dumps(to_json(tuesday_evenings)), json.dumps(to_json(saturday)), None, "not json"]
    count = 1400  # 1,050 with a schedule: more than a batch of 1,000
    rows = [
        Proposal(
            ap_id=f"{BASE_URL}/proposals/{n}",
            author_uri=f"{BASE_URL}/users/alice",
            purpose="offer",
            title="Ménage",
            schedule=texts[n % len(texts)],
        ).model_dump(exclude={"id", "slots"})
        for n in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(Proposal), rows)
    assert db.migrate(engine, "0039") == ("0038", "0039")
    with engine.connect() as connection:
        read = connection.execute(text("SELECT ap_id, slots FROM proposals"))
        found = {ap_id: mask for ap_id, mask in read}
    expected = [1 << slot(1, "evening"), (1 << slot(5, "afternoon")) | (1 << slot(5, "evening")), None, None]
    assert found == {f"{BASE_URL}/proposals/{n}": expected[n % len(texts)] for n in range(count)}

    config = db.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0038")
    schema = MetaData()
    schema.reflect(engine, only=["proposals"])
    assert "slots" not in schema.tables["proposals"].c
    if engine.dialect.name == "sqlite":  # dropped in place, not by rebuilding the table: 0010's triggers stay
        with engine.connect() as connection:
            triggers = connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'proposals'")
            )
            assert sorted(triggers.scalars()) == [
                "proposals_fts_delete",
                "proposals_fts_insert",
                "proposals_fts_update",
            ]
