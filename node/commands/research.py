"""``asasap research ...``: export this node's research figures with their data dictionary, and collect
other nodes' signed figures into one market-versus-cooperative comparison (see docs/research.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from node.activitypub.actors.remote import InvalidActor, parse_actor
from node.activitypub.transport.fetch import Fetcher, RemoteError
from node.commands.base import CommandError, Context, SubParsers
from node.core.timeutil import isoformat, utcnow
from node.research import collect, export, figures
from node.research.document import DocumentRefused
from node.research.records import PeriodError


def register(sub: SubParsers) -> None:
    research = sub.add_parser(
        "research",
        help="research figures: export this node's, collect and compare other nodes'",
        description="Anonymised monthly figures for research (see docs/research.md).",
    )
    cmds = research.add_subparsers(dest="research_command", metavar="ACTION", required=True)

    p = cmds.add_parser(
        "export",
        help="this node's figures with their data dictionary, as CSV or JSON",
        description="Compute this node's figures for the months FROM to TO (YYYY-MM; default the twelve "
        "months up to the current one), small cells withheld. JSON holds the data dictionary; with CSV, "
        "--output DIR writes figures.csv and dictionary.csv (without it the figures go to standard output).",
    )
    p.add_argument("--from", dest="first", metavar="YYYY-MM")
    p.add_argument("--to", dest="last", metavar="YYYY-MM")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--output", metavar="DIR", help="write files in DIR instead of standard output")
    p.set_defaults(handler=cmd_export)

    p = cmds.add_parser(
        "collect",
        help="fetch other nodes' signed figures and compare market and cooperative nodes",
        description="Fetch the signed figures of each NODE_URL (found through its NodeInfo), check their "
        "signatures and their totals, and write one table comparing market and cooperative nodes with "
        "the nodes, person-months and items behind each figure and 95 %% intervals for shares. A node "
        "whose figures are refused is named on standard error and left out; the exit status is then 1.",
    )
    p.add_argument("nodes", nargs="+", metavar="NODE_URL")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--output", metavar="FILE", help="write the table to FILE instead of standard output")
    p.add_argument(
        "--save",
        action="store_true",
        help="also keep the comparison in the data folder, for this node's research pages",
    )
    p.set_defaults(handler=cmd_collect)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def cmd_export(args: argparse.Namespace, context: Context) -> int:
    try:
        months = figures.period(args.first, args.last)
    except PeriodError as exc:
        raise CommandError(f"{exc}; nothing exported") from None
    settings = context.settings
    with context.session() as session:
        computed = figures.compute(session, settings, months)
    if args.format == "json":
        text = json.dumps(export.to_json(computed), ensure_ascii=False, indent=2) + "\n"
        if args.output:
            folder = Path(args.output)
            folder.mkdir(parents=True, exist_ok=True)
            _write(folder / "figures.json", text)
        else:
            sys.stdout.write(text)
        return 0
    if args.output:
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / "figures.csv", export.figures_csv(computed))
        _write(folder / "dictionary.csv", export.dictionary_csv(computed.k))
    else:
        sys.stdout.write(export.figures_csv(computed))
    return 0


def _actor_key(document: dict[str, Any]) -> tuple[str, str]:
    uri = document.get("id")
    try:
        actor = parse_actor(document, uri if isinstance(uri, str) else "")
    except InvalidActor as exc:
        raise DocumentRefused(f"the node actor cannot be read: {exc}") from None
    if not actor.key_id or not actor.public_key_pem:
        raise DocumentRefused("the node actor has no key")
    return actor.key_id, actor.public_key_pem


async def _collect(context: Context, urls: list[str]) -> tuple[list[collect.Collected], list[str]]:
    fetcher = Fetcher.from_settings(context.settings, timeout=context.settings.fetch_timeout_seconds)
    found, refused = [], []
    try:

        async def get_json(url: str) -> dict[str, Any]:
            return (await fetcher.get_json(url)).document

        async def get_activity(url: str) -> dict[str, Any]:
            return (await fetcher.get_activity(url)).document

        for url in urls:
            try:
                found.append(await collect.collect_one(url, get_json, get_activity, _actor_key))
            except (DocumentRefused, RemoteError) as exc:
                refused.append(f"{url}: {exc}")
    finally:
        await fetcher.aclose()
    return found, refused


def cmd_collect(args: argparse.Namespace, context: Context) -> int:
    for url in args.nodes:
        if not url.startswith(("http://", "https://")):
            raise CommandError(f"{url!r} is not a node URL (http:// or https://)")
    found, refused = asyncio.run(_collect(context, args.nodes))
    for line in refused:
        print(f"asasap: refused {line}", file=sys.stderr)
    if not found:
        raise CommandError("no node's figures could be collected")
    rows = collect.compare(found)
    if args.save:
        saved = collect.save(context.settings.data_dir, found, rows, isoformat(utcnow()) or "")
        print(f"asasap: comparison saved to {saved}", file=sys.stderr)
    if args.format == "json":
        nodes = [{"url": c.url, "node": c.node, "mode": c.mode, "name": c.name} for c in found]
        text = json.dumps({"nodes": nodes, "rows": rows}, ensure_ascii=False, indent=2) + "\n"
    else:
        text = export.table_csv(collect.COLUMNS, rows)
    if args.output:
        _write(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 1 if refused else 0
