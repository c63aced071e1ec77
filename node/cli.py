"""The ``asasap`` command: set up, run and administer a node.

Every command exits 0 on success and non-zero with a message on standard error otherwise; listings
take ``--json`` for scripts. The commands themselves live in :mod:`node.commands`; a command imports
only its own module (``asasap user list`` has no use for the web application), the full list is built
for ``asasap --help`` or a name that is no command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from node.commands.base import CommandError, Context, Handler
from node.core import db
from node.settings import SettingsError

# The modules that define commands, in the order --help lists them, and the commands each defines.
MODULES: dict[str, tuple[str, ...]] = {
    "node.commands.setup": ("init", "migrate", "serve", "doctor"),
    "node.commands.users": ("user", "invite"),
    "node.demo.command": ("demo",),
    "node.commands.federation": ("federation",),
    "node.commands.timebank": ("timebank",),
    "node.commands.worker": ("worker",),
    "node.commands.backup": ("backup", "restore"),
    "node.commands.research": ("research",),
    "node.commands.telemanagement": ("telemanagement",),
    "node.commands.mail": ("mail",),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command`` alone when it is a known one."""
    parser = argparse.ArgumentParser(
        prog="asasap",
        description="Run and administer an ASASAP node (services à la personne over ActivityPub).",
        epilog="Settings come from ASASAP_* environment variables and an optional TOML file; "
        "see docs/configuration.md. `asasap COMMAND --help` describes each command.",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (default: $ASASAP_CONFIG)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _modules_for(command):
        module.register(sub)
    return parser


def _modules_for(command: str | None) -> list[ModuleType]:
    names = [name for name, commands in MODULES.items() if command in commands] or list(MODULES)
    return [importlib.import_module(name) for name in names]


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named in ``argv``: its first word that is no option (nor ``--config``'s value)."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``asasap`` console script."""
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command_in(words)).parse_args(words)
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
