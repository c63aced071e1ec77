"""Backups and restores of a whole node (node/core/backup.py) on each backend: a node with people,
proposals, an agreement, pending deliveries, its keys and media files comes back the same; a
damaged, foreign or mismatched archive, and a target that holds a node, are refused with a clear
message and change nothing."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, text
from sqlmodel import Session, select

from node.accounts.models import User
from node.activitypub import keys
from node.activitypub.models import Delivery, RemoteActor
from node.core import backup, db
from node.market.models import Agreement, Proposal
from node.settings import Settings
from tests.support.databases import DatabaseFactory
from tests.support.delivery import add_follower, add_remote_actor, local_person, publish_note
from tests.support.evaluations import make_agreement, uri
from tests.support.market import make_proposal, person

COUNTED = (User, Proposal, Agreement, Delivery, RemoteActor)


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__name__: int(session.exec(select(func.count()).select_from(model)).one())
            for model in COUNTED
        }


@pytest.fixture
def filled(settings: Settings, engine: Engine) -> Settings:
    """A node with people, a proposal, an agreement, deliveries waiting, its secret and a media file."""
    settings = settings.replace(secret_key="")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.secret_file.write_text("a-secret-key-long-enough-for-the-node-0123456789\n")
    amina, bilal = person(engine, "amina"), person(engine, "bilal")
    with Session(engine) as session:
        make_proposal(session, settings, amina)
    make_agreement(engine, settings, provider=uri(settings, bilal), requester=uri(settings, amina))
    actor = local_person(settings, engine, "amina")
    add_remote_actor(engine, "https://bagnolet.example", "chloe")
    add_follower(engine, actor, "https://bagnolet.example/users/chloe")
    publish_note(settings, engine, actor, to_followers=True)
    (settings.data_dir / "media" / "ab").mkdir(parents=True)
    (settings.data_dir / "media" / "ab" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return settings


@pytest.fixture
def target(
    request: pytest.FixtureRequest,
    database_factories: dict[str, DatabaseFactory],
    database_url: str,
    tmp_path: Path,
    filled: Settings,
) -> Iterator[tuple[Settings, Engine]]:
    """An empty node of the same backend, with the same base URL, to restore into."""
    factory = database_factories["postgresql" if database_url.startswith("postgresql") else "sqlite"]
    url = factory.create_empty()
    engine = db.make_engine(url)
    yield filled.replace(data_dir=tmp_path / "restored", database_url=url), engine
    engine.dispose()
    factory.drop(url)


def test_round_trip(
    filled: Settings, engine: Engine, target: tuple[Settings, Engine], tmp_path: Path
) -> None:
    archive = tmp_path / "node.tar.gz"
    manifest = backup.create(filled, engine, archive, software_version="test")
    assert manifest.secret_included and manifest.revision == db.head_revision()
    assert archive.stat().st_mode & 0o077 == 0  # private: it holds the secret key
    assert set(manifest.files) >= {"data/secret.key", "data/media/ab/photo.jpg"}
    assert not any(name.endswith((".db", ".db-wal")) for name in manifest.files)
    settings, restored = target
    assert backup.holds_a_node(settings, restored) is None
    backup.restore(settings, restored, archive)
    assert counts(restored) == counts(engine)
    assert counts(restored)["Delivery"] >= 1  # the pending delivery waits on the restored node too
    assert settings.secret_file.read_text() == filled.secret_file.read_text()
    assert (settings.data_dir / "media" / "ab" / "photo.jpg").read_bytes().startswith(b"\xff\xd8")
    with Session(restored) as session:  # the keys read with the restored secret
        row = keys.current_key(local_person(filled, engine, "amina").key_owner, session=session)
        assert row is not None
        keys.decrypt_private_key(row.private_encrypted, settings.effective_secret_key)
    db.check_migrated(restored)


def test_a_node_that_holds_data_is_kept_unless_forced(
    filled: Settings, engine: Engine, tmp_path: Path
) -> None:
    archive = tmp_path / "node.tar.gz"
    backup.create(filled, engine, archive, software_version="test")
    person(engine, "dora")  # the node goes on living after its backup
    before = counts(engine)
    with pytest.raises(backup.BackupError, match="already holds a database at revision .* --force"):
        backup.restore(filled, engine, archive)
    assert counts(engine) == before
    backup.restore(filled, engine, archive, force=True)
    assert counts(engine) == {**before, "User": before["User"] - 1}


def _rewrite(archive: Path, damaged: Path, change: str) -> None:
    with tarfile.open(archive) as source, tarfile.open(damaged, "w:gz") as out:
        for member in source:
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if change == "flip" and member.name == "data/secret.key":
                data = b"X" + data[1:]
            if change == "backend" and member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["backend"] = "postgresql" if manifest["backend"] == "sqlite" else "sqlite"
                data = json.dumps(manifest).encode()
            if change == "drop" and member.name.startswith("database."):
                continue
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("flip", "secret.key is damaged in the archive"),
        ("backend", "restore it onto the same kind of database"),
        ("drop", "the archive is incomplete: database"),
        ("foreign", "is not an ASASAP backup"),
        ("garbage", "is not an ASASAP backup: not a readable archive"),
    ],
)
def test_damaged_foreign_or_mismatched_archives_change_nothing(
    filled: Settings,
    engine: Engine,
    target: tuple[Settings, Engine],
    tmp_path: Path,
    change: str,
    message: str,
) -> None:
    archive = tmp_path / "node.tar.gz"
    backup.create(filled, engine, archive, software_version="test")
    bad = tmp_path / "bad.tar.gz"
    if change == "foreign":
        with tarfile.open(bad, "w:gz") as out:
            out.add(filled.secret_file, arcname="secret.key")
    elif change == "garbage":
        bad.write_bytes(b"this is no archive at all")
    else:
        _rewrite(archive, bad, change)
    settings, restored = target
    with pytest.raises(backup.BackupError, match=message):
        backup.restore(settings, restored, bad)
    assert backup.holds_a_node(settings, restored) is None
    assert not settings.secret_file.exists() and not (settings.data_dir / "media").exists()


def test_a_secret_kept_outside_must_be_given_again(
    filled: Settings, engine: Engine, target: tuple[Settings, Engine], tmp_path: Path
) -> None:
    outside = filled.replace(secret_key=filled.secret_file.read_text().strip())
    filled.secret_file.unlink()
    archive = tmp_path / "node.tar.gz"
    assert not backup.create(outside, engine, archive, software_version="test").secret_included
    settings, restored = target
    with pytest.raises(backup.BackupError, match="give this node the same ASASAP_SECRET_KEY"):
        backup.restore(
            settings.replace(secret_key="another-secret-key-of-a-different-node-000"), restored, archive
        )
    assert backup.holds_a_node(settings, restored) is None
    backup.restore(settings.replace(secret_key=outside.secret_key), restored, archive)
    with restored.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() == 2
