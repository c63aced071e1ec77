"""What every command shares: lazily built settings and engine, output helpers, password input."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlmodel import Session

from node.core import db
from node.core.errors import DomainError
from node.settings import Settings, load_settings

Handler = Callable[[argparse.Namespace, "Context"], int]
if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    SubParsers = argparse._SubParsersAction


class CommandError(Exception):
    """A command cannot do what was asked; the message says why and what to do."""


@dataclass
class Context:
    """Settings and database of the node a command acts on, built on first use."""

    config_file: str | None = None
    _settings: Settings | None = field(default=None, init=False)
    _engine: Engine | None = field(default=None, init=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(config_file=self.config_file)
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = db.make_engine(self.settings.effective_database_url)
        return self._engine

    @contextmanager
    def session(self, *, migrated: bool = True) -> Iterator[Session]:
        """One transaction on a migrated database; domain errors become command errors."""
        if migrated:
            db.check_migrated(self.engine)
        try:
            with db.session_scope(self.engine, write=True) as session:
                yield session
        except DomainError as exc:
            details = "; ".join(f"{name}: {message}" for name, message in exc.fields.items())
            raise CommandError(exc.message + (f" ({details})" if details else "")) from None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table on standard output."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))


def read_password(args: argparse.Namespace) -> str:
    """The password given on standard input (first line) with ``--password-stdin``."""
    if not getattr(args, "password_stdin", False):
        raise CommandError("give the password on standard input with --password-stdin")
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise CommandError("no password on standard input")
    return password
