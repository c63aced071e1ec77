"""The ``asasap`` command: set up, run and administer a node.

Every command exits 0 on success and non-zero with a message on standard error otherwise; listings
take ``--json`` for scripts. The commands themselves live in :mod:`node.commands`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from node.commands import backup, federation, mail, research, setup, timebank, users, worker
from node.commands.base import CommandError, Context, Handler
from node.core import db
from node.demo import command as demo
from node.settings import SettingsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asasap",
        description="Run and administer an ASASAP node (services à la personne over ActivityPub).",
        epilog="Settings come from ASASAP_* environment variables and an optional TOML file; "
        "see docs/configuration.md. `asasap COMMAND --help` describes each command.",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (default: $ASASAP_CONFIG)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # in the order --help lists them
    for command in (setup, users, demo, federation, timebank, worker, backup, research, mail):
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``asasap`` console script."""
    args = build_parser().parse_args(argv)
    context = Context(config_file=args.config)
    handler: Handler = args.handler
    try:
        return handler(args, context)
    except SettingsError as exc:
        print(f"asasap: configuration error: {exc}", file=sys.stderr)
        return 2
    except (CommandError, db.NotMigrated) as exc:
        print(f"asasap: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        context.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
