"""``asasap demo``: a ready-to-try node on loopback, seeded with French demo data."""

from __future__ import annotations

import argparse
import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from node import db
from node.activitypub import keys
from node.app import create_app
from node.commands.base import SubParsers
from node.demo import DEMO_PASSWORD, MONTREUIL, DemoPerson, seed
from node.settings import Mode, RegistrationPolicy, Settings, load_settings


@dataclass(frozen=True)
class DemoNode:
    slug: str
    name: str
    territory: str
    mode: Mode
    people: tuple[DemoPerson, ...]


DEMO_NODES = (DemoNode("montreuil", "Montreuil Services", "Montreuil (93)", Mode.MARKET, MONTREUIL),)


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "demo",
        help="start demo nodes on loopback with French demo data",
        description="Prepare demo nodes under DIR (default var/demo), seed them with demo people, print "
        "their URLs and logins, and serve them until Ctrl-C. Running it again keeps the existing data; "
        "--reset starts from scratch.",
    )
    p.add_argument("--dir", default="var/demo", help="where the demo nodes keep their data")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--base-port", type=int, default=8001, help="port of the first node; the others follow (default 8001)"
    )
    p.add_argument("--reset", action="store_true", help="delete the demo data first")
    p.add_argument("--no-serve", action="store_true", help="prepare and print, but do not serve")
    p.set_defaults(handler=cmd_demo)


def _prepare(node: DemoNode, root: Path, host: str, port: int) -> Settings:
    data_dir = root / node.slug
    data_dir.mkdir(parents=True, exist_ok=True)
    secret_file = data_dir / "secret.key"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(48) + "\n", encoding="utf-8")
        secret_file.chmod(0o600)
    settings = load_settings(
        env={},
        data_dir=data_dir,
        base_url=f"http://{host}:{port}",
        node_name=node.name,
        territory=node.territory,
        mode=node.mode,
        registration=RegistrationPolicy.OPEN,
        allow_private_addresses=True,
        port=port,
        host=host,
    )
    engine = db.make_engine(settings.effective_database_url)
    db.migrate(engine)
    with db.session_scope(engine, write=True) as session:
        keys.ensure_key(session, keys.NODE_OWNER, settings.effective_secret_key)
        seed(session, settings.effective_secret_key, node.people)
    engine.dispose()
    return settings


async def _serve_all(all_settings: list[Settings]) -> None:
    servers = [
        uvicorn.Server(uvicorn.Config(create_app(s), host=s.host, port=s.port, log_level="warning"))
        for s in all_settings
    ]
    await asyncio.gather(*(server.serve() for server in servers))


def cmd_demo(args: argparse.Namespace, _context: object) -> int:
    root = Path(args.dir)
    if args.reset and root.exists():
        import shutil

        shutil.rmtree(root)
    all_settings = [
        _prepare(node, root, args.host, args.base_port + index) for index, node in enumerate(DEMO_NODES)
    ]
    print("ASASAP demo — nœuds de démonstration / demo nodes:\n")
    for node, settings in zip(DEMO_NODES, all_settings, strict=True):
        print(f"  {node.name} ({node.territory}, {node.mode.value}): {settings.base_url}")
        for person in node.people:
            print(f"    {person.username:<14} {person.role.value:<12} {person.display_name}")
    print(f"\n  Mot de passe de tous les comptes / password of every account: {DEMO_PASSWORD}")
    if args.no_serve:
        return 0
    print("\nCtrl-C pour arrêter / to stop.", flush=True)
    try:
        asyncio.run(_serve_all(all_settings))
    except KeyboardInterrupt:
        pass
    return 0
