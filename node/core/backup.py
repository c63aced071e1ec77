"""Backups of a whole node, and their restoration (``asasap backup``, ``asasap restore``).

An archive is a gzipped tar holding, in this order:

- ``manifest.json``: the format and its version, when and by which release it was made, the node's
  base URL, the database backend and its migration revision, whether the secret key is inside (and a
  fingerprint of it), and the SHA-256 and size of every other member;
- ``database.sqlite3`` (SQLite's online backup API: a consistent copy while the node writes) or
  ``database.pgdump`` (``pg_dump`` custom format, one snapshot of the database);
- ``data/...``: every file of the data folder (``secret.key``, ``media/``...) but the database itself.

The node's key pairs live in the database, their private halves encrypted under the secret key, so
an archive restores a node that still signs as itself only with that secret: it is in the archive when
the node keeps it in ``secret.key``; when it comes from ``ASASAP_SECRET_KEY``, restoring checks that the
target is given the same one (by its fingerprint).

Restoring checks everything before it changes anything: the manifest, every checksum, the backend,
the revision (not newer than the code), the secret; it refuses a target that already holds a node
unless ``force`` is given. A refused restore leaves the target as it was.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from node.core import db
from node.settings import SECRET_FILE_NAME, Settings, SettingsError

FORMAT = "asasap-backup"
VERSION = 1
MANIFEST = "manifest.json"
DATA_PREFIX = "data/"
DATABASE_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup cannot be made, or an archive cannot be restored; the message says why."""


@dataclass
class Manifest:
    """What an archive holds (``manifest.json``)."""

    format: str
    version: int
    created_at: str
    software_version: str
    base_url: str
    backend: str
    revision: str | None
    secret_included: bool
    secret_fingerprint: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()


def backend_of(engine: Engine) -> str:
    return "postgresql" if engine.dialect.name == "postgresql" else "sqlite"


def fingerprint(secret: str) -> str:
    """A fingerprint of the secret key that reveals nothing of it."""
    return hmac.new(secret.encode(), b"asasap backup fingerprint", hashlib.sha256).hexdigest()[:16]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq_url(engine: Engine) -> str:
    """The database URL as ``pg_dump`` and ``pg_restore`` read it."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(engine: Engine) -> Path:
    database = make_url(engine.url.render_as_string(hide_password=False)).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _run(command: list[str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} is not installed: install PostgreSQL's client tools "
            "(apt-get install postgresql-client)"
        ) from None
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[:2000]}")


def _dump_database(engine: Engine, target: Path) -> str | None:
    """Write a consistent copy of the database to ``target``; its migration revision."""
    if backend_of(engine) == "postgresql":
        revision = db.current_revision(engine)
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={target}",
                _libpq_url(engine),
            ]
        )
        return revision
    source = sqlite3.connect(f"file:{_sqlite_path(engine)}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        with copy:
            source.backup(copy)  # one consistent snapshot, even while the node writes
        row = copy.execute(
            "SELECT version_num FROM alembic_version"
            if copy.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone()
            else "SELECT NULL"
        ).fetchone()
    finally:
        copy.close()
        source.close()
    return row[0] if row else None


def _skipped_in_data(settings: Settings, engine: Engine, output: Path) -> set[Path]:
    skipped = {output.resolve()}
    if backend_of(engine) == "sqlite":
        database = _sqlite_path(engine).resolve()
        skipped |= {Path(f"{database}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")}
    return skipped


def _data_files(settings: Settings, skipped: set[Path]) -> Iterator[tuple[Path, str]]:
    """The regular files of the data folder (path, name in the archive), symbolic links left out."""
    root = settings.data_dir
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.resolve() in skipped:
            continue
        if path.name.endswith((".restoring", ".partial")):
            continue
        yield path, DATA_PREFIX + path.relative_to(root).as_posix()


def create(settings: Settings, engine: Engine, output: Path, *, software_version: str) -> Manifest:
    """Write a backup of the node to ``output`` (atomically: a failed backup leaves no archive)."""
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    backend = backend_of(engine)
    secret = settings.effective_secret_key
    with tempfile.TemporaryDirectory(prefix="asasap-backup-", dir=output.parent) as work:
        database_file = Path(work) / DATABASE_MEMBERS[backend]
        revision = _dump_database(engine, database_file)
        members: list[tuple[Path, str]] = [(database_file, DATABASE_MEMBERS[backend])]
        members += list(_data_files(settings, _skipped_in_data(settings, engine, output)))
        manifest = Manifest(
            format=FORMAT,
            version=VERSION,
            created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            software_version=software_version,
            base_url=settings.base_url,
            backend=backend,
            revision=revision,
            secret_included=any(name == DATA_PREFIX + SECRET_FILE_NAME for _, name in members),
            secret_fingerprint=fingerprint(secret),
            files={name: {"sha256": _sha256(path), "size": path.stat().st_size} for path, name in members},
        )
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            body = manifest.to_json()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(body), int(datetime.now(UTC).timestamp()), 0o600
            archive.addfile(info, io.BytesIO(body))
            for path, name in members:
                archive.add(path, arcname=name, recursive=False)
        os.chmod(partial, 0o600)  # it holds the secret key and everyone's data
        os.replace(partial, output)
    return manifest


def _member_name(member: tarfile.TarInfo) -> str:
    name = member.name
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not member.isfile():
        raise BackupError(f"the archive holds an unexpected entry {name!r}: it is not an ASASAP backup")
    return name


def read_manifest(archive_path: Path) -> Manifest:
    """The manifest of an archive, checked for shape (its files are checked by :func:`unpack`)."""
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            first = archive.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise BackupError(f"{archive_path} is not an ASASAP backup (no manifest.json at its start)")
            handle = archive.extractfile(first)
            assert handle is not None
            data = json.loads(handle.read(1 << 20))
    except (tarfile.TarError, OSError, EOFError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BackupError(
            f"{archive_path} is not an ASASAP backup: not a readable archive ({detail})"
        ) from None
    except ValueError:
        raise BackupError(f"{archive_path} is not an ASASAP backup (its manifest is not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupError(f"{archive_path} is not an ASASAP backup")
    if data.get("version") != VERSION:
        raise BackupError(
            f"{archive_path} is a backup of format version {data.get('version')}; "
            f"this release reads version {VERSION}"
        )
    try:
        return Manifest(**data)
    except TypeError:
        raise BackupError(f"{archive_path} has a manifest this release does not understand") from None


def unpack(archive_path: Path, into: Path) -> Manifest:
    """Extract the archive into the folder ``into`` and check every member against the manifest."""
    manifest = read_manifest(archive_path)
    seen: set[str] = set()
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            for member in archive:
                if member.name == MANIFEST:
                    continue
                name = _member_name(member)
                expected = manifest.files.get(name)
                if expected is None:
                    raise BackupError(f"the archive holds {name!r}, which its manifest does not list")
                target = into / name
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                digest = hashlib.sha256()
                with target.open("wb") as out:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() != expected["sha256"] or target.stat().st_size != expected["size"]:
                    raise BackupError(f"{name} is damaged in the archive (its checksum does not match)")
                seen.add(name)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise BackupError(f"{archive_path} is damaged: {exc}") from None
    missing = sorted(set(manifest.files) - seen)
    if missing:
        raise BackupError(f"the archive is incomplete: {', '.join(missing)} missing")
    if DATABASE_MEMBERS.get(manifest.backend) not in seen:
        raise BackupError("the archive holds no database")
    return manifest


def holds_a_node(settings: Settings, engine: Engine) -> str | None:
    """What the target already holds (a description), or None when it is empty."""
    found = []
    try:
        revision = db.current_revision(engine)
    except Exception:  # noqa: BLE001 - a database that cannot be read holds nothing we would lose
        revision = None
    if revision is not None:
        found.append(f"a database at revision {revision}")
    if settings.secret_file.exists():
        found.append(f"a secret key in {settings.secret_file}")
    return " and ".join(found) or None


def _known_revision(revision: str | None) -> bool:
    if revision is None:
        return True
    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    return any(rev.revision == revision for rev in script.walk_revisions())


def restore(settings: Settings, engine: Engine, archive_path: Path, *, force: bool = False) -> Manifest:
    """Restore the archive onto this node's database and data folder; refuse (changing nothing) a
    damaged or foreign archive, a target that already holds a node without ``force``, another
    backend, a newer release's database, or a secret key that cannot read the node's keys."""
    if not archive_path.is_file():
        raise BackupError(f"no such file: {archive_path}")
    backend = backend_of(engine)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    declared = read_manifest(archive_path)
    if declared.backend != backend:
        raise BackupError(
            f"this backup is of a {declared.backend} database and the node is set up for {backend}: "
            "restore it onto the same kind of database"
        )
    with tempfile.TemporaryDirectory(prefix="asasap-restore-", dir=settings.data_dir.parent) as work:
        unpacked = Path(work)
        manifest = unpack(archive_path, unpacked)
        if not _known_revision(manifest.revision):
            raise BackupError(
                f"this backup comes from a newer release (database revision {manifest.revision}): "
                "install that release or a later one first"
            )
        if not manifest.secret_included:
            try:
                secret = settings.effective_secret_key
            except SettingsError:
                secret = ""
            if fingerprint(secret) != manifest.secret_fingerprint:
                raise BackupError(
                    "the backup does not hold the secret key (the node had it in ASASAP_SECRET_KEY): "
                    "give this node the same ASASAP_SECRET_KEY, or its keys cannot be read"
                )
        present = holds_a_node(settings, engine)
        if present and not force:
            raise BackupError(
                f"this node already holds {present}; restoring would replace it. "
                "Stop the node, and run again with --force to replace it"
            )
        engine.dispose()
        _restore_database(engine, unpacked / DATABASE_MEMBERS[backend], wipe=present is not None)
        _restore_data(settings, unpacked / DATA_PREFIX.rstrip("/"))
    engine.dispose()
    return manifest


def _restore_database(engine: Engine, dump: Path, *, wipe: bool) -> None:
    if backend_of(engine) == "postgresql":
        if wipe:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={_libpq_url(engine)}",
                str(dump),
            ]
        )
        return
    target = _sqlite_path(engine)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".restoring")
    shutil.copyfile(dump, staged)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staged, target)


def _restore_data(settings: Settings, unpacked: Path) -> None:
    """Put each top-level entry of the archive's data folder in place of the node's."""
    if not unpacked.is_dir():
        return
    root = settings.data_dir
    for entry in sorted(unpacked.iterdir()):
        target = root / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        shutil.move(str(entry), str(target))
    secret = root / SECRET_FILE_NAME
    if secret.exists():
        os.chmod(secret, 0o600)
