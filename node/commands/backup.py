"""``asasap backup`` and ``asasap restore``: a whole node in one archive, and back (see
:mod:`node.core.backup` and docs/admin/backup.md)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from node.activitypub import discovery
from node.commands.base import CommandError, Context, SubParsers, add_json_flag, print_json
from node.core import backup, db


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "backup",
        help="write an archive of the database and the data folder",
        description="Write one archive (.tar.gz) holding a consistent copy of the database (SQLite's online "
        "backup, or pg_dump on PostgreSQL), every file of the data folder (secret key, media) and a "
        "manifest with checksums. Safe while the node serves and delivers. The archive holds the secret "
        "key and everyone's data: keep it private (it is written with mode 600).",
    )
    p.add_argument(
        "--output",
        metavar="FILE",
        help="where to write the archive (default: asasap-<domain>-<UTC time>.tar.gz here)",
    )
    add_json_flag(p)
    p.set_defaults(handler=cmd_backup)

    p = sub.add_parser(
        "restore",
        help="restore an archive made by `asasap backup` onto this node",
        description="Check the archive (manifest, checksums, backend, release, secret key), then put its "
        "database and data folder in place of this node's. Refuses, changing nothing, a damaged or "
        "foreign archive, and a node that already holds data unless --force is given. Stop the node's "
        "processes first; run `asasap migrate` afterwards when the archive comes from an older release.",
    )
    p.add_argument("archive", metavar="FILE", help="the archive to restore")
    p.add_argument("--force", action="store_true", help="replace the node's current database and data")
    add_json_flag(p)
    p.set_defaults(handler=cmd_restore)


def _default_output(context: Context) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    domain = context.settings.domain.replace(":", "_")
    return Path(f"asasap-{domain}-{stamp}.tar.gz")


def cmd_backup(args: argparse.Namespace, context: Context) -> int:
    output = Path(args.output) if args.output else _default_output(context)
    try:
        manifest = backup.create(
            context.settings, context.engine, output, software_version=discovery.software_version()
        )
    except backup.BackupError as exc:
        raise CommandError(str(exc)) from None
    size = output.stat().st_size
    if args.json:
        print_json({"archive": str(output.resolve()), "bytes": size, "manifest": manifest.__dict__})
    else:
        print(
            f"Backup written to {output} ({size} bytes): {manifest.backend} database at revision "
            f"{manifest.revision}, {len(manifest.files) - 1} data files"
            + (
                ", secret key included."
                if manifest.secret_included
                else "; the secret key is not inside "
                "(it comes from ASASAP_SECRET_KEY): keep it with the archive."
            )
        )
    return 0


def cmd_restore(args: argparse.Namespace, context: Context) -> int:
    try:
        manifest = backup.restore(context.settings, context.engine, Path(args.archive), force=args.force)
    except backup.BackupError as exc:
        raise CommandError(f"restore refused: {exc}") from None
    head = db.head_revision()
    behind = manifest.revision != head
    if args.json:
        print_json({"restored": True, "manifest": manifest.__dict__, "needs_migrate": behind})
    else:
        print(
            f"Restored the backup of {manifest.base_url} made {manifest.created_at} "
            f"({manifest.backend}, revision {manifest.revision})."
        )
        if manifest.base_url != context.settings.base_url:
            print(
                f"Warning: the backup is of {manifest.base_url}, this node is {context.settings.base_url}; "
                "ActivityPub ids derive from the base URL: set ASASAP_BASE_URL to the backup's."
            )
        if behind:
            print(f"The database is at revision {manifest.revision}; run `asasap migrate` before serving.")
    return 0
