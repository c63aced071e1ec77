"""``asasap telemanagement ...``: check the tamper-evident clock log (see docs/telemanagement.md)."""

from __future__ import annotations

import argparse
import json
import sys

from node.commands.base import Context, SubParsers
from node.telemanagement import clocklog


def register(sub: SubParsers) -> None:
    tm = sub.add_parser(
        "telemanagement",
        help="telemanagement: check the clock log",
        description="Telemanagement of home visits (see docs/telemanagement.md).",
    )
    cmds = tm.add_subparsers(dest="telemanagement_command", metavar="ACTION", required=True)
    p = cmds.add_parser(
        "verify-log",
        help="recompute the clock log's hash chain and name the first broken link",
        description="Recompute the SHA-256 of every link of the clock log from the first, check that each "
        "names the previous one's hash, that none is missing at the end, and that every clock event is the "
        "one its link records. Exit status 0 when the whole chain holds, 1 with the first broken link "
        "named otherwise.",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_verify_log)


def cmd_verify_log(args: argparse.Namespace, context: Context) -> int:
    with context.session() as session:
        result = clocklog.verify(session)
    if args.json:
        document = {
            "ok": result.ok,
            "checked": result.checked,
            "broken": result.broken_seq,
            "reason": result.reason,
        }
        print(json.dumps(document))
    elif result.ok:
        print(f"clock log intact: {result.checked} links")
    else:
        print(f"asasap: clock log broken at link {result.broken_seq}: {result.reason}", file=sys.stderr)
    return 0 if result.ok else 1
