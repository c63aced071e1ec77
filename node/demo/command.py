"""``asasap demo``: three federating nodes on loopback in one process, seeded with French demo data.

Two market nodes (Montreuil, Bagnolet) and a cooperative node, each with its own data folder and
SQLite database under ``--dir``, serve on three ports of ``--host`` (8001, 8002 and 8003 by default)
with their embedded workers, private addresses allowed so that they federate over loopback.
Accounts are created before serving; the marketplace (follows, offers and demands, bids, one agreement
completed and evaluated) is seeded through the federation once the servers answer
(:mod:`node.demo.seeding`), on the first run only. People, proposals, bids and the agreement come from
the tables under ``node/demo/data/``, read and checked first (:mod:`node.demo.loader`): a mistake in
them stops the command before anything is created. ``demo.json`` under ``--dir`` remembers the
addresses the data was made for (every ActivityPub id names them) and whether the seeding is done.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import shutil
import signal
import socket
import time
from collections.abc import Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import uvicorn
from sqlalchemy import Engine

from node.accounts.models import Role
from node.activitypub import keys
from node.app import create_app
from node.commands.base import CommandError, SubParsers
from node.core import db
from node.demo import groups as demo_groups
from node.demo.accounts import DEMO_PASSWORD, create_accounts
from node.demo.loader import load_demo
from node.demo.seeding import SEED_TIMEOUT, LiveNode, seed_marketplace
from node.demo.specs import DemoData, DemoNode
from node.demo.tables import DemoDataError
from node.demo.timebank import seed_timebank
from node.settings import Mode, RegistrationPolicy, Settings, load_settings

STATE_FILE = "demo.json"
DEFAULT_BASE_PORT = 8001
ROLES = {
    Role.ADMIN.value: "administration / admin",
    Role.COORDINATOR.value: "coordination / coordinator",
    Role.MEMBER.value: "membre / member",
    Role.RESEARCHER.value: "recherche / researcher",
}
MODES = {Mode.MARKET: "marché / market", Mode.COOPERATIVE: "coopérative / cooperative"}


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "demo",
        help="start three federating demo nodes on loopback with French demo data",
        description="Prepare three demo nodes under DIR (default var/demo): two market nodes and a "
        "cooperative node, with demo people; serve them until Ctrl-C; on the first run, have them follow "
        "each other and publish offers, demands, bids and one completed and evaluated agreement through "
        "the federation. Running it again keeps the existing data; --reset starts from scratch.",
    )
    p.add_argument("--dir", default="var/demo", help="where the demo nodes keep their data")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--base-port",
        type=int,
        help=f"port of the first node; the others follow (default {DEFAULT_BASE_PORT}, "
        "or the ports the existing demo data was made for)",
    )
    p.add_argument(
        "--ports", metavar="A,B,C", help="the three nodes' ports, comma-separated (instead of --base-port)"
    )
    p.add_argument("--reset", action="store_true", help="delete the demo data first")
    p.add_argument("--no-serve", action="store_true", help="prepare the accounts and print, but do not serve")
    p.add_argument(
        "--seed-timeout",
        type=float,
        default=SEED_TIMEOUT,
        metavar="SECONDS",
        help="give up seeding the marketplace after this long, the nodes still serving "
        f"(default {SEED_TIMEOUT:.0f})",
    )
    p.set_defaults(handler=cmd_demo)


@dataclass
class DemoState:
    """What ``demo.json`` remembers: the addresses the data was made for, and whether it is seeded."""

    host: str
    ports: list[int]
    seeded: bool = False

    @classmethod
    def load(cls, root: Path) -> DemoState | None:
        try:
            raw = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
            return cls(str(raw["host"]), [int(p) for p in raw["ports"]], bool(raw.get("seeded")))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise CommandError(
                f"{root / STATE_FILE} is unreadable ({exc}); start over with --reset"
            ) from None

    def save(self, root: Path) -> None:
        (root / STATE_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def _ports(args: argparse.Namespace, previous: DemoState | None, count: int) -> list[int]:
    """The ``count`` nodes' ports, from the options or else from the existing demo data."""
    if args.ports:
        try:
            ports = [int(part) for part in args.ports.split(",")]
        except ValueError:
            raise CommandError(
                f"--ports takes three port numbers separated by commas, not {args.ports!r}"
            ) from None
    elif args.base_port is not None:
        ports = [args.base_port + index for index in range(count)]
    elif previous is not None:
        ports = previous.ports
    else:
        ports = [DEFAULT_BASE_PORT + index for index in range(count)]
    if len(ports) != count or len(set(ports)) != len(ports):
        raise CommandError(f"the demo needs {count} different ports, got {ports}")
    if not all(0 < port < 65536 for port in ports):
        raise CommandError(f"ports must be between 1 and 65535, got {ports}")
    return ports


def _settings(node: DemoNode, root: Path, host: str, port: int) -> Settings:
    data_dir = root / node.slug
    data_dir.mkdir(parents=True, exist_ok=True)
    secret_file = data_dir / "secret.key"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(48) + "\n", encoding="utf-8")
        secret_file.chmod(0o600)
    return load_settings(
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


def _seed_accounts(
    node: DemoNode, settings: Settings, engine: Engine, groups: Sequence[demo_groups.DemoGroup] = ()
) -> None:
    with db.session_scope(engine, write=True) as session:
        keys.ensure_key(keys.NODE_OWNER, settings.effective_secret_key, session=session)
        create_accounts(settings.effective_secret_key, node.people, session=session)
    # The node's groups (micro-organisations), local to it: made before it serves.
    with db.session_scope(engine, write=True) as session:
        demo_groups.seed_groups(settings, groups, node.slug, session=session)


def _prepare(
    nodes: Sequence[DemoNode],
    root: Path,
    host: str,
    ports: Sequence[int],
    groups: Sequence[demo_groups.DemoGroup] = (),
) -> list[Settings]:
    """Data folders, migrated databases, node keys and demo accounts (what does not exist yet)."""
    all_settings = [_settings(node, root, host, port) for node, port in zip(nodes, ports, strict=True)]
    engines = [db.make_engine(settings.effective_database_url) for settings in all_settings]
    try:
        for engine in engines:
            db.migrate(engine)
        # Password hashing dominates: the three nodes' accounts are made side by side.
        with ThreadPoolExecutor(len(engines)) as pool:
            list(pool.map(_seed_accounts, nodes, all_settings, engines, [groups] * len(engines)))
    finally:
        for engine in engines:
            engine.dispose()
    return all_settings


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound now, so that a port in use is a clear error before anything starts."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CommandError(
            f"cannot listen on {host}:{port} ({exc.strerror}); choose other ports with --base-port or --ports"
        ) from None
    return sock


def _print_nodes(nodes: Sequence[DemoNode], all_settings: Sequence[Settings]) -> None:
    print("ASASAP — démo : trois nœuds fédérés / demo: three federating nodes\n")
    for node, settings in zip(nodes, all_settings, strict=True):
        print(f"  {node.name} — {MODES[node.mode]} — {node.territory}")
        print(f"    {settings.base_url}")
        for person in node.people:
            role = ROLES[person.role.value]
            print(f"      {person.username:<13} {role:<28} {person.display_name}, {person.commune}")
    print("\n  Identifiant, rôle, nom : se connecter sur le nœud indiqué.")
    print("  Username, role, name: log in on the node listed above.")
    print(f"  Mot de passe de tous les comptes / password of every account: {DEMO_PASSWORD}\n", flush=True)


class _DemoServer(uvicorn.Server):
    """One of the demo's servers: the demo handles Ctrl-C for the three at once."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _when_started(servers: Sequence[uvicorn.Server], serving: Sequence[asyncio.Task[None]]) -> bool:
    while not all(server.started for server in servers):
        if any(task.done() for task in serving):
            return False
        await asyncio.sleep(0.05)
    return True


async def _serve(
    demo: DemoData,
    all_settings: Sequence[Settings],
    sockets: Sequence[socket.socket],
    root: Path,
    state: DemoState,
    timeout: float,
) -> None:
    apps = [create_app(settings) for settings in all_settings]
    servers = [
        _DemoServer(
            uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_level="warning",
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=10,
            )
        )
        for app, settings in zip(apps, all_settings, strict=True)
    ]
    serving = [
        asyncio.create_task(server.serve(sockets=[sock]))
        for server, sock in zip(servers, sockets, strict=True)
    ]

    async def seed_then_wait() -> None:
        if not await _when_started(servers, serving):
            return
        if state.seeded:
            print("Données de démonstration déjà en place / demo data already in place.", flush=True)
        else:
            print("Préparation de la place de marché / seeding the marketplace…", flush=True)
            live = [
                LiveNode(node, settings, app.state.node.engine, app.state.remote_actors)
                for node, settings, app in zip(demo.nodes, all_settings, apps, strict=True)
            ]
            say = lambda line: print(line, flush=True)  # noqa: E731
            # The time bank (issue 12) after the marketplace: its agreement answers a published demand.
            started = time.monotonic()
            seeded = await seed_marketplace(demo, live, say, timeout=timeout)
            if seeded and await seed_timebank(demo, live, say):
                state.seeded = True
                state.save(root)
                print(
                    f"Données de démonstration prêtes / demo data ready — {time.monotonic() - started:.1f} s",
                    flush=True,
                )
        print("\nCtrl-C pour arrêter / to stop.", flush=True)

    seeding = asyncio.create_task(seed_then_wait())

    def stop() -> None:
        seeding.cancel()
        # Never force_exit: it would skip the applications' shutdown, where the workers finish.
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await asyncio.gather(*serving)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        seeding.cancel()
        await asyncio.gather(seeding, return_exceptions=True)
        for app in apps:
            app.state.node.engine.dispose()


def cmd_demo(args: argparse.Namespace, _context: object) -> int:
    root = Path(args.dir)
    if not args.seed_timeout > 0:
        raise CommandError("--seed-timeout takes a number of seconds above 0")
    try:
        demo = load_demo()
        groups = demo_groups.load_groups({n.slug: {p.username for p in n.people} for n in demo.nodes})
    except DemoDataError as exc:
        raise CommandError(f"the demo's tables hold a mistake: {exc}") from None
    if args.reset and root.exists():
        shutil.rmtree(root)
    previous = DemoState.load(root)
    ports = _ports(args, previous, len(demo.nodes))
    if previous is not None and (previous.host, previous.ports) != (args.host, ports):
        made_for = ", ".join(f"http://{previous.host}:{port}" for port in previous.ports)
        raise CommandError(
            f"the demo data in {root} was made for {made_for} (its ActivityPub ids name these addresses); "
            "start it with the same --host and ports, or add --reset to start over"
        )
    sockets = [] if args.no_serve else [_listen(args.host, port) for port in ports]
    try:
        root.mkdir(parents=True, exist_ok=True)
        all_settings = _prepare(demo.nodes, root, args.host, ports, groups)
        state = previous or DemoState(args.host, ports)
        state.save(root)
        _print_nodes(demo.nodes, all_settings)
        if args.no_serve:
            if not state.seeded:
                print(
                    "Offres, demandes et accords seront publiés au premier lancement / "
                    "offers, demands and agreements are seeded on the first run that serves."
                )
            return 0
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        asyncio.run(_serve(demo, all_settings, sockets, root, state, args.seed_timeout))
    finally:
        for sock in sockets:
            sock.close()
    print("Nœuds arrêtés / nodes stopped.")
    return 0
