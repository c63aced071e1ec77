"""Commands that set up and run a node: init, migrate, serve, doctor."""

from __future__ import annotations

import argparse
import logging
import os
import stat
from typing import Any

from node.accounts import service
from node.accounts.models import Role
from node.activitypub import keys
from node.commands.base import CommandError, Context, SubParsers, add_json_flag, print_json, read_password
from node.core import db, logs
from node.http import serving
from node.settings import SettingsError, new_secret_key


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "init",
        help="create the data folder, database, secret key and node key pair",
        description="Prepare a new node without asking questions: creates the data folder "
        "(ASASAP_DATA_DIR), a secret key file unless ASASAP_SECRET_KEY is set, the database with every "
        "migration, the node's key pair, and its Web Push (VAPID) key pair in the data folder. Running it "
        "again on a ready node changes nothing (but stores the VAPID key pair of a node initialised before "
        "it was kept there).",
    )
    p.add_argument("--admin", metavar="USERNAME", help="also create an administrator account")
    p.add_argument("--email", default="", help="the administrator's email address")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the administrator's password from stdin"
    )
    add_json_flag(p)
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser(
        "migrate",
        help="bring the database schema up to date",
        description="Apply every pending database migration (safe to run at any time).",
    )
    add_json_flag(p)
    p.set_defaults(handler=cmd_migrate)

    p = sub.add_parser(
        "serve",
        help="run the web server",
        description="Serve the node over HTTP with uvicorn. Refuses to start on an un-migrated database.",
    )
    p.add_argument("--host", help="address to listen on (default: ASASAP_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default: ASASAP_PORT, 8000)")
    p.add_argument("--workers", type=int, default=1, help="number of web processes (default 1)")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser(
        "doctor",
        help="check settings, database, migrations and keys",
        description="Check that the node can run: settings valid, database reachable and migrated, "
        "secret key and node key pair present and usable. Exits 1 when a check fails.",
    )
    add_json_flag(p)
    p.set_defaults(handler=cmd_doctor)


def _write_secret_file(context: Context) -> bool:
    settings = context.settings
    if settings.secret_key or settings.secret_file.exists():
        return False
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(settings.secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new_secret_key() + "\n")
    return True


def cmd_init(args: argparse.Namespace, context: Context) -> int:
    from node.emails import push  # Web Push's libraries, only for the commands that need them

    password = read_password(args) if args.admin else None
    settings = context.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    created_secret = _write_secret_file(context)
    secret = settings.effective_secret_key
    before, after = db.migrate(context.engine)
    with context.session() as session:
        had_key = keys.current_key(keys.NODE_OWNER, session=session) is not None
        keys.ensure_key(keys.NODE_OWNER, secret, session=session)
        admin = None
        if args.admin:
            assert password is not None
            admin = service.create_user(
                username=args.admin, password=password, email=args.email, role=Role.ADMIN, session=session
            )
            keys.ensure_key(keys.user_owner(admin.id or 0), secret, user_id=admin.id, session=session)
    vapid_created = push.create_key_file(settings, new=not had_key)
    result: dict[str, Any] = {
        "data_dir": str(settings.data_dir.resolve()),
        "database": context.engine.url.render_as_string(hide_password=True),
        "secret_key_file": str(settings.secret_file) if created_secret else None,
        "migrated_from": before,
        "revision": after,
        "node_key_created": not had_key,
        "vapid_key_created": vapid_created,
        "admin": admin.username if admin else None,
        "base_url": settings.base_url,
    }
    if args.json:
        print_json(result)
    else:
        print(f"Node ready in {result['data_dir']} (database at revision {after}).")
        if created_secret:
            print(f"Secret key written to {settings.secret_file} (keep it safe and private).")
        print("Node key pair: " + ("created." if not had_key else "already present."))
        if vapid_created:
            print(f"Web Push (VAPID) key pair written to {push.key_file(settings)}.")
        if admin:
            print(f"Administrator account: {admin.username}")
        print(f"Start it with: asasap serve   (then open {settings.base_url})")
    return 0


def cmd_migrate(args: argparse.Namespace, context: Context) -> int:
    before, after = db.migrate(context.engine)
    if args.json:
        print_json({"from": before, "to": after, "changed": before != after})
    elif before == after:
        print(f"Database already at revision {after}.")
    else:
        print(f"Database migrated from {before or 'empty'} to {after}.")
    return 0


def cmd_serve(args: argparse.Namespace, context: Context) -> int:
    import uvicorn

    settings = context.settings
    host = args.host or settings.host
    port = args.port or settings.port
    settings.effective_secret_key  # noqa: B018 - fail now, with a clear message, if there is none
    db.check_migrated(context.engine)
    context.close()
    os.environ["ASASAP__SERVE_CONFIG"] = context.config_file or ""
    logs.configure(settings.log_level, settings.log_format)
    logging.getLogger("asasap.web").warning(
        "ASASAP node %r serving %s on http://%s:%s", settings.node_name, settings.base_url, host, port
    )
    uvicorn.run(
        "node.asgi:app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers if args.workers > 1 else None,
        loop="auto",
        log_level=settings.log_level.lower(),
        lifespan="on",
        **serving.uvicorn_options(settings),
    )
    return 0


def cmd_doctor(args: argparse.Namespace, context: Context) -> int:
    from node.emails import push

    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": ok, "detail": detail})

    try:
        settings = context.settings
        check("settings", True, f"base URL {settings.base_url}, mode {settings.mode.value}")
    except SettingsError as exc:
        check("settings", False, str(exc))
        return _report(args, checks)
    secret: str | None = None
    try:
        secret = settings.effective_secret_key
        check(
            "secret key", len(secret) >= 32, "present" if len(secret) >= 32 else "shorter than 32 characters"
        )
    except SettingsError as exc:
        check("secret key", False, str(exc))
    try:
        with context.engine.connect():
            pass
        check("database", True, context.engine.url.render_as_string(hide_password=True))
    except Exception as exc:  # noqa: BLE001 - any driver error is reported as-is
        check("database", False, f"cannot connect: {exc}")
        return _report(args, checks)
    try:
        db.check_migrated(context.engine)
        check("migrations", True, f"at head revision {db.head_revision()}")
    except db.NotMigrated as exc:
        check("migrations", False, str(exc))
        return _report(args, checks)
    with context.session() as session:
        row = keys.current_key(keys.NODE_OWNER, session=session)
    if row is None:
        check("node key", False, "no key pair: run `asasap init`")
    elif secret is None:
        check("node key", False, "present, but cannot be checked without the secret key")
    else:
        try:
            keys.decrypt_private_key(row.private_encrypted, secret)
            check("node key", True, "RSA key pair present and decryptable")
        except keys.KeyDecryptionError as exc:
            check("node key", False, str(exc))
    if secret is not None:
        check("web push key", *push.key_check(settings))
    return _report(args, checks)


def _report(args: argparse.Namespace, checks: list[dict[str, Any]]) -> int:
    ok = all(c["ok"] for c in checks)
    if args.json:
        print_json({"ok": ok, "checks": checks})
    else:
        for c in checks:
            print(f"[{'ok' if c['ok'] else 'FAIL'}] {c['check']}: {c['detail']}")
        print("All checks passed." if ok else "Some checks failed.")
    return 0 if ok else 1


__all__ = ["CommandError", "register"]
